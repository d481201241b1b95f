//! Float32 reference forward pass of BERT with mean pooling and L2 normalisation, for accuracy
//! checks of the integer engine. Never used to produce a hashed value.

use crate::{
    bert::{BertWeights, FLinear},
    quant::gelu,
};

fn linear(x: &[f32], rows: usize, l: &FLinear, k: usize) -> Vec<f32> {
    let n = l.b.len();
    let mut y = vec![0f32; rows * n];
    for r in 0..rows {
        for j in 0..n {
            let w = &l.w[j * k..(j + 1) * k];
            y[r * n + j] =
                l.b[j] + x[r * k..(r + 1) * k].iter().zip(w).map(|(a, b)| a * b).sum::<f32>();
        }
    }
    y
}

fn layer_norm(x: &mut [f32], h: usize, (g, b): &(Vec<f32>, Vec<f32>), eps: f64) {
    for row in x.chunks_exact_mut(h) {
        let mean = row.iter().sum::<f32>() / h as f32;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / h as f32;
        let inv = 1.0 / (var + eps as f32).sqrt();
        for (i, v) in row.iter_mut().enumerate() {
            *v = (*v - mean) * inv * g[i] + b[i];
        }
    }
}

/// Sentence embedding of `tokens` in float: the sentence-transformers pipeline (BERT, mean
/// pooling, L2 normalisation).
pub fn bert_embed(w: &BertWeights, tokens: &[u32]) -> Vec<f32> {
    let s = w.shape;
    let (t, h, nh) = (tokens.len(), s.hidden, s.heads);
    let dh = h / nh;
    let mut x = vec![0f32; t * h];
    for (i, &id) in tokens.iter().enumerate() {
        for j in 0..h {
            x[i * h + j] = w.word[id as usize * h + j] + w.pos[i * h + j] + w.typ[j];
        }
    }
    layer_norm(&mut x, h, &w.ln, s.eps);
    let scale = 1.0 / (dh as f32).sqrt();
    for l in &w.layers {
        let (q, k, v) = (linear(&x, t, &l.q, h), linear(&x, t, &l.k, h), linear(&x, t, &l.v, h));
        let mut ctx = vec![0f32; t * h];
        for hd in 0..nh {
            for i in 0..t {
                let qi = &q[i * h + hd * dh..i * h + hd * dh + dh];
                let sc: Vec<f32> = (0..t)
                    .map(|j| {
                        qi.iter()
                            .zip(&k[j * h + hd * dh..j * h + hd * dh + dh])
                            .map(|(a, b)| a * b)
                            .sum::<f32>()
                            * scale
                    })
                    .collect();
                let max = sc.iter().copied().fold(f32::MIN, f32::max);
                let e: Vec<f32> = sc.iter().map(|v| (v - max).exp()).collect();
                let z: f32 = e.iter().sum();
                for d in 0..dh {
                    ctx[i * h + hd * dh + d] =
                        (0..t).map(|j| e[j] / z * v[j * h + hd * dh + d]).sum();
                }
            }
        }
        let o = linear(&ctx, t, &l.o, h);
        x.iter_mut().zip(&o).for_each(|(a, b)| *a += b);
        layer_norm(&mut x, h, &l.ln1, s.eps);
        let mut up = linear(&x, t, &l.up, h);
        up.iter_mut().for_each(|v| *v = gelu(f64::from(*v)) as f32);
        let down = linear(&up, t, &l.down, s.ffn);
        x.iter_mut().zip(&down).for_each(|(a, b)| *a += b);
        layer_norm(&mut x, h, &l.ln2, s.eps);
    }
    let mut mean: Vec<f32> =
        (0..h).map(|j| (0..t).map(|i| x[i * h + j]).sum::<f32>() / t as f32).collect();
    let norm = mean.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
    mean.iter_mut().for_each(|v| *v /= norm);
    mean
}

/// Cosine similarity of two vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb).max(1e-30)
}

