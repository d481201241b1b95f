//! Row-wise non-linear ops in integer arithmetic: softmax with a 16-bit output, layer norm, RMS
//! norm, and 16-bit lookup tables (GELU, SiLU, exp).
//!
//! Real-valued activations are `i32` in Q12 (value · 2^12), see [`Q`].

use crate::fixed::{div_round, round_shift_i128, rsqrt_q24};

/// Fractional bits of the engine's fixed-point activations (Q12).
pub const Q: u32 = 12;

/// Number of entries of a 16-bit lookup table.
pub const LUT_LEN: usize = 1 << 16;

/// Applies a 16-bit table to a Q12 value. Inputs in `[-8, 8)` index `lut[x + 32768]` directly;
/// larger inputs return `x` (the identity tail of GELU and SiLU), smaller ones return 0.
pub fn lut_act(lut: &[i32], x: i32) -> i32 {
    debug_assert_eq!(lut.len(), LUT_LEN);
    match lut_entry(x) {
        Ok(entry) => lut[entry],
        Err(value) => value,
    }
}

/// Where [`lut_act`] reads `x`: `Ok(entry)` of the table, or `Err(value)` outside it (`x`
/// above, 0 below).
pub fn lut_entry(x: i32) -> Result<usize, i32> {
    if x >= 32768 {
        Err(x)
    } else if x < -32768 {
        Err(0)
    } else {
        Ok((x + 32768) as usize)
    }
}

/// Softmax of a row of Q12 scores into 16-bit probabilities (Q16, clamped to 65535).
///
/// `exp_lut[i] = round(exp(-i / 2^12) · 2^16)`; differences from the row maximum below −16 read
/// the last entry.
pub fn softmax_u16(scores: &[i32], exp_lut: &[i32], out: &mut [u16]) {
    debug_assert_eq!(exp_lut.len(), LUT_LEN);
    let Some(&max) = scores.iter().max() else { return };
    let sum: i64 = scores.iter().map(|&s| i64::from(exp_lut[exp_index(max, s)])).sum();
    for (o, &s) in out.iter_mut().zip(scores) {
        *o = softmax_element(exp_lut[exp_index(max, s)], sum);
    }
}

/// The exp table index of score `s` in a row whose maximum is `max`: `max − s`, capped at the
/// last entry.
pub fn exp_index(max: i32, s: i32) -> usize {
    (i64::from(max) - i64::from(s)).min(LUT_LEN as i64 - 1) as usize
}

/// One softmax probability (Q16, clamped to 65535) from its table entry `e` and the row's sum of
/// table entries (at least 1 is used).
pub fn softmax_element(e: i32, sum: i64) -> u16 {
    div_round(i64::from(e) << 16, sum.max(1)).clamp(0, 65535) as u16
}

/// Integer layer norm of a Q12 row with per-channel Q12 `gamma` and `beta`; `eps_q24` is the
/// variance epsilon in Q24 (at least 1).
pub fn layer_norm(x: &[i32], gamma: &[i32], beta: &[i32], eps_q24: u64, out: &mut [i32]) {
    let stats = layer_norm_stats(x, eps_q24);
    for (((o, &v), &g), &b) in out.iter_mut().zip(x).zip(gamma).zip(beta) {
        *o = layer_norm_element(v, stats, g, b);
    }
}

/// A row's layer-norm statistics: its mean (rounded) and `1 / sqrt(variance + eps)` in Q24.
pub fn layer_norm_stats(x: &[i32], eps_q24: u64) -> (i64, i128) {
    let n = x.len() as i64;
    let sum: i64 = x.iter().map(|&v| i64::from(v)).sum();
    let mean = div_round(sum, n.max(1));
    let sq: u128 =
        x.iter().map(|&v| (i64::from(v) - mean).unsigned_abs() as u128).map(|d| d * d).sum();
    let var =
        u64::try_from(sq / n.max(1) as u128).unwrap_or(u64::MAX).saturating_add(eps_q24.max(1));
    (mean, i128::from(rsqrt_q24(var)))
}

/// One layer-norm output from its input `v`, its row's [`layer_norm_stats`] and its channel's
/// `gamma` and `beta`.
pub fn layer_norm_element(v: i32, (mean, inv): (i64, i128), gamma: i32, beta: i32) -> i32 {
    let d = i128::from(i64::from(v) - mean);
    sat(round_shift_i128(d * inv * i128::from(gamma), 36) + i128::from(beta))
}

/// Integer RMS norm of a Q12 row with per-channel Q12 `gamma`.
pub fn rms_norm(x: &[i32], gamma: &[i32], eps_q24: u64, out: &mut [i32]) {
    let inv = rms_norm_inv(x, eps_q24);
    for ((o, &v), &g) in out.iter_mut().zip(x).zip(gamma) {
        *o = rms_norm_element(v, inv, g);
    }
}

