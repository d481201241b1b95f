//! Quantised linear layer: per-token int8 activations × per-channel int8 weights, fixed-point
//! requantisation back to Q12, plus an i32 bias.

use alloc::{format, vec, vec::Vec};

use crate::{
    Result,
    fixed::{Multiplier, quantize_pow2},
    gemm::Kernels,
    model::ModelFile,
};

/// Weights `w[n, k]`, one multiplier (weight scale) and one Q12 bias per output channel.
#[derive(Debug, Clone)]
pub struct Linear {
    /// Int8 weights, row `j` is output channel `j`.
    pub w: Vec<i8>,
    /// Per-channel weight scales.
    pub m: Vec<Multiplier>,
    /// Per-channel biases in Q12.
    pub b: Vec<i32>,
    /// Output channels.
    pub n: usize,
    /// Input channels.
    pub k: usize,
}

impl Linear {
    /// Loads `{prefix}.w`, `{prefix}.m` and `{prefix}.b`.
    ///
    /// # Errors
    /// [`crate::Error::Format`] when a tensor is missing or misshapen.
    pub fn load(f: &ModelFile<'_>, prefix: &str, n: usize, k: usize) -> Result<Self> {
        Ok(Self {
            w: f.i8s(&format!("{prefix}.w"), &[n, k])?,
            m: f.mults(&format!("{prefix}.m"), n)?,
            b: f.i32s(&format!("{prefix}.b"), &[n])?,
            n,
            k,
        })
    }

    /// `y = x · wᵀ + b` for `rows` rows of Q12 input; each input row is quantised to int8 with
    /// its own power-of-two exponent `e`, and output `(r, j)` is `m[j].apply(acc, e_r) + b[j]`.
    pub fn forward<K: Kernels + ?Sized>(&self, kern: &K, x: &[i32], rows: usize) -> Vec<i32> {
        let (n, k) = (self.n, self.k);
        debug_assert_eq!(x.len(), rows * k);
        let mut q = vec![0i8; rows * k];
        let exps: Vec<i32> = x
            .chunks_exact(k)
            .zip(q.chunks_exact_mut(k))
            .map(|(xr, qr)| quantize_pow2(xr, qr))
            .collect();
        let mut acc = vec![0i32; rows * n];
        kern.gemm_i8(&q, rows, k, &self.w, n, &mut acc);
        for (r, row) in acc.chunks_exact_mut(n).enumerate() {
            for ((v, m), b) in row.iter_mut().zip(&self.m).zip(&self.b) {
                *v = m.apply(*v, exps[r]).saturating_add(*b);
            }
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemm::Scalar;

    #[test]
    fn identity_weights_reproduce_the_input_up_to_quantisation() {
        // w = 127·I with scale 1/127, so y ≈ x.
        let k = 4;
        let mut w = vec![0i8; k * k];
        for i in 0..k {
            w[i * k + i] = 127;
        }
        // 1/127 ≈ 0.0078740 = m0 · 2^(shift − 31) with m0 ∈ [2^30, 2^31): shift = −6.
        let m0 = ((1u64 << 37) / 127) as i32;
        let lin = Linear { w, m: vec![Multiplier { m0, shift: -6 }; k], b: vec![1; k], n: k, k };
        let x = [4096, -8192, 127, 0];
        let y = lin.forward(&Scalar, &x, 1);
        for (yv, xv) in y.iter().zip(&x) {
            assert!((yv - xv - 1).abs() <= 64, "{yv} vs {xv}");
        }
    }
}
