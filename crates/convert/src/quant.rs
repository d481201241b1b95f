//! Float-to-integer conversions: fixed-point multipliers, per-channel int8 weights, Q12 values and
//! the 16-bit lookup tables.

use assay_engine::{fixed::Multiplier, nonlin::LUT_LEN};

/// Q12 scale.
pub const Q12: f64 = 4096.0;

/// Represents `m ≥ 0` as `m0 · 2^(shift − 31)` with `m0 ∈ [2^30, 2^31)` (frexp style).
pub fn multiplier(m: f64) -> Multiplier {
    if m <= 0.0 || !m.is_finite() {
        return Multiplier::default();
    }
    let mut e = m.log2().floor() as i32 + 1;
    let mut f = m / 2f64.powi(e);
    // Guard against log2 rounding: keep f in [0.5, 1).
    while f >= 1.0 {
        f /= 2.0;
        e += 1;
    }
    while f < 0.5 {
        f *= 2.0;
        e -= 1;
    }
    let mut m0 = (f * 2f64.powi(31)).round() as i64;
    if m0 == 1 << 31 {
        m0 = 1 << 30;
        e += 1;
    }
    Multiplier { m0: m0 as i32, shift: e.clamp(-128, 127) as i8 }
}

/// Quantises `w[n, k]` per output row: `q = round(w / s)`, `s = max|w| / 127`; returns the int8
/// weights and each row's multiplier `s · extra`.
pub fn quantize_rows(w: &[f32], n: usize, k: usize, extra: f64) -> (Vec<i8>, Vec<Multiplier>) {
    assert_eq!(w.len(), n * k);
    let mut q = Vec::with_capacity(n * k);
    let mut m = Vec::with_capacity(n);
    for row in w.chunks_exact(k) {
        let max = row.iter().fold(0f64, |a, &v| a.max(f64::from(v).abs()));
        let s = if max > 0.0 { max / 127.0 } else { 1.0 };
        q.extend(row.iter().map(|&v| (f64::from(v) / s).round().clamp(-127.0, 127.0) as i8));
        m.push(multiplier(s * extra));
    }
    (q, m)
}

/// Quantises `w[n, k]` with block scales (see `assay_engine::linear`): per row the scale
/// `s = max|w| / 127` and the multiplier `s · extra / 127` (the 127 undoes the activations' int8
/// scale), per block the Q16 ratio `r = round(2^16 · block max / row max)`,
/// and codes `q = round(w / (s · r / 2^16))`.
pub fn quantize_blocked(
    w: &[f32],
    n: usize,
    k: usize,
    block: usize,
    extra: f64,
) -> (Vec<i8>, Vec<Multiplier>, Vec<i32>) {
    assert_eq!(w.len(), n * k);
    let (mut q, mut m, mut r) = (Vec::with_capacity(n * k), Vec::with_capacity(n), Vec::new());
    for row in w.chunks_exact(k) {
        let absmax = |xs: &[f32]| xs.iter().fold(0f64, |a, &v| a.max(f64::from(v).abs()));
        let max = absmax(row);
        let s = if max > 0.0 { max / 127.0 } else { 1.0 };
        m.push(multiplier(s * extra / 127.0));
        for b in row.chunks(block) {
            let ratio = if max > 0.0 {
                (absmax(b) / max * 65536.0).round().clamp(0.0, 65536.0)
            } else {
                0.0
            };
            r.push(ratio as i32);
            let eff = s * ratio / 65536.0;
            q.extend(b.iter().map(|&v| {
                if eff > 0.0 { (f64::from(v) / eff).round().clamp(-127.0, 127.0) as i8 } else { 0 }
            }));
        }
    }
    (q, m, r)
}

/// A real value in Q12, saturated to i32.
pub fn q12(v: f32) -> i32 {
    (f64::from(v) * Q12).round().clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32
}

/// Q12 of every value.
pub fn q12s(v: &[f32]) -> Vec<i32> {
    v.iter().map(|&x| q12(x)).collect()
}

/// Error function (Abramowitz–Stegun 7.1.26, |error| < 1.5e-7).
pub fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-x * x).exp();
    if x < 0.0 { -y } else { y }
}

/// Exact (erf) GELU.
pub fn gelu(x: f64) -> f64 {
    0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2))
}

/// SiLU, `x · sigmoid(x)`.
pub fn silu(x: f64) -> f64 {
    x / (1.0 + (-x).exp())
}

/// A Q12 → Q12 table of `f` over `[-8, 8)` (see `assay_engine::nonlin::lut_act`).
pub fn act_lut(f: fn(f64) -> f64) -> Vec<i32> {
    (0..LUT_LEN).map(|i| (f((i as f64 - 32768.0) / Q12) * Q12).round() as i32).collect()
}

/// `exp(-i / 2^12)` in Q16 (see `assay_engine::nonlin::softmax_u16`).
pub fn exp_lut() -> Vec<i32> {
    (0..LUT_LEN).map(|i| ((-(i as f64) / Q12).exp() * 65536.0).round() as i32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplier_represents_reals() {
        for m in [1e-9, 0.0078125, 0.3, 1.0, 1.5, 4096.0, 12345.678] {
            let q = multiplier(m);
            assert!((1 << 30..=i32::MAX).contains(&q.m0), "{m}: {q:?}");
            let back = f64::from(q.m0) * 2f64.powi(i32::from(q.shift) - 31);
            assert!((back - m).abs() <= m * 1e-9, "{m} vs {back}");
        }
        assert_eq!(multiplier(0.0), Multiplier::default());
    }

    #[test]
    fn gelu_table_matches_known_values() {
        assert!((gelu(1.0) - 0.841_344_746).abs() < 1e-6);
        let lut = act_lut(gelu);
        assert_eq!(lut[32768], 0);
        assert_eq!(lut[32768 + 4096], (0.841_344_746f64 * Q12).round() as i32);
    }
}
