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