fn rms(x: &[f32], g: &[f32], eps: f64) -> Vec<f32> {
    let ms = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
    let inv = 1.0 / (ms + eps as f32).sqrt();
    x.iter().zip(g).map(|(v, g)| v * inv * g).collect()
}

fn matvec(w: &[f32], x: &[f32]) -> Vec<f32> {
    w.chunks_exact(x.len()).map(|r| r.iter().zip(x).map(|(a, b)| a * b).sum()).collect()
}

/// Greedy next token at every position of `tokens` (teacher forcing) in float32: a plain llama
/// forward with adjacent-pair rotary embeddings, grouped-query causal attention, SiLU-gated
/// feed-forward and the tied output head.
pub fn llama_next_tokens(w: &crate::llama::LlamaWeights, tokens: &[u32]) -> Vec<u32> {
    let s = w.shape;
    let (h, hd) = (s.hidden, s.head_dim());
    let (nh, nkv) = (s.heads, s.kv_heads);
    let kvd = hd * nkv;
    let mut xs: Vec<Vec<f32>> =
        tokens.iter().map(|&t| w.emb[t as usize * h..(t as usize + 1) * h].to_vec()).collect();
    let rope = |v: &mut [f32], pos: usize| {
        for head in v.chunks_exact_mut(hd) {
            for (i, p) in head.chunks_exact_mut(2).enumerate() {
                let a = pos as f64 * s.rope_base.powf(-2.0 * i as f64 / hd as f64);
                let (c, sn) = (a.cos() as f32, a.sin() as f32);
                let (x0, x1) = (p[0], p[1]);
                p[0] = x0 * c - x1 * sn;
                p[1] = x0 * sn + x1 * c;
            }
        }
    };
    for l in &w.layers {
        let mut ks = Vec::new();
        let mut vs = Vec::new();
        let mut qs = Vec::new();
        for (pos, x) in xs.iter().enumerate() {
            let n = rms(x, &l.attn_norm, s.eps);
            let (mut q, mut k) = (matvec(&l.q, &n), matvec(&l.k, &n));
            rope(&mut q, pos);
            rope(&mut k, pos);
            qs.push(q);
            ks.push(k);
            vs.push(matvec(&l.v, &n));
        }
        for (i, x) in xs.iter_mut().enumerate() {
            let mut ctx = vec![0f32; h];
            for hq in 0..nh {
                let kvh = hq / (nh / nkv);
                let q = &qs[i][hq * hd..(hq + 1) * hd];
                let sc: Vec<f32> = (0..=i)
                    .map(|j| {
                        q.iter()
                            .zip(&ks[j][kvh * hd..(kvh + 1) * hd])
                            .map(|(a, b)| a * b)
                            .sum::<f32>()
                            / (hd as f32).sqrt()
                    })
                    .collect();
                let max = sc.iter().copied().fold(f32::MIN, f32::max);
                let e: Vec<f32> = sc.iter().map(|v| (v - max).exp()).collect();
                let z: f32 = e.iter().sum();
                for d in 0..hd {
                    ctx[hq * hd + d] = (0..=i).map(|j| e[j] / z * vs[j][kvh * hd + d]).sum();
                }
            }
            debug_assert_eq!(kvd, ks[0].len());
            let o = matvec(&l.o, &ctx);
            x.iter_mut().zip(&o).for_each(|(a, b)| *a += b);
            let n = rms(x, &l.ffn_norm, s.eps);
            let (g, u) = (matvec(&l.gate, &n), matvec(&l.up, &n));
            let a: Vec<f32> = g.iter().zip(&u).map(|(g, u)| g / (1.0 + (-g).exp()) * u).collect();
            let d = matvec(&l.down, &a);
            x.iter_mut().zip(&d).for_each(|(a, b)| *a += b);
        }
    }
    xs.iter()
        .map(|x| {
            let n = rms(x, &w.final_norm, s.eps);
            let logits = matvec(&w.emb, &n);
            let mut best = 0;
            for (i, &v) in logits.iter().enumerate() {
                if v > logits[best] {
                    best = i;
                }
            }
            best as u32
        })
        .collect()
}
