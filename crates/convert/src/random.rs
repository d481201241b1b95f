//! Seeded random models of the supported architectures, for tests that must not need real
//! weights.

use assay_engine::prng::Prng;

use crate::bert::{BertShape, BertWeights, FLayer, FLinear};

/// The vocabulary of the random models: specials, letters, a few words and continuations.
pub fn tiny_vocab() -> Vec<u8> {
    let mut v: Vec<String> =
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].iter().map(|s| s.to_string()).collect();
    v.extend(".,!?'".chars().map(String::from));
    v.extend(('a'..='z').map(String::from));
    v.extend(('a'..='z').map(|c| format!("##{c}")));
    for w in [
        "the", "cat", "dog", "sat", "on", "mat", "hello", "world", "proof", "of", "sampling",
        "##s", "##ing",
    ] {
        v.push(w.into());
    }
    v.join("\n").into_bytes()
}

struct Gen(Prng);

impl Gen {
    /// Roughly normal values (sum of four uniforms) with standard deviation `std`.
    fn normal(&mut self, n: usize, std: f32) -> Vec<f32> {
        (0..n)
            .map(|_| {
                let s: f32 = (0..4)
                    .map(|_| (self.0.next_u64() >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
                    .sum();
                s * std * 1.732
            })
            .collect()
    }

    fn linear(&mut self, n: usize, k: usize) -> FLinear {
        let std = 1.0 / (k as f32).sqrt();
        FLinear { w: self.normal(n * k, std), b: self.normal(n, 0.05) }
    }

    fn norm(&mut self, h: usize) -> (Vec<f32>, Vec<f32>) {
        (self.normal(h, 0.1).into_iter().map(|v| 1.0 + v).collect(), self.normal(h, 0.05))
    }
}

/// A small BERT (hidden 32, 2 layers, 4 heads) with seeded weights over [`tiny_vocab`].
pub fn tiny_bert(seed: u64) -> BertWeights {
    let vocab_txt = tiny_vocab();
    let vocab = vocab_txt.split(|&b| b == b'\n').count();
    let shape = BertShape {
        vocab,
        hidden: 32,
        layers: 2,
        heads: 4,
        ffn: 64,
        max_pos: 64,
        max_seq: 48,
        eps: 1e-12,
    };
    let mut g = Gen(Prng::new(seed));
    let (h, f) = (shape.hidden, shape.ffn);
    let layers = (0..shape.layers)
        .map(|_| FLayer {
            q: g.linear(h, h),
            k: g.linear(h, h),
            v: g.linear(h, h),
            o: g.linear(h, h),
            ln1: g.norm(h),
            up: g.linear(f, h),
            down: g.linear(h, f),
            ln2: g.norm(h),
        })
        .collect();
    BertWeights {
        shape,
        vocab_txt,
        word: g.normal(vocab * h, 0.5),
        pos: g.normal(shape.max_pos * h, 0.2),
        typ: g.normal(h, 0.1),
        ln: g.norm(h),
        layers,
    }
}

/// Tokens and merges of the random llama: specials, the 256 byte characters, a few merges.
fn tiny_bpe() -> (Vec<String>, Vec<String>) {
    let mut tokens: Vec<String> =
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>"].iter().map(|s| s.to_string()).collect();
    tokens.extend(assay_engine::bpe::byte_chars().iter().map(|c| c.to_string()));
    let merges: Vec<String> =
        ["Ġ t", "h e", "i n", "Ġ a", "e r", "Ġt he", "o u", "Ġ s", "Ġ w", "r e"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    tokens.extend(merges.iter().map(|m| m.replace(' ', "")));
    (tokens, merges)
}

/// A small llama (hidden 32, 2 layers, 4 query and 2 key/value heads) with seeded weights.
pub fn tiny_llama(seed: u64) -> crate::llama::LlamaWeights {
    use crate::llama::{LlamaLayer, LlamaShape, LlamaWeights};
    let (tokens, merges) = tiny_bpe();
    let shape = LlamaShape {
        vocab: tokens.len(),
        hidden: 32,
        layers: 2,
        heads: 4,
        kv_heads: 2,
        ffn: 64,
        eps: 1e-5,
        rope_base: 10_000.0,
        eos: 2,
    };
    let mut g = Gen(Prng::new(seed));
    let (h, f) = (shape.hidden, shape.ffn);
    let kvd = shape.head_dim() * shape.kv_heads;
    let mut mat = |n: usize, k: usize| g.linear(n, k).w;
    let layers = (0..shape.layers)
        .map(|_| LlamaLayer {
            attn_norm: vec![1.0; h],
            q: mat(h, h),
            k: mat(kvd, h),
            v: mat(kvd, h),
            o: mat(h, h),
            ffn_norm: vec![1.0; h],
            gate: mat(f, h),
            up: mat(f, h),
            down: mat(h, f),
        })
        .collect();
    let emb = g.normal(shape.vocab * h, 0.15);
    LlamaWeights { shape, tokens, merges, emb, layers, final_norm: vec![1.0; h] }
}
