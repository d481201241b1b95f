//! 256-bit division and remainder in a few hundred bytes of wasm.
//!
//! `ruint`'s general `U256` division is about 17 KB of code once compiled for Stylus. The protocol
//! only needs a remainder (the draws) and divisions by small numbers (reward splits, basis points, ppm),
//! so these helpers compute the same values with 32-bit steps and a binary long division. They
//! return exactly what `U256::checked_div` / `U256::checked_rem` return (property-tested below),
//! so the contracts and off-chain observers agree bit for bit.

use alloy_primitives::U256;

/// `x / d` and `x % d` for a 32-bit divisor; `None` when `d == 0`. Works on 32-bit halves of the
/// limbs so every step is a native 64-bit division (no 128-bit division routine either).
pub fn div_rem_small(x: U256, d: u32) -> Option<(U256, u32)> {
    if d == 0 {
        return None;
    }
    let divisor = u64::from(d);
    let mut limbs = x.into_limbs(); // little-endian 64-bit limbs
    let mut rem: u64 = 0;
    for limb in limbs.iter_mut().rev() {
        let mut quotient: u64 = 0;
        for half in [*limb >> 32, *limb & 0xffff_ffff] {
            // rem < d < 2^32, so `rem << 32 | half` fits 64 bits and its quotient 32 bits.
            let acc = (rem << 32) | half;
            quotient = (quotient << 32) | acc.checked_div(divisor).unwrap_or_default();
            rem = acc.checked_rem(divisor).unwrap_or_default();
        }
        *limb = quotient;
    }
    Some((U256::from_limbs(limbs), rem as u32))
}

/// `x / d` for a 32-bit divisor; `None` when `d == 0`.
pub fn div_small(x: U256, d: u32) -> Option<U256> {
    div_rem_small(x, d).map(|(q, _)| q)
}

/// `x % m` for any 256-bit modulus; `None` when `m == 0`.
pub fn rem(x: U256, m: U256) -> Option<U256> {
    if m.is_zero() {
        return None;
    }
    if let Ok(small) = u32::try_from(m) {
        return div_rem_small(x, small).map(|(_, r)| U256::from(r));
    }
    // Binary long division keeping only the remainder: r < m before each step, so
    // 2r + bit < 2m, and one conditional subtraction restores r < m. The bit shifted out of r
    // is the 257th bit of 2r; when set, 2r + bit >= 2^256 > m and the wrapping subtraction
    // yields the true difference.
    let mut r = U256::ZERO;
    for i in (0..256).rev() {
        let carry = r.bit(255);
        r = r.wrapping_shl(1) | U256::from(u8::from(x.bit(i)));
        if carry || r >= m {
            r = r.wrapping_sub(m);
        }
    }
    Some(r)
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn wide() -> impl Strategy<Value = U256> {
        prop_oneof![
            any::<[u64; 4]>().prop_map(U256::from_limbs),
            any::<u64>().prop_map(U256::from),
            any::<u128>().prop_map(U256::from),
            (0usize..256).prop_map(|s| U256::MAX >> s),
        ]
    }

    #[test]
    fn edges_match_ruint() {
        for x in [U256::ZERO, U256::from(1u8), U256::MAX, U256::MAX - U256::from(1u8)] {
            for m in [U256::from(1u8), U256::from(2u8), U256::MAX, U256::from(1u128 << 64)] {
                assert_eq!(rem(x, m), x.checked_rem(m), "{x} % {m}");
            }
            assert_eq!(div_rem_small(x, u32::MAX).unwrap().0, x / U256::from(u32::MAX));
        }
        assert_eq!(rem(U256::MAX, U256::ZERO), None);
        assert_eq!(div_small(U256::MAX, 0), None);
    }

    proptest! {
        #[test]
        fn rem_matches_ruint(x in wide(), m in wide()) {
            prop_assert_eq!(rem(x, m), x.checked_rem(m));
        }

        #[test]
        fn small_division_matches_ruint(x in wide(), d in any::<u32>()) {
            let expected = x.checked_div(U256::from(d)).zip(x.checked_rem(U256::from(d)));
            let got = div_rem_small(x, d).map(|(q, r)| (q, U256::from(r)));
            prop_assert_eq!(got, expected);
        }
    }
}
