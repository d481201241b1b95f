//! Llama decoder (SmolLM2 shape) in integers: RMS norm, Q/K/V projections, rotary embedding from
//! Q14 cos/sin tables (adjacent pairs, as GGUF stores the weights), grouped-query causal attention
//! over an int8-key KV cache, SiLU-gated feed-forward, tied output head, greedy or seeded
//! sampling. Each forward step (the prompt, then every generated token) is one trace step that
//! starts with the step's input tokens and ends with the chosen token; the key and value rows
//! written to the cache are trace ops.

use alloc::{format, vec, vec::Vec};

use assay_step::{
    attention::{context_element, context_term, gated, rope_pair, score},
    op::residual,
};

use crate::{
    Error, Result,
    bpe::Bpe,
    chat::{Message, chat_tokens},
    fixed::{Multiplier, quantize_max},
    gemm::dot_i8,
    kernels::Kernels,
    linear::Linear,
    model::ModelFile,
    nonlin::{LUT_LEN, lut_act, rms_norm, softmax_u16},
    prng::{Prng, argmax, sample},
    trace::{Op, Trace},
};

/// Architecture tag of llama models in the config (`arch`).
pub const ARCH_LLAMA: u64 = assay_step::op::ARCH_LLAMA;

/// Shape of a llama model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LlamaConfig {
    /// Vocabulary size.
    pub vocab: usize,
    /// Hidden size.
    pub hidden: usize,
    /// Decoder layers.
    pub layers: usize,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads.
    pub kv_heads: usize,
    /// Feed-forward size.
    pub ffn: usize,
    /// Longest sequence (rows of the rotary tables).
    pub max_pos: usize,
    /// RMS-norm epsilon in Q24.
    pub eps_q24: u64,
    /// End-of-turn token.
    pub eos: u32,
}

#[derive(Debug)]
struct Layer {
    attn_norm: Vec<i32>,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    ffn_norm: Vec<i32>,
    gate: Linear,
    up: Linear,
    down: Linear,
}

/// A loaded llama model.
#[derive(Debug)]
pub struct Llama {
    /// Shape.
    pub cfg: LlamaConfig,
    /// Tokenizer.
    pub tokenizer: Bpe,
    emb: Vec<i8>,
    emb_m: Vec<Multiplier>,
    head_m: Vec<Multiplier>,
    layers: Vec<Layer>,
    final_norm: Vec<i32>,
    cos: Vec<i32>,
    sin: Vec<i32>,
    attn_scale: Multiplier,
    exp_lut: Vec<i32>,
    silu_lut: Vec<i32>,
}

/// Per-layer KV cache: keys as int8 with one maximum per (position, kv head), values in Q12.
#[derive(Debug, Default, Clone)]
struct Cache {
    k8: Vec<i8>,
    kmax: Vec<u32>,
    v: Vec<i32>,
}

