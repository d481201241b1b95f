//! The Proof-of-Sampling honesty condition (DESIGN 3.2).
//!
//! Cheating saves a miner cost `C` and is caught when a challenge fires (probability `p`) and at
//! least one of `n` drawn validators is honest (probability `1 - r^n` when a fraction `r` of the
//! stake colludes). The market is safe when `p * (1 - r^n) * (R_A + S) > C`.
//!
//! All fractions are parts per million. `r^n` is rounded *up* at every step, so the computed
//! detection probability is never more optimistic than the exact one.

use alloy_primitives::U256;

use crate::PPM;

/// Why a parameter set fails the honesty condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HonestyError {
    /// A probability or fraction is above one (1 000 000 ppm).
    FractionOutOfRange,
    /// No validator would ever be drawn.
    NoValidators,
    /// The expected loss from cheating does not exceed the saving.
    Unprofitable {
        /// `p * (1 - r^n) * (R_A + S)`, scaled by `PPM^2`.
        expected_loss_scaled: U256,
        /// `C`, scaled by `PPM^2`.
        cheat_cost_scaled: U256,
    },
    /// The inputs are so large that the products overflow 256 bits.
    Overflow,
}

/// `r^n` in ppm, rounded up at every multiplication.
pub fn collusion_power_ppm(r_ppm: u32, n: u8) -> u64 {
    let scale = u64::from(PPM);
    let r = u64::from(r_ppm);
    let mut acc = scale;
    for _ in 0..n {
        // acc <= 1e6 and r <= 1e6, so the product stays below 2^40.
        acc = acc.saturating_mul(r).div_ceil(scale);
    }
    acc
}

/// Checks `p * (1 - r^n) * (R_A + S) > C`.
///
/// # Errors
/// Returns the reason the parameters are unsafe.
pub fn check(
    p_ppm: u32,
    n: u8,
    r_ppm: u32,
    reward_asserter: U256,
    slash: U256,
    cheat_cost: U256,
) -> Result<(), HonestyError> {
    if p_ppm > PPM || r_ppm > PPM {
        return Err(HonestyError::FractionOutOfRange);
    }
    if n == 0 {
        return Err(HonestyError::NoValidators);
    }
    let detect_ppm = u64::from(PPM).saturating_sub(collusion_power_ppm(r_ppm, n));
    let stake_at_risk = reward_asserter.checked_add(slash).ok_or(HonestyError::Overflow)?;
    let expected_loss_scaled = U256::from(p_ppm)
        .checked_mul(U256::from(detect_ppm))
        .and_then(|x| x.checked_mul(stake_at_risk))
        .ok_or(HonestyError::Overflow)?;
    let ppm2 = U256::from(1_000_000_000_000u64); // PPM squared
    let cheat_cost_scaled = cheat_cost.checked_mul(ppm2).ok_or(HonestyError::Overflow)?;
    if expected_loss_scaled > cheat_cost_scaled {
        Ok(())
    } else {
        Err(HonestyError::Unprofitable { expected_loss_scaled, cheat_cost_scaled })
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn design_example_slash_100c_with_p_near_one_percent_is_safe() {
        // S = 100 C, p = 1.1 %, n = 2, r = 10 %: 0.011 * 0.99 * 101 C = 1.1 C > C.
        let c = U256::from(1_000_000u64);
        assert_eq!(check(11_000, 2, 100_000, U256::from(1u64), c * U256::from(100u64), c), Ok(()));
        // p = 0.9 % is not enough: 0.009 * 0.99 * 100 C = 0.89 C.
        assert!(matches!(
            check(9_000, 2, 100_000, U256::ZERO, c * U256::from(100u64), c),
            Err(HonestyError::Unprofitable { .. })
        ));
    }

    #[test]
    fn full_collusion_never_detects() {
        assert_eq!(collusion_power_ppm(PPM, 5), u64::from(PPM));
        let big = U256::from(u128::MAX);
        assert!(check(PPM, 5, PPM, big, big, U256::from(1u64)).is_err());
    }

    #[test]
    fn rejects_out_of_range_and_zero_validators() {
        let one = U256::from(1u64);
        assert_eq!(check(PPM + 1, 1, 0, one, one, one), Err(HonestyError::FractionOutOfRange));
        assert_eq!(check(1, 1, PPM + 1, one, one, one), Err(HonestyError::FractionOutOfRange));
        assert_eq!(check(PPM, 0, 0, one, one, U256::ZERO), Err(HonestyError::NoValidators));
        assert_eq!(check(PPM, 1, 0, U256::MAX, one, one), Err(HonestyError::Overflow));
    }

    proptest! {
        #[test]
        fn rounding_is_conservative(r in 0u32..=PPM, n in 1u8..12) {
            // Rounding r^n up means the integer result is >= the exact value.
            let exact = (f64::from(r) / f64::from(PPM)).powi(i32::from(n)) * f64::from(PPM);
            prop_assert!(collusion_power_ppm(r, n) as f64 >= exact - 1e-6);
        }

        #[test]
        fn more_slash_never_breaks_a_safe_set(p in 1u32..=PPM, n in 1u8..8, r in 0u32..PPM,
                                             s in 0u64..u64::MAX / 2, c in 0u64..1u64 << 40) {
            let (s, c) = (U256::from(s), U256::from(c));
            if check(p, n, r, U256::ZERO, s, c).is_ok() {
                prop_assert!(check(p, n, r, U256::ZERO, s * U256::from(2u64), c).is_ok());
            }
        }
    }
}
