//! Llama weights in float (from GGUF, dequantised, or seeded at random) and their conversion to
//! the engine's blob.

use assay_engine::{
    bpe::encode_strings, linear::BLOCK, llama::ARCH_LLAMA, model::ModelWriter, nonlin::LUT_LEN,
};

use crate::{
    Error, Result,
    gguf::Gguf,
    quant::{Q12, act_lut, exp_lut, multiplier, q12s, quantize_blocked, quantize_rows, silu},
};

/// Longest sequence the converted model supports (rows of the rotary tables).
pub const MAX_POS: usize = 2048;

/// Llama hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LlamaShape {
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
    /// RMS-norm epsilon.
    pub eps: f64,
    /// Rotary base.
    pub rope_base: f64,
    /// End-of-turn token id.
    pub eos: u32,
}

impl LlamaShape {
    /// Head size.
    pub fn head_dim(&self) -> usize {
        self.hidden / self.heads
    }
}

/// Float weights of one decoder layer (`[out, in]` row-major matrices).
#[derive(Debug, Clone)]
pub struct LlamaLayer {
    /// Attention RMS-norm gain.
    pub attn_norm: Vec<f32>,
    /// Query projection.
    pub q: Vec<f32>,
    /// Key projection.
    pub k: Vec<f32>,
    /// Value projection.
    pub v: Vec<f32>,
    /// Output projection.
    pub o: Vec<f32>,
    /// Feed-forward RMS-norm gain.
    pub ffn_norm: Vec<f32>,
    /// Gate projection.
    pub gate: Vec<f32>,
    /// Up projection.
    pub up: Vec<f32>,
    /// Down projection.
    pub down: Vec<f32>,
}

/// Float weights of a llama model (tied embeddings) and its tokenizer.
#[derive(Debug, Clone)]
pub struct LlamaWeights {
    /// Shape.
    pub shape: LlamaShape,
    /// Token strings (byte-level BPE).
    pub tokens: Vec<String>,
    /// Merges, `"a b"` each, in rank order.
    pub merges: Vec<String>,
    /// Token embeddings, also the output head, `[vocab, hidden]`.
    pub emb: Vec<f32>,
    /// Layers.
    pub layers: Vec<LlamaLayer>,
    /// Final RMS-norm gain.
    pub final_norm: Vec<f32>,
}

