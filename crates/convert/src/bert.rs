//! BERT weights in float (from safetensors or seeded at random) and their conversion to the
//! engine's blob.

use assay_engine::{bert::ARCH_BERT, linear::BLOCK, model::ModelWriter, nonlin::LUT_LEN};

use crate::{
    Error, Result,
    quant::{Q12, act_lut, exp_lut, gelu, multiplier, q12s, quantize_blocked, quantize_rows},
    safetensors::SafeTensors,
};

/// BERT hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BertShape {
    /// Vocabulary size.
    pub vocab: usize,
    /// Hidden size.
    pub hidden: usize,
    /// Encoder layers.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Feed-forward size.
    pub ffn: usize,
    /// Position embeddings.
    pub max_pos: usize,
    /// Longest input in tokens.
    pub max_seq: usize,
    /// Layer-norm epsilon.
    pub eps: f64,
}

/// A float linear layer, `w[n, k]` row-major.
#[derive(Debug, Clone)]
pub struct FLinear {
    /// Weights.
    pub w: Vec<f32>,
    /// Bias.
    pub b: Vec<f32>,
}

/// Float weights of one encoder layer.
#[derive(Debug, Clone)]
pub struct FLayer {
    /// Query, key, value and attention-output projections.
    pub q: FLinear,
    /// Key projection.
    pub k: FLinear,
    /// Value projection.
    pub v: FLinear,
    /// Attention output projection.
    pub o: FLinear,
    /// Post-attention layer norm (gamma, beta).
    pub ln1: (Vec<f32>, Vec<f32>),
    /// Feed-forward up projection.
    pub up: FLinear,
    /// Feed-forward down projection.
    pub down: FLinear,
    /// Post-feed-forward layer norm.
    pub ln2: (Vec<f32>, Vec<f32>),
}

/// Float weights of a BERT encoder plus its vocabulary.
#[derive(Debug, Clone)]
pub struct BertWeights {
    /// Shape.
    pub shape: BertShape,
    /// `vocab.txt` contents.
    pub vocab_txt: Vec<u8>,
    /// Word embeddings `[vocab, hidden]`.
    pub word: Vec<f32>,
    /// Position embeddings `[max_pos, hidden]`.
    pub pos: Vec<f32>,
    /// Token type 0 embedding `[hidden]`.
    pub typ: Vec<f32>,
    /// Embedding layer norm.
    pub ln: (Vec<f32>, Vec<f32>),
    /// Encoder layers.
    pub layers: Vec<FLayer>,
}

