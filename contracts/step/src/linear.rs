//! One output element of a quantised linear layer with block scales (the engine's `linear`
//! module documents the format):
//! `y_j = m_j · Σ_b dot(q_b, w_jb) · max_b · r_jb / 2^16 + bias_j`, one rounding.

use crate::fixed::{Multiplier, quantize_max};

/// Input channels per quantisation block.
pub const BLOCK: usize = 32;

/// Fractional bits of the per-block weight ratios.
pub const RATIO_BITS: u32 = 16;

/// The exact block-scaled dot product `Σ_b dot(a_b, w_b) · a_s[b] · w_s[b]` over blocks of
/// `block` elements (the last may be shorter), in i128.
pub fn dot_blocked(a: &[i8], w: &[i8], block: usize, a_s: &[u32], w_s: &[i32]) -> i128 {
    a.chunks(block)
        .zip(w.chunks(block))
        .zip(a_s.iter().zip(w_s))
        .map(|((ab, wb), (&sa, &sw))| {
            let dot: i32 = ab.iter().zip(wb).map(|(&x, &y)| i32::from(x) * i32::from(y)).sum();
            i128::from(i64::from(dot) * i64::from(sw)) * i128::from(sa)
        })
        .sum()
}

/// Requantises one exact block-scaled accumulator: `m · acc / 2^16 + bias`, one rounding
/// ([`Multiplier::apply_wide`]), saturated.
pub fn requantize(acc: i128, m: Multiplier, bias: i32) -> i32 {
    m.apply_wide(acc, RATIO_BITS).saturating_add(bias)
}

/// Output element `j` of a linear layer for one input row `x` (Q12, a multiple of [`BLOCK`]
/// long): `w_row`, `ratios`, `m` and `bias` are row `j` of the layer's weights (`x.len()` int8),
/// block ratios (`x.len() / BLOCK`), multiplier and bias. Returns `None` when the lengths do not
/// agree.
pub fn linear_element(
    x: &[i32],
    w_row: &[i8],
    ratios: &[i32],
    m: Multiplier,
    bias: i32,
) -> Option<i32> {
    let blocks = x.len() / BLOCK;
    if !x.len().is_multiple_of(BLOCK) || w_row.len() != x.len() || ratios.len() != blocks {
        return None;
    }
    let mut acc = 0i128;
    for ((xb, wb), &r) in x.chunks_exact(BLOCK).zip(w_row.chunks_exact(BLOCK)).zip(ratios) {
        let mut q = [0i8; BLOCK];
        let max = quantize_max(xb, &mut q);
        acc += dot_blocked(&q, wb, BLOCK, &[max], &[r]);
    }
    Some(requantize(acc, m, bias))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_element_is_the_dot_of_quantised_blocks_scaled_once() {
        // One block of 32: x = 4096 (1.0) everywhere quantises to 127 with max 4096; weights 1;
        // ratio 2^16; so acc = 32 · 127 · 4096 · 2^16, and m = 2^-20 (m0 = 2^30, shift = -19)
        // gives acc / 2^16 · 2^-20 = 32 · 127 · 4096 / 2^20 = 15.875 -> 16, plus bias 3.
        let x = [4096i32; 32];
        let w = [1i8; 32];
        let m = Multiplier { m0: 1 << 30, shift: -19 };
        assert_eq!(linear_element(&x, &w, &[1 << 16], m, 3), Some(19));
        assert_eq!(linear_element(&x[..31], &w[..31], &[1 << 16], m, 3), None);
        assert_eq!(linear_element(&x, &w, &[], m, 3), None);
        assert_eq!(dot_blocked(&[1, 2, 3], &[4, 5, 6], 2, &[10, 100], &[7, -1]), 14 * 70 - 1800);
    }
}
