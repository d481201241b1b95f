//! Quantised linear layer with block scales (blocks of [`BLOCK`] input channels):
//! - activations: each row's block `b` is int8 with scale `max_b / 127` (`max_b` in Q12);
//! - weights: row `j`'s block `b` is int8 with scale `s_j · r_jb / 2^16`, where `s_j` is the
//!   row's scale and `r_jb ∈ [0, 2^16]` the block's share of the row maximum;
//! - output: `y_ij = m_j · Σ_b dot_b · max_ib · r_jb / 2^16 + bias_j` in Q12 with the fixed-point
//!   multiplier `m_j = s_j / 127`; the sum is exact in i128 and the scaling is one rounding
//!   ([`Multiplier::apply_wide`]).
//!
//! The forward passes ([`Linear::forward`], [`Linear::forward_all`]) run through the caller's
//! kernels and live with them in [`crate::kernels`].

use alloc::{format, vec, vec::Vec};

pub use assay_step::linear::{BLOCK, RATIO_BITS};

use crate::{
    Result,
    fixed::{Multiplier, quantize_max},
    model::ModelFile,
};

/// Weights `w[n, k]` with per-row multipliers, per-block ratios and Q12 biases.
#[derive(Debug, Clone)]
pub struct Linear {
    /// Int8 weights, row `j` is output channel `j`.
    pub w: Vec<i8>,
    /// Per-channel multipliers `s_j / 127`.
    pub m: Vec<Multiplier>,
    /// Per-(channel, block) ratios in Q16, `[n, k / BLOCK]`.
    pub r: Vec<i32>,
    /// Per-channel biases in Q12.
    pub b: Vec<i32>,
    /// Output channels.
    pub n: usize,
    /// Input channels (a multiple of [`BLOCK`]).
    pub k: usize,
}

/// Quantises rows of `k` Q12 values into int8 blocks; returns the codes and the block maxima.
pub fn quantize_blocks(x: &[i32], k: usize) -> (Vec<i8>, Vec<u32>) {
    let mut q = vec![0i8; x.len()];
    let maxes =
        x.chunks(BLOCK).zip(q.chunks_mut(BLOCK)).map(|(xb, qb)| quantize_max(xb, qb)).collect();
    debug_assert_eq!(x.len() % k, 0);
    (q, maxes)
}

impl Linear {
    /// Loads `{prefix}.w`, `.m`, `.r` and `.b`.
    ///
    /// # Errors
    /// [`crate::Error::Format`] when a tensor is missing or misshapen, or `k` is not a multiple
    /// of [`BLOCK`].
    pub fn load(f: &ModelFile<'_>, prefix: &str, n: usize, k: usize) -> Result<Self> {
        if !k.is_multiple_of(BLOCK) {
            return Err(crate::Error::Format(format!(
                "{prefix}: {k} inputs is not a multiple of {BLOCK}"
            )));
        }
        Ok(Self {
            w: f.i8s(&format!("{prefix}.w"), &[n, k])?,
            m: f.mults(&format!("{prefix}.m"), n)?,
            r: f.i32s(&format!("{prefix}.r"), &[n, k / BLOCK])?,
            b: f.i32s(&format!("{prefix}.b"), &[n])?,
            n,
            k,
        })
    }

