//! Fixed-point arithmetic: rounding shifts, requantisation multipliers, int8 quantisation with a
//! per-row (or per-block) `max / 127` scale, integer square root and reciprocal square root.
//!
//! Rounding is **half away from zero** everywhere (the TFLite `RoundingDivideByPOT` convention);
//! results that do not fit their target type saturate.

/// Shifts `x` right by `shift` bits, rounding half away from zero. `shift` of 0 returns `x`;
/// shifts of 127 or more return 0.
pub fn round_shift_i128(x: i128, shift: u32) -> i128 {
    if shift == 0 {
        return x;
    }
    if shift >= 127 {
        return 0;
    }
    let half = 1i128 << (shift - 1);
    if x >= 0 { (x + half) >> shift } else { -((-x + half) >> shift) }
}

/// [`round_shift_i128`] for `i64`.
pub fn round_shift_i64(x: i64, shift: u32) -> i64 {
    // In range: the i128 result of a right shift of an i64 always fits an i64.
    round_shift_i128(i128::from(x), shift) as i64
}

/// Saturates an `i64` to `i32`.
pub fn sat_i32(x: i64) -> i32 {
    x.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// Saturates an `i32` to the symmetric int8 range `[-127, 127]` (-128 is never produced, so
/// negation is always exact).
pub fn sat_i8(x: i32) -> i8 {
    x.clamp(-127, 127) as i8
}

/// Integer division rounding half away from zero. `d` must be positive.
pub fn div_round(n: i64, d: i64) -> i64 {
    debug_assert!(d > 0);
    let q = (n.unsigned_abs() + (d as u64) / 2) / d as u64;
    if n < 0 { -(q as i64) } else { q as i64 }
}

/// A real multiplier `M ≈ m0 · 2^(shift − 31)` with `m0 ∈ [2^30, 2^31)` (or 0 for `M = 0`),
/// as produced offline by the converter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Multiplier {
    /// Mantissa in Q31.
    pub m0: i32,
    /// Power-of-two exponent.
    pub shift: i8,
}

impl Multiplier {
    /// Size of the canonical little-endian encoding.
    pub const ENCODED_LEN: usize = 5;

    /// Applies the multiplier to `x` with an extra power-of-two exponent `e`:
    /// `round_half_away(x · m0 · 2^(shift − 31 + e))`, saturated to `i32`.
    pub fn apply(self, x: i32, e: i32) -> i32 {
        let prod = i128::from(x) * i128::from(self.m0);
        scale_pow2(prod, 31 - i32::from(self.shift) - e)
    }

    /// Applies the multiplier to an accumulator of a row quantised by [`quantize_max`] with
    /// maximum `max`: `acc · max / 127 · m0 · 2^(shift − 31)`. The division by 127 rounds first
    /// (half away from zero), then the power-of-two shift rounds again; the result saturates.
    pub fn apply_scaled(self, acc: i32, max: u32) -> i32 {
        let num = i128::from(acc) * i128::from(max) * i128::from(self.m0);
        scale_pow2(div_round_i128(num, 127), 31 - i32::from(self.shift))
    }

    /// Applies the multiplier to a wide accumulator carrying `extra` more fractional bits:
    /// `round_half_away(acc · m0 · 2^(shift − 31 − extra))`, saturated. `|acc · m0|` must fit an
    /// i128 (it saturates otherwise).
    pub fn apply_wide(self, acc: i128, extra: u32) -> i32 {
        let right = 31 + extra as i32 - i32::from(self.shift);
        if let Ok(a) = i64::try_from(acc)
            && (1..127).contains(&right)
        {
            // The common case, without the general path's branches: |a · m0| < 2^94 is exact,
            // and for x < 0, −((−x + half) >> s) = (x + half − 1) >> s (both are
            // ⌈(x − half) / 2^s⌉).
            let x = i128::from(a) * i128::from(self.m0);
            let v = (x + (1i128 << (right - 1)) - i128::from(x < 0)) >> right;
            return v.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32;
        }
        // |m0| ≤ 2^31: below 2^96 the product cannot overflow, so it equals the saturating one
        // (which costs a checked 128-bit multiply).
        let prod = if acc.unsigned_abs() < 1 << 96 {
            acc * i128::from(self.m0)
        } else {
            acc.saturating_mul(i128::from(self.m0))
        };
        scale_pow2(prod, right)
    }