impl Llama {
    /// Loads a llama model from a parsed blob.
    ///
    /// # Errors
    /// [`Error::Format`] when the blob is not a llama model or a tensor is missing or misshapen.
    pub fn load(f: &ModelFile<'_>) -> Result<Self> {
        if f.cfg("arch")? != ARCH_LLAMA {
            return Err(Error::Format("not a llama model".into()));
        }
        let cfg = LlamaConfig {
            vocab: f.cfg_usize("vocab")?,
            hidden: f.cfg_usize("hidden")?,
            layers: f.cfg_usize("layers")?,
            heads: f.cfg_usize("heads")?,
            kv_heads: f.cfg_usize("kv_heads")?,
            ffn: f.cfg_usize("ffn")?,
            max_pos: f.cfg_usize("max_pos")?,
            eps_q24: f.cfg("eps_q24")?,
            eos: f.cfg("eos")? as u32,
        };
        let (h, ff) = (cfg.hidden, cfg.ffn);
        let ok = cfg.heads > 0
            && cfg.kv_heads > 0
            && h % cfg.heads == 0
            && cfg.heads.is_multiple_of(cfg.kv_heads);
        if !ok || !(h / cfg.heads).is_multiple_of(2) {
            return Err(Error::Format("inconsistent llama config".into()));
        }
        let hd = h / cfg.heads;
        let kvd = hd * cfg.kv_heads;
        let layers = (0..cfg.layers)
            .map(|l| {
                let p = |s: &str| format!("l{l}.{s}");
                Ok(Layer {
                    attn_norm: f.i32s(&p("attn_norm"), &[h])?,
                    q: Linear::load(f, &p("q"), h, h)?,
                    k: Linear::load(f, &p("k"), kvd, h)?,
                    v: Linear::load(f, &p("v"), kvd, h)?,
                    o: Linear::load(f, &p("o"), h, h)?,
                    ffn_norm: f.i32s(&p("ffn_norm"), &[h])?,
                    gate: Linear::load(f, &p("gate"), ff, h)?,
                    up: Linear::load(f, &p("up"), ff, h)?,
                    down: Linear::load(f, &p("down"), h, ff)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            tokenizer: Bpe::from_bytes(f.bytes("tokenizer.tokens")?, f.bytes("tokenizer.merges")?)?,
            emb: f.i8s("emb.w", &[cfg.vocab, h])?,
            emb_m: f.mults("emb.m", cfg.vocab)?,
            head_m: f.mults("head.m", cfg.vocab)?,
            layers,
            final_norm: f.i32s("final_norm", &[h])?,
            cos: f.i32s("rope.cos", &[cfg.max_pos, hd / 2])?,
            sin: f.i32s("rope.sin", &[cfg.max_pos, hd / 2])?,
            attn_scale: f.mults("attn.scale", 1)?[0],
            exp_lut: f.i32s("lut.exp", &[LUT_LEN])?,
            silu_lut: f.i32s("lut.silu", &[LUT_LEN])?,
            cfg,
        })
    }

    /// Token ids of a conversation in the chat template, ending with the assistant's turn.
    ///
    /// # Errors
    /// As [`crate::chat::chat_tokens`].
    pub fn prompt_tokens(&self, messages: &[Message]) -> Result<Vec<u32>> {
        chat_tokens(&self.tokenizer, messages)
    }

    /// Generates up to `max_tokens` tokens after `prompt` (greedy when `seed` is 0), stopping
    /// after the end-of-turn token (which is not returned), and calls `on_token` with each
    /// generated token as soon as it is chosen (in order, never with the end-of-turn token). The
    /// hook only observes: the tokens and the trace do not depend on it.
    ///
    /// # Errors
    /// [`Error::Input`] for an empty prompt, an id outside the vocabulary, or a sequence longer
    /// than the rotary tables.
    pub fn generate<K: Kernels + ?Sized>(
        &self,
        kern: &K,
        prompt: &[u32],
        max_tokens: u32,
        seed: u64,
        trace: &mut Trace,
        on_token: &mut dyn FnMut(u32),
    ) -> Result<Vec<u32>> {
        if prompt.is_empty() || prompt.iter().any(|&t| t as usize >= self.cfg.vocab) {
            return Err(Error::Input("prompt is empty or has ids outside the vocabulary".into()));
        }
        if prompt.len() + max_tokens as usize > self.cfg.max_pos {
            return Err(Error::Input(format!(
                "{} + {max_tokens} tokens exceed {}",
                prompt.len(),
                self.cfg.max_pos
            )));
        }
        let mut caches = vec![Cache::default(); self.cfg.layers];
        let mut rng = Prng::new(seed);
        let mut out = Vec::new();
        let mut step: Vec<u32> = prompt.to_vec();
        while out.len() < max_tokens as usize {
            let logits = self.forward(kern, &step, &mut caches, trace);
            let next = if seed == 0 {
                argmax(&logits)
            } else {
                let mut p = vec![0u16; logits.len()];
                softmax_u16(&logits, &self.exp_lut, &mut p);
                trace.op(Op::Softmax, &[1, p.len() as u32], &p);
                sample(&p, &mut rng)
            };
            let next = next.unwrap_or(0) as u32;
            trace.op(Op::Tokens, &[1, 1], &[next]);
            trace.end_step();
            if next == self.cfg.eos {
                break;
            }
            on_token(next);
            out.push(next);
            step = vec![next];
        }
        Ok(out)
    }

    /// Greedy next token after every prefix of `tokens` (teacher forcing, one token per step),
    /// for accuracy measurements.
    ///
    /// # Errors
    /// [`Error::Input`] for ids outside the vocabulary or a sequence longer than the rotary tables.
    pub fn next_tokens<K: Kernels + ?Sized>(&self, kern: &K, tokens: &[u32]) -> Result<Vec<u32>> {
        if tokens.len() > self.cfg.max_pos || tokens.iter().any(|&t| t as usize >= self.cfg.vocab) {
            return Err(Error::Input("sequence too long or ids outside the vocabulary".into()));
        }
        let mut caches = vec![Cache::default(); self.cfg.layers];
        let mut trace = Trace::with_batch_hasher(kern.batch_hasher());
        Ok(tokens
            .iter()
            .map(|&t| {
                argmax(&self.forward(kern, &[t], &mut caches, &mut trace)).unwrap_or(0) as u32
            })
            .collect())
    }

    /// One forward step over `tokens` at the next positions; returns the Q12 logits of the last.
    fn forward<K: Kernels + ?Sized>(
        &self,
        kern: &K,
        tokens: &[u32],
        caches: &mut [Cache],
        trace: &mut Trace,
    ) -> Vec<i32> {
        let (t, h) = (tokens.len(), self.cfg.hidden);
        trace.op(Op::Tokens, &[1, t as u32], tokens);
        let mut x = vec![0i32; t * h];
        for (i, &id) in tokens.iter().enumerate() {
            let row = &self.emb[id as usize * h..(id as usize + 1) * h];
            for (v, &w) in x[i * h..(i + 1) * h].iter_mut().zip(row) {
                *v = self.emb_m[id as usize].apply(i32::from(w), 0);
            }
        }
        trace.op(Op::Embed, &[t as u32, h as u32], &x);
        trace.end_layer();
        for (layer, cache) in self.layers.iter().zip(caches.iter_mut()) {
            x = self.layer(kern, layer, cache, x, t, trace);
            trace.end_layer();
        }
        let last = &x[(t - 1) * h..];
        let mut n = vec![0i32; h];
        rms_norm(last, &self.final_norm, self.cfg.eps_q24, &mut n);
        trace.op(Op::RmsNorm, &[1, h as u32], &n);
        let mut q = vec![0i8; h];
        let max = quantize_max(&n, &mut q);
        let mut logits = vec![0i32; self.cfg.vocab];
        kern.gemm_i8(&q, 1, h, &self.emb, self.cfg.vocab, &mut logits);
        logits.iter_mut().zip(&self.head_m).for_each(|(l, m)| *l = m.apply_scaled(*l, max));
        trace.op(Op::Logits, &[1, self.cfg.vocab as u32], &logits);
        logits
    }

    fn norm_rows(&self, x: &[i32], g: &[i32], trace: &mut Trace) -> Vec<i32> {
        let h = self.cfg.hidden;
        let mut out = vec![0i32; x.len()];
        for (xr, or) in x.chunks_exact(h).zip(out.chunks_exact_mut(h)) {
            rms_norm(xr, g, self.cfg.eps_q24, or);
        }
        trace.op(Op::RmsNorm, &[(x.len() / h) as u32, h as u32], &out);
        out
    }

    fn rope(&self, x: &mut [i32], width: usize, pos0: usize) {
        let hd = self.cfg.hidden / self.cfg.heads;
        for (i, row) in x.chunks_exact_mut(width).enumerate() {
            let (c, s) = (&self.cos[(pos0 + i) * hd / 2..], &self.sin[(pos0 + i) * hd / 2..]);
            for head in row.chunks_exact_mut(hd) {
                for (p, pair) in head.chunks_exact_mut(2).enumerate() {
                    (pair[0], pair[1]) = rope_pair(pair[0], pair[1], c[p], s[p]);
                }
            }
        }
    }

    fn layer<K: Kernels + ?Sized>(
        &self,
        kern: &K,
        l: &Layer,
        cache: &mut Cache,
        x: Vec<i32>,
        t: usize,
        trace: &mut Trace,
    ) -> Vec<i32> {
        let (h, nh, nkv) = (self.cfg.hidden, self.cfg.heads, self.cfg.kv_heads);
        let hd = h / nh;
        let kvd = hd * nkv;
        let pos0 = cache.v.len() / kvd;
        let n = self.norm_rows(&x, &l.attn_norm, trace);
        let [mut q, mut k, v] = Linear::forward_all(kern, [&l.q, &l.k, &l.v], &n, t);
        self.rope(&mut q, h, pos0);
        self.rope(&mut k, kvd, pos0);
        trace.op(Op::Query, &[t as u32, h as u32], &q);
        trace.op(Op::Key, &[t as u32, kvd as u32], &k);
        trace.op(Op::Value, &[t as u32, kvd as u32], &v);
        for row in k.chunks_exact(kvd) {
            for head in row.chunks_exact(hd) {
                let mut k8 = vec![0i8; hd];
                cache.kmax.push(quantize_max(head, &mut k8));
                cache.k8.extend_from_slice(&k8);
            }
        }
        cache.v.extend_from_slice(&v);
        // Scores and probabilities are [t, heads, pos0 + t]: row (i, head) holds the pos0 + i + 1
        // positions query i attends to, then zeros (the causal mask).
        let width = pos0 + t;
        let mut scores = vec![0i32; t * nh * width];
        let mut probs = vec![0u16; t * nh * width];
        let mut ctx = vec![0i32; t * h];
        let group = nh / nkv;
        for i in 0..t {
            let len = pos0 + i + 1;
            for hq in 0..nh {
                let kvh = hq / group;
                let mut q8 = vec![0i8; hd];
                let qmax = quantize_max(&q[i * h + hq * hd..i * h + (hq + 1) * hd], &mut q8);
                let row = (i * nh + hq) * width;
                let s = &mut scores[row..row + len];
                for (j, v) in s.iter_mut().enumerate() {
                    let at = (j * nkv + kvh) * hd;
                    let dot = dot_i8(&q8, &cache.k8[at..at + hd]);
                    *v = score(dot, qmax, cache.kmax[j * nkv + kvh], self.attn_scale);
                }
                let p = &mut probs[row..row + len];
                softmax_u16(s, &self.exp_lut, p);
                for d in 0..hd {
                    let col = kvh * hd + d;
                    let acc: i64 =
                        (0..len).map(|j| context_term(p[j], cache.v[j * kvd + col])).sum();
                    ctx[i * h + hq * hd + d] = context_element(acc);
                }
            }
        }
        let sdims = [t as u32, nh as u32, width as u32];
        trace.op(Op::Scores, &sdims, &scores);
        trace.op(Op::Softmax, &sdims, &probs);
        trace.op(Op::Context, &[t as u32, h as u32], &ctx);
        let o = l.o.forward(kern, &ctx, t);
        trace.op(Op::AttnOut, &[t as u32, h as u32], &o);
        let r: Vec<i32> = x.iter().zip(&o).map(|(a, b)| residual(*a, *b)).collect();
        trace.op(Op::Residual, &[t as u32, h as u32], &r);
        let n = self.norm_rows(&r, &l.ffn_norm, trace);
        let [g, u] = Linear::forward_all(kern, [&l.gate, &l.up], &n, t);
        trace.op(Op::FfnGate, &[t as u32, l.gate.n as u32], &g);
        trace.op(Op::FfnUp, &[t as u32, l.up.n as u32], &u);
        let a: Vec<i32> =
            g.iter().zip(&u).map(|(&g, &u)| gated(lut_act(&self.silu_lut, g), u)).collect();
        trace.op(Op::Activation, &[t as u32, l.up.n as u32], &a);
        let d = l.down.forward(kern, &a, t);
        trace.op(Op::FfnDown, &[t as u32, h as u32], &d);
        let out: Vec<i32> = r.iter().zip(&d).map(|(a, b)| residual(*a, *b)).collect();
        trace.op(Op::Residual, &[t as u32, h as u32], &out);
        out
    }
}
