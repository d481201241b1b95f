//! BERT encoder (all-MiniLM-L6-v2 shape) with mean pooling and L2 normalisation, in integers.
//!
//! Per layer: Q/K/V projections, per-head scores from per-(token, head) int8 queries and keys
//! (`x ≈ q8 · max / 127`; the score is `attn.scale · acc · max_q · max_k / 2^12` in Q12, where
//! `attn.scale = 1 / (sqrt(head size) · 127²)`),
//! 16-bit softmax, context in i64, output projection, residual, layer norm, GELU feed-forward,
//! residual, layer norm. Every op's output goes to the [`Trace`].

use alloc::{format, vec, vec::Vec};

use assay_step::{
    attention::{context_element, context_term, score},
    op::residual,
};

use crate::{
    Error, Result,
    fixed::{Multiplier, quantize_max},
    gemm::dot_i8,
    kernels::Kernels,
    linear::Linear,
    model::ModelFile,
    nonlin::{
        LUT_LEN, layer_norm, lut_act, normalize_element, normalize_inv, pool_element, softmax_u16,
    },
    tokenizer::WordPiece,
    trace::{Op, Trace},
};

/// Architecture tag of BERT models in the config (`arch`).
pub const ARCH_BERT: u64 = assay_step::op::ARCH_BERT;

/// Shape of a BERT model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BertConfig {
    /// Vocabulary size.
    pub vocab: usize,
    /// Hidden size.
    pub hidden: usize,
    /// Number of encoder layers.
    pub layers: usize,
    /// Number of attention heads.
    pub heads: usize,
    /// Feed-forward size.
    pub ffn: usize,
    /// Position embeddings.
    pub max_pos: usize,
    /// Longest input in tokens (including `[CLS]` and `[SEP]`).
    pub max_seq: usize,
    /// Layer-norm epsilon in Q24.
    pub eps_q24: u64,
}

#[derive(Debug)]
struct Layer {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    ln1: (Vec<i32>, Vec<i32>),
    up: Linear,
    down: Linear,
    ln2: (Vec<i32>, Vec<i32>),
}

#[derive(Debug)]
struct Table {
    w: Vec<i8>,
    m: Vec<Multiplier>,
}

/// A loaded BERT model.
#[derive(Debug)]
pub struct Bert {
    /// Shape.
    pub cfg: BertConfig,
    /// Tokenizer.
    pub tokenizer: WordPiece,
    word: Table,
    pos: Table,
    typ: Table,
    ln: (Vec<i32>, Vec<i32>),
    layers: Vec<Layer>,
    attn_scale: Multiplier,
    exp_lut: Vec<i32>,
    gelu_lut: Vec<i32>,
}

fn table(f: &ModelFile<'_>, name: &str, rows: usize, h: usize) -> Result<Table> {
    Ok(Table {
        w: f.i8s(&format!("{name}.w"), &[rows, h])?,
        m: f.mults(&format!("{name}.m"), rows)?,
    })
}

fn norm(f: &ModelFile<'_>, name: &str, h: usize) -> Result<(Vec<i32>, Vec<i32>)> {
    Ok((f.i32s(&format!("{name}.g"), &[h])?, f.i32s(&format!("{name}.b"), &[h])?))
}