    /// Decodes from 5 little-endian bytes (`m0` then `shift`).
    pub fn from_le_bytes(b: [u8; 5]) -> Self {
        Self { m0: i32::from_le_bytes([b[0], b[1], b[2], b[3]]), shift: b[4] as i8 }
    }

    /// Encodes to 5 little-endian bytes.
    pub fn to_le_bytes(self) -> [u8; 5] {
        let m = self.m0.to_le_bytes();
        [m[0], m[1], m[2], m[3], self.shift as u8]
    }
}

/// `v · 2^-right` saturated to `i32`: a right shift rounds half away from zero; a left shift
/// (negative `right`, at most 64 places) saturates to the i128 range first.
fn scale_pow2(v: i128, right: i32) -> i32 {
    let v = if right >= 0 {
        round_shift_i128(v, right as u32)
    } else {
        let left = (-right).min(64) as u32;
        v.checked_shl(left).filter(|x| (x >> left) == v).unwrap_or(if v < 0 {
            i128::MIN
        } else {
            i128::MAX
        })
    };
    v.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32
}

/// Division of an `i128` by a positive `d`, rounding half away from zero.
pub fn div_round_i128(n: i128, d: i128) -> i128 {
    debug_assert!(d > 0);
    let q = (n.unsigned_abs() + (d as u128) / 2) / d as u128;
    if n < 0 { -(q as i128) } else { q as i128 }
}

/// Quantises a row of fixed-point values to int8 with the per-row scale `max|x| / 127`:
/// `q = round(x · 127 / max)`, so `x ≈ q · max / 127`. Returns `max` (0 for an all-zero row).
pub fn quantize_max(x: &[i32], out: &mut [i8]) -> u32 {
    debug_assert_eq!(x.len(), out.len());
    let max = x.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0);
    if max == 0 {
        out.fill(0);
        return 0;
    }
    // div_round(v · 127, max) without a division per element: the quotient of
    // n = |v| · 127 + max / 2 < 2^39 by d = max is at most 127, and
    // n · floor((2^64 − 1) / d) / 2^64 undershoots it by less than 1, so one correction step
    // makes it exact.
    let d = u64::from(max);
    let recip = u64::MAX / d;
    for (o, &v) in out.iter_mut().zip(x) {
        let n = u64::from(v.unsigned_abs()) * 127 + d / 2;
        let mut q = ((u128::from(n) * u128::from(recip)) >> 64) as u64;
        if n - q * d >= d {
            q += 1;
        }
        *o = if v < 0 { -(q as i8) } else { q as i8 };
    }
    max
}

/// Floor of the square root of `x`.
pub fn isqrt_u128(x: u128) -> u128 {
    if x < 2 {
        return x;
    }
    // Newton's iteration from an over-estimate decreases monotonically to floor(sqrt(x)).
    let bits = 128 - x.leading_zeros();
    let mut r = 1u128 << bits.div_ceil(2);
    loop {
        let next = (r + x / r) / 2;
        if next >= r {
            return r;
        }
        r = next;
    }
}

