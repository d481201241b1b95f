//! Stake-pool share accounting: each operator's pool holds `assets` (tokens) owned pro rata by
//! `shares`. A reward raises assets for every share holder; a slash lowers them; neither touches
//! the share counts, so delegators gain and lose exactly in proportion to what they hold.
//!
//! Conversions add one virtual share and one virtual asset (OpenZeppelin ERC-4626's offset), so
//! an empty pool prices shares 1:1 and the first depositor cannot inflate the share price.
//! Both conversions round down, in the pool's favour.

use alloy_primitives::U256;

/// Shares minted for depositing `assets` into a pool with `total_shares` and `total_assets`.
/// `None` on overflow.
pub fn shares_for_assets(assets: U256, total_shares: U256, total_assets: U256) -> Option<U256> {
    assets
        .checked_mul(total_shares.checked_add(U256::from(1u8))?)?
        .checked_div(total_assets.checked_add(U256::from(1u8))?)
}

/// Assets that `shares` are worth in a pool with `total_shares` and `total_assets`.
/// `None` on overflow.
pub fn assets_for_shares(shares: U256, total_shares: U256, total_assets: U256) -> Option<U256> {
    shares
        .checked_mul(total_assets.checked_add(U256::from(1u8))?)?
        .checked_div(total_shares.checked_add(U256::from(1u8))?)
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn empty_pool_is_one_to_one() {
        let x = U256::from(1_000u64);
        assert_eq!(shares_for_assets(x, U256::ZERO, U256::ZERO), Some(x));
    }

    #[test]
    fn reward_raises_and_slash_lowers_share_value() {
        let (shares, assets) = (U256::from(100u64), U256::from(100u64));
        let before = assets_for_shares(U256::from(50u64), shares, assets).unwrap();
        let after_reward =
            assets_for_shares(U256::from(50u64), shares, U256::from(200u64)).unwrap();
        let after_slash = assets_for_shares(U256::from(50u64), shares, U256::from(50u64)).unwrap();
        assert!(after_reward > before && after_slash < before);
    }

    proptest! {
        #[test]
        fn round_trip_never_gains(deposit in 1u64..u64::MAX, shares in 0u64..u64::MAX,
                                  assets in 0u64..u64::MAX) {
            let (s, a) = (U256::from(shares), U256::from(assets));
            let minted = shares_for_assets(U256::from(deposit), s, a).unwrap();
            let back = assets_for_shares(minted, s + minted, a + U256::from(deposit)).unwrap();
            prop_assert!(back <= U256::from(deposit));
        }
    }
}
