//! Pool state and its transitions: deposits mint shares, unbonding parks them, withdrawals burn
//! them, rewards and slashes change the assets behind them. Every transition keeps
//! `total_accounted` equal to the sum of all pools' assets.

use alloy_primitives::{
    aliases::{U32, U64},
    Address, U256,
};
use assay_contract_common::shares;
use stylus_sdk::{
    prelude::*,
    storage::{StorageMap, StorageU256, StorageU32, StorageU64, StorageU8},
};

use crate::{overflow, IStaking, Result, Staking};

/// One operator's stake pool.
#[storage]
pub struct Pool {
    pub(crate) role: StorageU8,
    pub(crate) assets: StorageU256,
    pub(crate) total_shares: StorageU256,
    pub(crate) unbonding_shares: StorageU256,
    pub(crate) reputation: StorageU32,
    pub(crate) open_disputes: StorageU32,
    pub(crate) shares: StorageMap<Address, StorageU256>,
    pub(crate) unbonding: StorageMap<Address, Unbonding>,
}

/// A staker's pending withdrawal from one pool.
#[storage]
pub struct Unbonding {
    pub(crate) shares: StorageU256,
    pub(crate) release_at: StorageU64,
}

impl Pool {
    /// Token value of `shares` at the pool's current price (rounded down).
    pub(crate) fn value_of(&self, shares: U256) -> U256 {
        shares::assets_for_shares(shares, self.total_shares.get(), self.assets.get())
            .unwrap_or(U256::MAX)
    }

    /// Active stake times reputation (basis points) / 10 000.
    pub(crate) fn weight(&self) -> U256 {
        let active = self.total_shares.get().saturating_sub(self.unbonding_shares.get());
        let reputation = U256::from(self.reputation.get().to::<u32>());
        self.value_of(active)
            .saturating_mul(reputation)
            .checked_div(U256::from(10_000u32))
            .unwrap_or_default()
    }
}

impl Staking {
    /// Mints shares for `amount` to `staker` in `operator`'s pool, then pulls the tokens.
    pub(crate) fn _deposit(
        &mut self,
        staker: Address,
        operator: Address,
        amount: U256,
    ) -> Result<U256> {
        if amount.is_zero() {
            return Err(IStaking::ZeroAmount {}.into());
        }
        let total = self.total_accounted.get().checked_add(amount).ok_or_else(overflow)?;
        let mut pool = self.pools.setter(operator);
        let (total_shares, assets) = (pool.total_shares.get(), pool.assets.get());
        let minted =
            shares::shares_for_assets(amount, total_shares, assets).ok_or_else(overflow)?;
        if minted.is_zero() {
            return Err(IStaking::ZeroAmount {}.into());
        }
        // Each sum is bounded by `total` or by shares minted against it, checked above.
        pool.assets.set(assets.checked_add(amount).ok_or_else(overflow)?);
        pool.total_shares.set(total_shares.checked_add(minted).ok_or_else(overflow)?);
        let held = pool.shares.get(staker);
        pool.shares.insert(staker, held.checked_add(minted).ok_or_else(overflow)?);
        self.total_accounted.set(total);
        assay_contract_kit::emit(
            self.vm(),
            IStaking::Staked { staker, operator, assets: amount, shares: minted },
        );
        self._pull(staker, amount)?;
        Ok(minted)
    }

    /// Moves `shares` of `staker` into its unbonding entry, releasing at `release_at`.
    pub(crate) fn _start_unbonding(
        &mut self,
        operator: Address,
        staker: Address,
        shares: U256,
        release_at: u64,
    ) -> Result<()> {
        if shares.is_zero() {
            return Err(IStaking::ZeroAmount {}.into());
        }
        let mut pool = self.pools.setter(operator);
        let have = pool.shares.get(staker);
        let Some(rest) = have.checked_sub(shares) else {
            return Err(IStaking::InsufficientShares { have, want: shares }.into());
        };
        pool.shares.insert(staker, rest);
        let parked = pool.unbonding_shares.get().checked_add(shares).ok_or_else(overflow)?;
        pool.unbonding_shares.set(parked);
        let mut entry = pool.unbonding.setter(staker);
        let pending = entry.shares.get().checked_add(shares).ok_or_else(overflow)?;
        entry.shares.set(pending);
        entry.release_at.set(U64::from(release_at));
        Ok(())
    }

    /// Burns `staker`'s released unbonding shares; returns `(shares, assets)` to pay out.
    pub(crate) fn _finish_unbonding(
        &mut self,
        operator: Address,
        staker: Address,
    ) -> Result<(U256, U256)> {
        let now = self.vm().block_timestamp();
        let mut pool = self.pools.setter(operator);
        let (shares, release_at) = {
            let entry = pool.unbonding.get(staker);
            (entry.shares.get(), entry.release_at.get().to::<u64>())
        };
        if shares.is_zero() {
            return Err(IStaking::NothingUnbonding { staker, operator }.into());
        }
        if now < release_at {
            return Err(IStaking::StillUnbonding { releaseAt: release_at, timestamp: now }.into());
        }
        if pool.open_disputes.get() != U32::ZERO {
            return Err(IStaking::StakeFrozen { operator }.into());
        }
        let assets = pool.value_of(shares);
        // `shares` are part of both totals and `assets` is at most the pool's assets.
        let total_shares = pool.total_shares.get().checked_sub(shares).ok_or_else(overflow)?;
        let unbonding_shares =
            pool.unbonding_shares.get().checked_sub(shares).ok_or_else(overflow)?;
        let remaining = pool.assets.get().checked_sub(assets).ok_or_else(overflow)?;
        pool.total_shares.set(total_shares);
        pool.unbonding_shares.set(unbonding_shares);
        pool.assets.set(remaining);
        let mut entry = pool.unbonding.setter(staker);
        entry.shares.set(U256::ZERO);
        entry.release_at.set(U64::ZERO);
        let total = self.total_accounted.get().checked_sub(assets).ok_or_else(overflow)?;
        self.total_accounted.set(total);
        Ok((shares, assets))
    }

    /// Removes up to `amount` from `operator`'s pool; returns what was removed.
    pub(crate) fn _take_assets(&mut self, operator: Address, amount: U256) -> Result<U256> {
        let mut pool = self.pools.setter(operator);
        let assets = pool.assets.get();
        let taken = amount.min(assets);
        pool.assets.set(assets.saturating_sub(taken));
        let total = self.total_accounted.get().checked_sub(taken).ok_or_else(overflow)?;
        self.total_accounted.set(total);
        Ok(taken)
    }

    /// Adds `amount` to `operator`'s pool.
    pub(crate) fn _add_assets(&mut self, operator: Address, amount: U256) -> Result<()> {
        let total = self.total_accounted.get().checked_add(amount).ok_or_else(overflow)?;
        let mut pool = self.pools.setter(operator);
        let assets = pool.assets.get().checked_add(amount).ok_or_else(overflow)?;
        pool.assets.set(assets);
        self.total_accounted.set(total);
        Ok(())
    }
}