/// Integer reciprocal square root: `round(2^36 / sqrt(v))` for `v ≥ 1`, i.e. `1/sqrt` of a Q24
/// value returned in Q24. `v = 0` is treated as 1.
pub fn rsqrt_q24(v: u64) -> u64 {
    // sqrt(v · 2^16) = sqrt(v) · 2^8, so 2^44 / that = 2^36 / sqrt(v).
    let s = isqrt_u128(u128::from(v.max(1)) << 16);
    let num = 1u128 << 44;
    ((num + s / 2) / s) as u64
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn rounding_ties_go_away_from_zero() {
        assert_eq!(round_shift_i64(3, 1), 2);
        assert_eq!(round_shift_i64(-3, 1), -2);
        assert_eq!(round_shift_i64(5, 2), 1);
        assert_eq!(round_shift_i64(6, 2), 2);
        assert_eq!(round_shift_i64(-6, 2), -2);
        assert_eq!(round_shift_i64(i64::MIN, 63), -1);
        assert_eq!(div_round(-7, 2), -4);
        assert_eq!(div_round(7, 2), 4);
    }

    #[test]
    fn multiplier_extremes_saturate() {
        let m = Multiplier { m0: i32::MAX, shift: 31 };
        assert_eq!(m.apply(i32::MAX, 10), i32::MAX);
        assert_eq!(m.apply(i32::MIN, 10), i32::MIN);
        let half = Multiplier { m0: 1 << 30, shift: 0 };
        assert_eq!(half.apply(3, 0), 2);
        assert_eq!(half.apply(-3, 0), -2);
        assert_eq!(half.apply(i32::MIN, 0), -(1 << 30));
    }

    proptest! {
        #[test]
        fn isqrt_is_floor_sqrt(x in any::<u64>()) {
            let r = isqrt_u128(u128::from(x));
            prop_assert!(r * r <= u128::from(x));
            prop_assert!((r + 1) * (r + 1) > u128::from(x));
        }

        #[test]
        fn multiplier_matches_exact_rational(x in any::<i32>(), m0 in (1i32 << 30)..i32::MAX, s in -20i8..20, e in -8i32..8) {
            let m = Multiplier { m0, shift: s };
            let right = 31 - i32::from(s) - e;
            prop_assume!(right > 0);
            let exact = i128::from(x) * i128::from(m0);
            let d = 1i128 << right;
            // Nearest integer, ties away from zero, via exact rational comparison.
            let q = exact / d;
            let r = exact % d;
            let want = if 2 * r.abs() >= d { q + r.signum() } else { q };
            let want = want.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32;
            prop_assert_eq!(m.apply(x, e), want);
        }

        #[test]
        fn quantize_max_equals_the_division_definition(
            x in proptest::collection::vec(
                prop_oneof![any::<i32>(), Just(i32::MIN), Just(i32::MAX), -3i32..3],
                1..64,
            ),
        ) {
            let mut q = vec![0i8; x.len()];
            let max = quantize_max(&x, &mut q);
            prop_assert_eq!(max, x.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0));
            for (&v, &qv) in x.iter().zip(&q) {
                let want = if max == 0 { 0 } else { div_round(i64::from(v) * 127, i64::from(max)) };
                prop_assert_eq!(i64::from(qv), want);
            }
        }

        #[test]
        fn apply_wide_equals_the_saturating_definition(
            // Beyond 2^96 the definition's saturated product can overflow its own rounding.
            acc in prop_oneof![
                -(1i128 << 96)..(1i128 << 96),
                any::<i64>().prop_map(i128::from),
                (any::<i64>(), 0u32..32).prop_map(|(v, s)| i128::from(v) << s),
            ],
            m0 in prop_oneof![(1i32 << 30)..i32::MAX, Just(0), Just(i32::MIN), any::<i32>()],
            shift in any::<i8>(), extra in 0u32..40,
        ) {
            let m = Multiplier { m0, shift };
            let prod = acc.saturating_mul(i128::from(m0));
            let right = 31 + extra as i32 - i32::from(shift);
            let v = if right >= 0 {
                round_shift_i128(prod, right as u32)
            } else {
                let left = (-right).min(64) as u32;
                let sat = if prod < 0 { i128::MIN } else { i128::MAX };
                prod.checked_shl(left).filter(|x| (x >> left) == prod).unwrap_or(sat)
            };
            let want = v.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32;
            prop_assert_eq!(m.apply_wide(acc, extra), want);
        }

        #[test]
        fn quantize_max_reconstructs_within_half_step(x in proptest::collection::vec(any::<i32>(), 1..64)) {
            let mut q = vec![0i8; x.len()];
            let max = quantize_max(&x, &mut q);
            for (&v, &qv) in x.iter().zip(&q) {
                let back = i128::from(qv) * i128::from(max);
                prop_assert!((back - 127 * i128::from(v)).abs() <= i128::from(max) / 2 + 1);
            }
        }

        #[test]
        fn apply_scaled_is_close_to_the_real_product(acc in any::<i32>(), max in any::<u32>(), m0 in (1i32 << 30)..i32::MAX, s in -20i8..8) {
            let m = Multiplier { m0, shift: s };
            let real = f64::from(acc) * f64::from(max) / 127.0 * f64::from(m0) * 2f64.powi(i32::from(s) - 31);
            let want = real.clamp(f64::from(i32::MIN), f64::from(i32::MAX));
            prop_assert!((f64::from(m.apply_scaled(acc, max)) - want).abs() <= 1.0 + want.abs() * 1e-12);
        }

        #[test]
        fn rsqrt_is_close(v in 1u64..(1u64 << 46)) {
            let r = rsqrt_q24(v) as f64;
            let want = (1u64 << 36) as f64 / (v as f64).sqrt();
            prop_assert!((r - want).abs() <= want * 1e-6 + 1.0);
        }
    }
}