impl BertWeights {
    /// Reads Hugging Face BERT weights (`embeddings.*`, `encoder.layer.N.*`, optionally prefixed
    /// with `bert.`).
    ///
    /// # Errors
    /// [`Error::Source`] for a missing tensor or a shape mismatch.
    pub fn from_safetensors(
        st: &SafeTensors,
        shape: BertShape,
        vocab_txt: Vec<u8>,
    ) -> Result<Self> {
        let pre = if st.contains("bert.embeddings.word_embeddings.weight") { "bert." } else { "" };
        let get = |name: &str, len: usize| -> Result<Vec<f32>> {
            let (v, _) = st.f32(&format!("{pre}{name}"))?;
            if v.len() != len {
                return Err(Error::Source(format!("{name}: {} values, expected {len}", v.len())));
            }
            Ok(v)
        };
        let (h, f) = (shape.hidden, shape.ffn);
        let lin = |p: &str, n: usize, k: usize| -> Result<FLinear> {
            Ok(FLinear { w: get(&format!("{p}.weight"), n * k)?, b: get(&format!("{p}.bias"), n)? })
        };
        let ln = |p: &str| -> Result<(Vec<f32>, Vec<f32>)> {
            Ok((get(&format!("{p}.weight"), h)?, get(&format!("{p}.bias"), h)?))
        };
        let layers = (0..shape.layers)
            .map(|l| {
                let p = format!("encoder.layer.{l}");
                Ok(FLayer {
                    q: lin(&format!("{p}.attention.self.query"), h, h)?,
                    k: lin(&format!("{p}.attention.self.key"), h, h)?,
                    v: lin(&format!("{p}.attention.self.value"), h, h)?,
                    o: lin(&format!("{p}.attention.output.dense"), h, h)?,
                    ln1: ln(&format!("{p}.attention.output.LayerNorm"))?,
                    up: lin(&format!("{p}.intermediate.dense"), f, h)?,
                    down: lin(&format!("{p}.output.dense"), h, f)?,
                    ln2: ln(&format!("{p}.output.LayerNorm"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let typ = get("embeddings.token_type_embeddings.weight", 2 * h)
            .or_else(|_| get("embeddings.token_type_embeddings.weight", h))?;
        Ok(Self {
            shape,
            vocab_txt,
            word: get("embeddings.word_embeddings.weight", shape.vocab * h)?,
            pos: get("embeddings.position_embeddings.weight", shape.max_pos * h)?,
            typ: typ[..h].to_vec(),
            ln: ln("embeddings.LayerNorm")?,
            layers,
        })
    }

    /// Converts to the engine's model blob.
    pub fn to_blob(&self) -> Vec<u8> {
        let s = self.shape;
        let (h, f) = (s.hidden, s.ffn);
        let mut w = ModelWriter::new();
        w.cfg("arch", ARCH_BERT)
            .cfg("vocab", s.vocab as u64)
            .cfg("hidden", h as u64)
            .cfg("layers", s.layers as u64)
            .cfg("heads", s.heads as u64)
            .cfg("ffn", f as u64)
            .cfg("max_pos", s.max_pos as u64)
            .cfg("max_seq", s.max_seq as u64)
            .cfg("eps_q24", ((s.eps * 16_777_216.0).round() as u64).max(1));
        w.bytes("tokenizer.vocab", &self.vocab_txt);
        let table = |w: &mut ModelWriter, name: &str, v: &[f32], rows: usize| {
            let (q, m) = quantize_rows(v, rows, h, Q12);
            w.i8s(&format!("{name}.w"), &[rows as u32, h as u32], &q)
                .mults(&format!("{name}.m"), &m);
        };
        table(&mut w, "emb.word", &self.word, s.vocab);
        table(&mut w, "emb.pos", &self.pos, s.max_pos);
        table(&mut w, "emb.type", &self.typ, 1);
        let norm = |w: &mut ModelWriter, name: &str, (g, b): &(Vec<f32>, Vec<f32>)| {
            w.i32s(&format!("{name}.g"), &[h as u32], &q12s(g)).i32s(
                &format!("{name}.b"),
                &[h as u32],
                &q12s(b),
            );
        };
        norm(&mut w, "emb.ln", &self.ln);
        let lin = |w: &mut ModelWriter, name: &str, l: &FLinear, n: usize, k: usize| {
            let (q, m, r) = quantize_blocked(&l.w, n, k, BLOCK, 1.0);
            w.i8s(&format!("{name}.w"), &[n as u32, k as u32], &q)
                .mults(&format!("{name}.m"), &m)
                .i32s(&format!("{name}.r"), &[n as u32, (k / BLOCK) as u32], &r)
                .i32s(&format!("{name}.b"), &[n as u32], &q12s(&l.b));
        };
        for (i, l) in self.layers.iter().enumerate() {
            lin(&mut w, &format!("l{i}.q"), &l.q, h, h);
            lin(&mut w, &format!("l{i}.k"), &l.k, h, h);
            lin(&mut w, &format!("l{i}.v"), &l.v, h, h);
            lin(&mut w, &format!("l{i}.o"), &l.o, h, h);
            norm(&mut w, &format!("l{i}.ln1"), &l.ln1);
            lin(&mut w, &format!("l{i}.up"), &l.up, f, h);
            lin(&mut w, &format!("l{i}.down"), &l.down, h, f);
            norm(&mut w, &format!("l{i}.ln2"), &l.ln2);
        }
        w.mults("attn.scale", &[multiplier(1.0 / (((h / s.heads) as f64).sqrt() * 16129.0))]);
        w.i32s("lut.exp", &[LUT_LEN as u32], &exp_lut());
        w.i32s("lut.gelu", &[LUT_LEN as u32], &act_lut(gelu));
        w.finish()
    }
}