/// A row's `1 / sqrt(mean square + eps)` in Q24.
pub fn rms_norm_inv(x: &[i32], eps_q24: u64) -> i128 {
    let n = x.len().max(1) as u128;
    let sq: u128 = x.iter().map(|&v| u128::from(v.unsigned_abs())).map(|a| a * a).sum();
    let ms = u64::try_from(sq / n).unwrap_or(u64::MAX).saturating_add(eps_q24.max(1));
    i128::from(rsqrt_q24(ms))
}

/// One RMS-norm output from its input `v`, its row's [`rms_norm_inv`] and its channel's
/// `gamma`.
pub fn rms_norm_element(v: i32, inv: i128, gamma: i32) -> i32 {
    sat(round_shift_i128(i128::from(v) * inv * i128::from(gamma), 36))
}

/// One mean-pooled element (Q12) from its column's sum over `t > 0` rows, rounded half away
/// from zero.
pub fn pool_element(sum: i64, t: i64) -> i32 {
    div_round(sum, t) as i32
}

/// The pooled row's `1 / sqrt(Σ v²)` in Q24 (an all-zero row is treated as a sum of 1).
pub fn normalize_inv(row: &[i32]) -> i128 {
    let sq: u128 = row.iter().map(|&v| u128::from(v.unsigned_abs())).map(|a| a * a).sum();
    i128::from(rsqrt_q24(u64::try_from(sq).unwrap_or(u64::MAX)))
}

/// One element of the L2-normalised embedding: `v` (Q12) times its row's [`normalize_inv`] (Q24)
/// is Q36; the output is Q15, saturated to i16.
pub fn normalize_element(v: i32, inv: i128) -> i16 {
    round_shift_i128(i128::from(v) * inv, 21).clamp(-32768, 32767) as i16
}

fn sat(v: i128) -> i32 {
    v.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32
}

#[cfg(test)]
mod tests {
    use alloc::{vec, vec::Vec};

    use proptest::prelude::*;

    use super::*;

    fn exp_lut() -> Vec<i32> {
        (0..LUT_LEN).map(|i| ((-(i as f64) / 4096.0).exp() * 65536.0).round() as i32).collect()
    }

    #[test]
    fn softmax_uniform_and_peaked() {
        let lut = exp_lut();
        let mut p = [0u16; 4];
        softmax_u16(&[100, 100, 100, 100], &lut, &mut p);
        assert_eq!(p, [16384; 4]);
        softmax_u16(&[i32::MAX, i32::MIN, 0, i32::MIN], &lut, &mut p);
        assert_eq!(p, [65535, 0, 0, 0]);
    }

    #[test]
    fn layer_norm_of_constant_row_is_beta() {
        let x = [5000i32; 8];
        let mut out = [0i32; 8];
        layer_norm(&x, &[4096; 8], &[7; 8], 1, &mut out);
        assert_eq!(out, [7; 8]);
    }

    proptest! {
        #[test]
        fn softmax_close_to_float(s in proptest::collection::vec(-40_000i32..40_000, 1..40)) {
            let lut = exp_lut();
            let mut p = vec![0u16; s.len()];
            softmax_u16(&s, &lut, &mut p);
            let max = s.iter().copied().max().unwrap_or(0) as f64;
            let e: Vec<f64> = s.iter().map(|&v| ((v as f64 - max) / 4096.0).exp()).collect();
            let z: f64 = e.iter().sum();
            for (pi, ei) in p.iter().zip(&e) {
                prop_assert!((*pi as f64 / 65536.0 - ei / z).abs() < 1e-3);
            }
        }

        #[test]
        fn layer_norm_close_to_float(x in proptest::collection::vec(-200_000i32..200_000, 2..64)) {
            let n = x.len() as f64;
            let xf: Vec<f64> = x.iter().map(|&v| v as f64 / 4096.0).collect();
            let mean = xf.iter().sum::<f64>() / n;
            let var = xf.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            prop_assume!(var > 1e-2);
            let mut out = vec![0i32; x.len()];
            layer_norm(&x, &vec![4096; x.len()], &vec![0; x.len()], 1, &mut out);
            for (o, v) in out.iter().zip(&xf) {
                let want = (v - mean) / var.sqrt();
                prop_assert!((*o as f64 / 4096.0 - want).abs() < 2e-3 * (1.0 + want.abs()));
            }
        }

        #[test]
        fn rms_norm_close_to_float(x in proptest::collection::vec(-200_000i32..200_000, 1..64)) {
            let xf: Vec<f64> = x.iter().map(|&v| v as f64 / 4096.0).collect();
            let ms = xf.iter().map(|v| v * v).sum::<f64>() / xf.len() as f64;
            prop_assume!(ms > 1e-2);
            let mut out = vec![0i32; x.len()];
            rms_norm(&x, &vec![4096; x.len()], 1, &mut out);
            for (o, v) in out.iter().zip(&xf) {
                let want = v / ms.sqrt();
                prop_assert!((*o as f64 / 4096.0 - want).abs() < 2e-3 * (1.0 + want.abs()));
            }
        }
    }
}