    /// Requantises output columns `cols` of the exact block-scaled accumulators `acc` (rows of
    /// `cols.len()`): `out[i, c] = m_j · acc[i, c] / 2^16 + b_j` with `j = cols.start + c`, one
    /// rounding ([`Multiplier::apply_wide`]), saturated.
    pub fn requantize(&self, acc: &[i128], cols: core::ops::Range<usize>, out: &mut [i32]) {
        let width = cols.len();
        debug_assert_eq!(acc.len(), out.len());
        let (m, b) = (&self.m[cols.clone()], &self.b[cols]);
        for (orow, arow) in out.chunks_exact_mut(width).zip(acc.chunks_exact(width)) {
            for (((o, &a), m), &b) in orow.iter_mut().zip(arow).zip(m).zip(b) {
                *o = assay_step::linear::requantize(a, *m, b);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::kernels::Scalar;

    fn multiplier() -> impl Strategy<Value = Multiplier> {
        (prop_oneof![Just(0), (1i32 << 30)..i32::MAX], -40i8..20)
            .prop_map(|(m0, shift)| Multiplier { m0, shift })
    }

    proptest! {
        /// The engine's layer and the one-element definition the dispute contract runs agree
        /// on every element, extremes included.
        #[test]
        fn every_output_element_is_the_step_crates_element(
            blocks in 1usize..4,
            n in 1usize..5,
            rows in 1usize..3,
            seed in any::<u64>(),
            m in prop::collection::vec(multiplier(), 4),
        ) {
            let k = blocks * BLOCK;
            let mut rng = crate::prng::Prng::new(seed);
            let mut pick = |edge: &[i64], lo: i64, span: u64| {
                let r = rng.next_u64();
                if r.is_multiple_of(5) { edge[(r / 5) as usize % edge.len()] } else { lo + (r % span) as i64 }
            };
            let x: Vec<i32> = (0..rows * k)
                .map(|_| pick(&[i32::MIN as i64, i32::MAX as i64, 0, -1], -1 << 20, 1 << 21) as i32)
                .collect();
            let w: Vec<i8> = (0..n * k).map(|_| pick(&[-127, 127, 0], -127, 255) as i8).collect();
            let r: Vec<i32> = (0..n * blocks).map(|_| pick(&[0, 1 << 16], 0, (1 << 16) + 1) as i32).collect();
            let b: Vec<i32> = (0..n).map(|_| pick(&[i32::MIN as i64, i32::MAX as i64], -1 << 16, 1 << 17) as i32).collect();
            let lin = Linear { w, m: m[..n].to_vec(), r, b, n, k };
            let y = lin.forward(&Scalar, &x, rows);
            for i in 0..rows {
                for j in 0..n {
                    let want = assay_step::linear::linear_element(
                        &x[i * k..(i + 1) * k],
                        &lin.w[j * k..(j + 1) * k],
                        &lin.r[j * blocks..(j + 1) * blocks],
                        lin.m[j],
                        lin.b[j],
                    );
                    prop_assert_eq!(Some(y[i * n + j]), want, "row {} col {}", i, j);
                }
            }
        }

        /// The engine's exact block dot product (three 64-bit parts, SIMD-friendly) is the step
        /// crate's plain i128 definition.
        #[test]
        fn the_fast_block_dot_is_the_definition(
            a in prop::collection::vec(-127i8..=127, 1..200),
            seed in any::<u64>(),
            block in prop_oneof![Just(BLOCK), 1usize..70],
        ) {
            let mut rng = crate::prng::Prng::new(seed);
            let w: Vec<i8> = a.iter().map(|_| (rng.next_u64() % 255) as i8).map(|v| v.max(-127)).collect();
            let blocks = a.len().div_ceil(block);
            let a_s: Vec<u32> = (0..blocks).map(|_| (rng.next_u64() >> 33) as u32).collect();
            let w_s: Vec<i32> = (0..blocks).map(|_| (rng.next_u64() % ((1 << 17) + 1)) as i32 - (1 << 16)).collect();
            prop_assert_eq!(
                crate::gemm::dot_blocked(&a, &w, block, &a_s, &w_s),
                assay_step::linear::dot_blocked(&a, &w, block, &a_s, &w_s)
            );
        }
    }

    #[test]
    fn identity_weights_reproduce_the_input_up_to_quantisation() {
        // w = 127·I with scale 1/127 (multiplier 1/127²) and full-weight blocks, so y ≈ x.
        let k = 2 * BLOCK;
        let mut w = vec![0i8; k * k];
        for i in 0..k {
            w[i * k + i] = 127;
        }
        // 1/127² ≈ 6.2e-5 = m0 · 2^(shift − 31) with m0 ∈ [2^30, 2^31): shift = −13.
        let m0 = ((1u64 << 44) / (127 * 127)) as i32;
        let lin = Linear {
            w,
            m: vec![Multiplier { m0, shift: -13 }; k],
            r: vec![1 << 16; 2 * k],
            b: vec![1; k],
            n: k,
            k,
        };
        let x: Vec<i32> = (0..k as i32).map(|i| (i - 20) * 977).collect();
        let y = lin.forward(&Scalar, &x, 1);
        for (yv, xv) in y.iter().zip(&x) {
            assert!((yv - xv - 1).abs() <= 200, "{yv} vs {xv}");
        }
    }
}