impl Bert {
    /// Loads a BERT model from a parsed blob.
    ///
    /// # Errors
    /// [`Error::Format`] when the blob is not a BERT model or a tensor is missing or misshapen.
    pub fn load(f: &ModelFile<'_>) -> Result<Self> {
        if f.cfg("arch")? != ARCH_BERT {
            return Err(Error::Format("not a BERT model".into()));
        }
        let cfg = BertConfig {
            vocab: f.cfg_usize("vocab")?,
            hidden: f.cfg_usize("hidden")?,
            layers: f.cfg_usize("layers")?,
            heads: f.cfg_usize("heads")?,
            ffn: f.cfg_usize("ffn")?,
            max_pos: f.cfg_usize("max_pos")?,
            max_seq: f.cfg_usize("max_seq")?,
            eps_q24: f.cfg("eps_q24")?,
        };
        let (h, ff) = (cfg.hidden, cfg.ffn);
        if cfg.heads == 0 || h % cfg.heads != 0 || cfg.max_seq > cfg.max_pos {
            return Err(Error::Format("inconsistent BERT config".into()));
        }
        let layers = (0..cfg.layers)
            .map(|l| {
                let p = |s: &str| format!("l{l}.{s}");
                Ok(Layer {
                    q: Linear::load(f, &p("q"), h, h)?,
                    k: Linear::load(f, &p("k"), h, h)?,
                    v: Linear::load(f, &p("v"), h, h)?,
                    o: Linear::load(f, &p("o"), h, h)?,
                    ln1: norm(f, &p("ln1"), h)?,
                    up: Linear::load(f, &p("up"), ff, h)?,
                    down: Linear::load(f, &p("down"), h, ff)?,
                    ln2: norm(f, &p("ln2"), h)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            tokenizer: WordPiece::from_vocab(f.bytes("tokenizer.vocab")?)?,
            word: table(f, "emb.word", cfg.vocab, h)?,
            pos: table(f, "emb.pos", cfg.max_pos, h)?,
            typ: table(f, "emb.type", 1, h)?,
            ln: norm(f, "emb.ln", h)?,
            layers,
            attn_scale: f.mults("attn.scale", 1)?[0],
            exp_lut: f.i32s("lut.exp", &[LUT_LEN])?,
            gelu_lut: f.i32s("lut.gelu", &[LUT_LEN])?,
            cfg,
        })
    }

    /// Tokenizes `text` for this model.
    pub fn tokenize(&self, text: &str) -> Vec<u32> {
        self.tokenizer.encode(text, self.cfg.max_seq)
    }

    /// Runs the encoder and returns the mean-pooled, L2-normalised embedding in Q15.
    ///
    /// # Errors
    /// [`Error::Input`] for an empty input, too many tokens or an id outside the vocabulary.
    pub fn embed<K: Kernels + ?Sized>(
        &self,
        kern: &K,
        tokens: &[u32],
        trace: &mut Trace,
    ) -> Result<Vec<i16>> {
        let (t, h) = (tokens.len(), self.cfg.hidden);
        if t == 0 || t > self.cfg.max_seq || tokens.iter().any(|&id| id as usize >= self.cfg.vocab)
        {
            return Err(Error::Input(format!(
                "{t} tokens, max {}, ids below {}",
                self.cfg.max_seq, self.cfg.vocab
            )));
        }
        trace.op(Op::Tokens, &[1, t as u32], tokens);
        let mut x = vec![0i32; t * h];
        for (i, &id) in tokens.iter().enumerate() {
            let row = &mut x[i * h..(i + 1) * h];
            for (j, v) in row.iter_mut().enumerate() {
                let deq = |tb: &Table, r: usize| tb.m[r].apply(i32::from(tb.w[r * h + j]), 0);
                *v = deq(&self.word, id as usize)
                    .saturating_add(deq(&self.pos, i))
                    .saturating_add(deq(&self.typ, 0));
            }
        }
        trace.op(Op::Embed, &[t as u32, h as u32], &x);
        x = self.norm_rows(&x, &self.ln, trace);
        trace.end_layer();
        for layer in &self.layers {
            x = self.layer(kern, layer, x, t, trace);
            trace.end_layer();
        }
        let out = self.pool(&x, t, trace);
        trace.end_layer();
        Ok(out)
    }

    fn norm_rows(&self, x: &[i32], (g, b): &(Vec<i32>, Vec<i32>), trace: &mut Trace) -> Vec<i32> {
        let h = self.cfg.hidden;
        let mut out = vec![0i32; x.len()];
        for (xr, or) in x.chunks_exact(h).zip(out.chunks_exact_mut(h)) {
            layer_norm(xr, g, b, self.cfg.eps_q24, or);
        }
        trace.op(Op::LayerNorm, &[(x.len() / h) as u32, h as u32], &out);
        out
    }

    fn layer<K: Kernels + ?Sized>(
        &self,
        kern: &K,
        l: &Layer,
        x: Vec<i32>,
        t: usize,
        trace: &mut Trace,
    ) -> Vec<i32> {
        let h = self.cfg.hidden;
        let dims = [t as u32, h as u32];
        let [q, k, v] = Linear::forward_all(kern, [&l.q, &l.k, &l.v], &x, t);
        trace.op(Op::Query, &dims, &q);
        trace.op(Op::Key, &dims, &k);
        trace.op(Op::Value, &dims, &v);
        let ctx = self.attention(&q, &k, &v, t, trace);
        let o = l.o.forward(kern, &ctx, t);
        trace.op(Op::AttnOut, &dims, &o);
        let r: Vec<i32> = x.iter().zip(&o).map(|(a, b)| residual(*a, *b)).collect();
        trace.op(Op::Residual, &dims, &r);
        let x = self.norm_rows(&r, &l.ln1, trace);
        let mut up = l.up.forward(kern, &x, t);
        trace.op(Op::FfnUp, &[t as u32, l.up.n as u32], &up);
        up.iter_mut().for_each(|v| *v = lut_act(&self.gelu_lut, *v));
        trace.op(Op::Activation, &[t as u32, l.up.n as u32], &up);
        let down = l.down.forward(kern, &up, t);
        trace.op(Op::FfnDown, &dims, &down);
        let r: Vec<i32> = x.iter().zip(&down).map(|(a, b)| residual(*a, *b)).collect();
        trace.op(Op::Residual, &dims, &r);
        self.norm_rows(&r, &l.ln2, trace)
    }

    fn attention(&self, q: &[i32], k: &[i32], v: &[i32], t: usize, trace: &mut Trace) -> Vec<i32> {
        let (h, nh) = (self.cfg.hidden, self.cfg.heads);
        let dh = h / nh;
        let quant = |x: &[i32]| {
            let mut q8 = vec![0i8; t * h];
            let mut mx = vec![0u32; t * nh];
            for i in 0..t {
                for hd in 0..nh {
                    let s = i * h + hd * dh;
                    mx[i * nh + hd] = quantize_max(&x[s..s + dh], &mut q8[s..s + dh]);
                }
            }
            (q8, mx)
        };
        let (q8, qm) = quant(q);
        let (k8, km) = quant(k);
        let mut scores = vec![0i32; nh * t * t];
        for hd in 0..nh {
            for i in 0..t {
                for j in 0..t {
                    let (a, b) = (i * h + hd * dh, j * h + hd * dh);
                    let dot = dot_i8(&q8[a..a + dh], &k8[b..b + dh]);
                    let (q_max, k_max) = (qm[i * nh + hd], km[j * nh + hd]);
                    scores[(hd * t + i) * t + j] = score(dot, q_max, k_max, self.attn_scale);
                }
            }
        }
        let sdims = [nh as u32, t as u32, t as u32];
        trace.op(Op::Scores, &sdims, &scores);
        let mut probs = vec![0u16; nh * t * t];
        for (s, p) in scores.chunks_exact(t).zip(probs.chunks_exact_mut(t)) {
            softmax_u16(s, &self.exp_lut, p);
        }
        trace.op(Op::Softmax, &sdims, &probs);
        let mut ctx = vec![0i32; t * h];
        for hd in 0..nh {
            for i in 0..t {
                let p = &probs[(hd * t + i) * t..(hd * t + i + 1) * t];
                for d in 0..dh {
                    let col = hd * dh + d;
                    let acc: i64 = (0..t).map(|j| context_term(p[j], v[j * h + col])).sum();
                    ctx[i * h + col] = context_element(acc);
                }
            }
        }
        trace.op(Op::Context, &[t as u32, h as u32], &ctx);
        ctx
    }

    fn pool(&self, x: &[i32], t: usize, trace: &mut Trace) -> Vec<i16> {
        let h = self.cfg.hidden;
        let mean: Vec<i32> = (0..h)
            .map(|j| pool_element((0..t).map(|i| i64::from(x[i * h + j])).sum(), t as i64))
            .collect();
        trace.op(Op::Pool, &[1, h as u32], &mean);
        let inv = normalize_inv(&mean);
        let out: Vec<i16> = mean.iter().map(|&v| normalize_element(v, inv)).collect();
        trace.op(Op::Normalize, &[1, h as u32], &out);
        out
    }
}