impl LlamaWeights {
    /// Reads a llama GGUF file (SmolLM2's layout: tied embeddings, GGUF rotary order).
    ///
    /// # Errors
    /// [`Error::Source`] for missing metadata or tensors.
    pub fn from_gguf(g: &Gguf) -> Result<Self> {
        let arch = g.meta.get("general.architecture");
        if arch != Some(&crate::gguf::Value::Str("llama".into())) {
            return Err(Error::Source("GGUF architecture is not llama".into()));
        }
        let n = |k: &str| g.int(&format!("llama.{k}")).map(|v| v as usize);
        let tokens = g.strings("tokenizer.ggml.tokens")?;
        let shape = LlamaShape {
            vocab: tokens.len(),
            hidden: n("embedding_length")?,
            layers: n("block_count")?,
            heads: n("attention.head_count")?,
            kv_heads: n("attention.head_count_kv")?,
            ffn: n("feed_forward_length")?,
            eps: g.float("llama.attention.layer_norm_rms_epsilon")?,
            rope_base: g.float("llama.rope.freq_base").unwrap_or(10_000.0),
            eos: g.int("tokenizer.ggml.eos_token_id")? as u32,
        };
        let get = |name: &str, len: usize| -> Result<Vec<f32>> {
            let (v, _) = g.f32(name)?;
            if v.len() != len {
                return Err(Error::Source(format!("{name}: {} values, expected {len}", v.len())));
            }
            Ok(v)
        };
        let (h, f) = (shape.hidden, shape.ffn);
        let kvd = shape.head_dim() * shape.kv_heads;
        let layers = (0..shape.layers)
            .map(|l| {
                let p = |s: &str| format!("blk.{l}.{s}.weight");
                Ok(LlamaLayer {
                    attn_norm: get(&p("attn_norm"), h)?,
                    q: get(&p("attn_q"), h * h)?,
                    k: get(&p("attn_k"), kvd * h)?,
                    v: get(&p("attn_v"), kvd * h)?,
                    o: get(&p("attn_output"), h * h)?,
                    ffn_norm: get(&p("ffn_norm"), h)?,
                    gate: get(&p("ffn_gate"), f * h)?,
                    up: get(&p("ffn_up"), f * h)?,
                    down: get(&p("ffn_down"), h * f)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if g.contains("output.weight") {
            return Err(Error::Source("untied output heads are not supported yet".into()));
        }
        Ok(Self {
            shape,
            tokens,
            merges: g.strings("tokenizer.ggml.merges")?,
            emb: get("token_embd.weight", shape.vocab * h)?,
            layers,
            final_norm: get("output_norm.weight", h)?,
        })
    }

    /// Converts to the engine's model blob.
    pub fn to_blob(&self) -> Vec<u8> {
        let s = self.shape;
        let (h, f, hd) = (s.hidden, s.ffn, s.head_dim());
        let kvd = hd * s.kv_heads;
        let mut w = ModelWriter::new();
        w.cfg("arch", ARCH_LLAMA)
            .cfg("vocab", s.vocab as u64)
            .cfg("hidden", h as u64)
            .cfg("layers", s.layers as u64)
            .cfg("heads", s.heads as u64)
            .cfg("kv_heads", s.kv_heads as u64)
            .cfg("ffn", f as u64)
            .cfg("max_pos", MAX_POS as u64)
            .cfg("eps_q24", ((s.eps * 16_777_216.0).round() as u64).max(1))
            .cfg("eos", u64::from(s.eos));
        w.bytes("tokenizer.tokens", &encode_strings(&self.tokens));
        w.bytes("tokenizer.merges", &encode_strings(&self.merges));
        let (q, m) = quantize_rows(&self.emb, s.vocab, h, Q12);
        let (_, head) = quantize_rows(&self.emb, s.vocab, h, 1.0);
        w.i8s("emb.w", &[s.vocab as u32, h as u32], &q).mults("emb.m", &m).mults("head.m", &head);
        let lin = |w: &mut ModelWriter, name: &str, x: &[f32], n: usize, k: usize| {
            let (q, m, r) = quantize_blocked(x, n, k, BLOCK, 1.0);
            w.i8s(&format!("{name}.w"), &[n as u32, k as u32], &q)
                .mults(&format!("{name}.m"), &m)
                .i32s(&format!("{name}.r"), &[n as u32, (k / BLOCK) as u32], &r)
                .i32s(&format!("{name}.b"), &[n as u32], &vec![0; n]);
        };
        for (i, l) in self.layers.iter().enumerate() {
            w.i32s(&format!("l{i}.attn_norm"), &[h as u32], &q12s(&l.attn_norm));
            lin(&mut w, &format!("l{i}.q"), &l.q, h, h);
            lin(&mut w, &format!("l{i}.k"), &l.k, kvd, h);
            lin(&mut w, &format!("l{i}.v"), &l.v, kvd, h);
            lin(&mut w, &format!("l{i}.o"), &l.o, h, h);
            w.i32s(&format!("l{i}.ffn_norm"), &[h as u32], &q12s(&l.ffn_norm));
            lin(&mut w, &format!("l{i}.gate"), &l.gate, f, h);
            lin(&mut w, &format!("l{i}.up"), &l.up, f, h);
            lin(&mut w, &format!("l{i}.down"), &l.down, h, f);
        }
        w.i32s("final_norm", &[h as u32], &q12s(&self.final_norm));
        let (cos, sin) = rope_tables(hd, s.rope_base);
        w.i32s("rope.cos", &[MAX_POS as u32, (hd / 2) as u32], &cos);
        w.i32s("rope.sin", &[MAX_POS as u32, (hd / 2) as u32], &sin);
        w.mults("attn.scale", &[multiplier(1.0 / ((hd as f64).sqrt() * 16129.0))]);
        w.i32s("lut.exp", &[LUT_LEN as u32], &exp_lut());
        w.i32s("lut.silu", &[LUT_LEN as u32], &act_lut(silu));
        w.finish()
    }
}

/// Rotary angles `pos · base^(−2i/hd)` as Q14 cosines and sines, `[MAX_POS, hd/2]`.
pub fn rope_tables(hd: usize, base: f64) -> (Vec<i32>, Vec<i32>) {
    let mut cos = Vec::with_capacity(MAX_POS * hd / 2);
    let mut sin = Vec::with_capacity(MAX_POS * hd / 2);
    for pos in 0..MAX_POS {
        for i in 0..hd / 2 {
            let a = pos as f64 * base.powf(-2.0 * i as f64 / hd as f64);
            cos.push((a.cos() * 16384.0).round() as i32);
            sin.push((a.sin() * 16384.0).round() as i32);
        }
    }
    (cos, sin)
}
