//! Stake pools for Assay miners and coordinators (interface: `contracts/interfaces/IStaking.sol`).
//!
//! Every operator (a miner, role 1, or a coordinator, role 2) owns a pool of ASSAY tokens held as
//! shares ([`assay_contract_common::shares`]): the operator's own stake and its delegators'.
//! Rewards raise and slashes lower the value of every share pro rata.
//!
//! - Unstaking moves shares into an unbonding entry released after `unbondingDelay`; unbonding
//!   shares stay in the pool, so they are still slashed, and they cannot be withdrawn while the
//!   operator is frozen by an open dispute.
//! - An operator is *eligible* for its role while its own active stake is at least the role's
//!   minimum and it is not frozen. Its selection weight is its pool's active stake times its
//!   reputation (basis points, starting at 100 %).
//! - Controllers (the job market and the dispute contract, appointed by the owner) slash, reward,
//!   freeze, unfreeze and adjust reputation.
//! - `totalAccounted` is the sum of all pools; the contract's token balance always covers it.
//!
//! Layout: `pool` (pool and unbonding state transitions), `token` (calls to the ASSAY token),
//! `tests` (TestVM unit and property tests).
#![cfg_attr(not(any(test, feature = "export-abi")), no_main)]

extern crate alloc;

mod pool;
mod token;

use alloc::vec::Vec;

use alloy_primitives::{
    aliases::{U32, U64, U8},
    Address, U256,
};
use alloy_sol_types::sol;
use assay_contract_kit::Ownable;
use stylus_sdk::{
    prelude::*,
    storage::{StorageAddress, StorageBool, StorageMap, StorageU256, StorageU64},
};

pub use crate::pool::Pool;

sol!(
    #[sol(all_derives)]
    "../interfaces/IStaking.sol"
);
sol!("../interfaces/IAssayToken.sol");

/// Role of a miner.
pub const ROLE_MINER: u8 = assay_contract_common::codes::Role::Miner as u8;
/// Role of a coordinator.
pub const ROLE_COORDINATOR: u8 = assay_contract_common::codes::Role::Coordinator as u8;
/// Reputation of a new operator, in basis points (100 %).
pub const INITIAL_REPUTATION: u32 = 10_000;
/// Highest reputation, in basis points (200 %).
pub const MAX_REPUTATION: u32 = 20_000;

/// The staking contract's storage.
#[storage]
#[entrypoint]
pub struct Staking {
    token: StorageAddress,
    pools: StorageMap<Address, Pool>,
    min_miner_stake: StorageU256,
    min_coordinator_stake: StorageU256,
    unbonding_delay: StorageU64,
    controllers: StorageMap<Address, StorageBool>,
    total_accounted: StorageU256,
    ownable: Ownable,
}

/// Every revert of the staking contract, each a named Solidity error.
#[derive(SolidityError, Debug)]
pub enum StakingError {
    /// `UnknownRole`.
    UnknownRole(IStaking::UnknownRole),
    /// `AlreadyRegistered`.
    AlreadyRegistered(IStaking::AlreadyRegistered),
    /// `NotRegistered`.
    NotRegistered(IStaking::NotRegistered),
    /// `ZeroAmount`.
    ZeroAmount(IStaking::ZeroAmount),
    /// `BelowMinimumStake`.
    BelowMinimumStake(IStaking::BelowMinimumStake),
    /// `InsufficientShares`.
    InsufficientShares(IStaking::InsufficientShares),
    /// `NothingUnbonding`.
    NothingUnbonding(IStaking::NothingUnbonding),
    /// `StillUnbonding`.
    StillUnbonding(IStaking::StillUnbonding),
    /// `StakeFrozen`.
    StakeFrozen(IStaking::StakeFrozen),
    /// `NotFrozen`.
    NotFrozen(IStaking::NotFrozen),
    /// `NotController`.
    NotController(IStaking::NotController),
    /// `UnbackedReward`.
    UnbackedReward(IStaking::UnbackedReward),
    /// `TokenCallFailed`.
    TokenCallFailed(IStaking::TokenCallFailed),
    /// `ArithmeticOverflow`.
    ArithmeticOverflow(IStaking::ArithmeticOverflow),
    /// `OwnableUnauthorizedAccount`.
    Unauthorized(assay_contract_kit::OwnableUnauthorizedAccount),
    /// `OwnableInvalidOwner`.
    InvalidOwner(assay_contract_kit::OwnableInvalidOwner),
}

assay_contract_kit::ownable_errors_into!(StakingError);

pub(crate) type Result<T, E = StakingError> = core::result::Result<T, E>;

pub(crate) fn overflow() -> StakingError {
    IStaking::ArithmeticOverflow {}.into()
}

#[public]
impl Staking {
    /// Binds the contract to the ASSAY `token` and sets the owner and the first parameters.
    #[constructor]
    pub fn constructor(
        &mut self,
        owner: Address,
        token: Address,
        min_miner_stake: U256,
        min_coordinator_stake: U256,
        unbonding_delay: u64,
    ) -> Result<()> {
        self.ownable.init(owner)?;
        self.token.set(token);
        self.min_miner_stake.set(min_miner_stake);
        self.min_coordinator_stake.set(min_coordinator_stake);
        self.unbonding_delay.set(U64::from(unbonding_delay));
        Ok(())
    }

    /// The ASSAY token staked here.
    pub fn token(&self) -> Address {
        self.token.get()
    }

    /// Opens the caller's pool for `role` with a first self-stake of `amount` (pulled with
    /// `transferFrom`; approve first). Returns the shares minted.
    ///
    /// # Errors
    /// `UnknownRole`, `AlreadyRegistered`, `BelowMinimumStake`, `TokenCallFailed`.
    ///
    /// # Events
    /// `OperatorRegistered`, `Staked`.
    pub fn register_operator(&mut self, role: u8, amount: U256) -> Result<U256> {
        let operator = self.vm().msg_sender();
        let minimum = self.min_stake_for(role)?;
        if self.pools.get(operator).role.get() != U8::ZERO {
            return Err(IStaking::AlreadyRegistered { operator }.into());
        }
        if amount < minimum {
            return Err(IStaking::BelowMinimumStake { stake: amount, minimum }.into());
        }
        let mut pool = self.pools.setter(operator);
        pool.role.set(U8::from(role));
        pool.reputation.set(U32::from(INITIAL_REPUTATION));
        assay_contract_kit::emit(self.vm(), IStaking::OperatorRegistered { operator, role });
        self._deposit(operator, operator, amount)
    }

    /// Stakes `amount` of the caller's tokens in `operator`'s pool (delegation, or a top-up when
    /// the caller is the operator). Returns the shares minted.
    ///
    /// # Errors
    /// `NotRegistered`, `ZeroAmount`, `StakeFrozen` (no new stake joins a pool under dispute),
    /// `TokenCallFailed`.
    ///
    /// # Events
    /// `Staked`.
    pub fn stake(&mut self, operator: Address, amount: U256) -> Result<U256> {
        self.registered(operator)?;
        if self.pools.get(operator).open_disputes.get() != U32::ZERO {
            return Err(IStaking::StakeFrozen { operator }.into());
        }
        let staker = self.vm().msg_sender();
        self._deposit(staker, operator, amount)
    }

    /// Starts unbonding `shares` of the caller's stake in `operator`'s pool. A new request adds
    /// to the pending one and restarts its delay. Returns the release time.
    ///
    /// # Errors
    /// `NotRegistered`, `ZeroAmount`, `InsufficientShares`.
    ///
    /// # Events
    /// `UnstakeRequested`.
    pub fn request_unstake(&mut self, operator: Address, shares: U256) -> Result<u64> {
        self.registered(operator)?;
        let staker = self.vm().msg_sender();
        let release_at = self
            .vm()
            .block_timestamp()
            .checked_add(self.unbonding_delay.get().to::<u64>())
            .ok_or_else(overflow)?;
        self._start_unbonding(operator, staker, shares, release_at)?;
        assay_contract_kit::emit(
            self.vm(),
            IStaking::UnstakeRequested { staker, operator, shares, releaseAt: release_at },
        );
        Ok(release_at)
    }

    /// Pays out the caller's unbonded stake in `operator`'s pool once its delay has passed.
    /// Returns the tokens paid.
    ///
    /// # Errors
    /// `NothingUnbonding`, `StillUnbonding`, `StakeFrozen`, `TokenCallFailed`.
    ///
    /// # Events
    /// `Withdrawn`.
    pub fn withdraw(&mut self, operator: Address) -> Result<U256> {
        let staker = self.vm().msg_sender();
        let (shares, assets) = self._finish_unbonding(operator, staker)?;
        assay_contract_kit::emit(
            self.vm(),
            IStaking::Withdrawn { staker, operator, shares, assets },
        );
        self._pay(staker, assets)?;
        Ok(assets)
    }

    /// Takes up to `amount` from `operator`'s pool (all share holders lose pro rata) and sends it
    /// to `recipient`, or burns it when `recipient` is zero. Returns what was taken; controllers only.
    ///
    /// # Errors
    /// `NotController`, `NotRegistered`, `TokenCallFailed`.
    ///
    /// # Events
    /// `Slashed`.
    pub fn slash(&mut self, operator: Address, amount: U256, recipient: Address) -> Result<U256> {
        self.only_controller()?;
        self.registered(operator)?;
        let taken = self._take_assets(operator, amount)?;
        assay_contract_kit::emit(
            self.vm(),
            IStaking::Slashed { operator, amount: taken, recipient },
        );
        if recipient.is_zero() {
            self._burn(taken)?;
        } else {
            self._pay(recipient, taken)?;
        }
        Ok(taken)
    }

    /// Credits `amount` tokens, already sent to this contract, to `operator`'s pool: every share
    /// holder gains pro rata. Controllers only.
    ///
    /// # Errors
    /// `NotController`, `NotRegistered`, `UnbackedReward` when the tokens have not arrived.
    ///
    /// # Events
    /// `RewardAdded`.
    pub fn add_reward(&mut self, operator: Address, amount: U256) -> Result<()> {
        self.only_controller()?;
        self.registered(operator)?;
        let needed = self.total_accounted.get().checked_add(amount).ok_or_else(overflow)?;
        let balance = self._token_balance()?;
        if balance < needed {
            return Err(IStaking::UnbackedReward { balance, needed }.into());
        }
        self._add_assets(operator, amount)?;
        assay_contract_kit::emit(self.vm(), IStaking::RewardAdded { operator, amount });
        Ok(())
    }

    /// Records one more open dispute involving `operator`; controllers only.
    ///
    /// # Errors
    /// `NotController`, `NotRegistered`.
    ///
    /// # Events
    /// `FreezeChanged`.
    pub fn freeze(&mut self, operator: Address) -> Result<()> {
        self.only_controller()?;
        self.registered(operator)?;
        let mut pool = self.pools.setter(operator);
        let open = pool.open_disputes.get().checked_add(U32::from(1)).ok_or_else(overflow)?;
        pool.open_disputes.set(open);
        assay_contract_kit::emit(
            self.vm(),
            IStaking::FreezeChanged { operator, openDisputes: open.to() },
        );
        Ok(())
    }

    /// Records that a dispute involving `operator` closed; controllers only.
    ///
    /// # Errors
    /// `NotController`, `NotFrozen`.
    ///
    /// # Events
    /// `FreezeChanged`.
    pub fn unfreeze(&mut self, operator: Address) -> Result<()> {
        self.only_controller()?;
        let mut pool = self.pools.setter(operator);
        let Some(open) = pool.open_disputes.get().checked_sub(U32::from(1)) else {
            return Err(IStaking::NotFrozen { operator }.into());
        };
        pool.open_disputes.set(open);
        assay_contract_kit::emit(
            self.vm(),
            IStaking::FreezeChanged { operator, openDisputes: open.to() },
        );
        Ok(())
    }

    /// Moves `operator`'s reputation by `delta` basis points, clamped to `[0, 20000]`. Returns the
    /// new reputation; controllers only.
    ///
    /// # Errors
    /// `NotController`, `NotRegistered`.
    ///
    /// # Events
    /// `ReputationChanged`.
    pub fn adjust_reputation(&mut self, operator: Address, delta: i32) -> Result<u32> {
        self.only_controller()?;
        self.registered(operator)?;
        let mut pool = self.pools.setter(operator);
        let current = i64::from(pool.reputation.get().to::<u32>());
        let updated = current.saturating_add(i64::from(delta)).clamp(0, i64::from(MAX_REPUTATION));
        let reputation = u32::try_from(updated).map_err(|_| overflow())?;
        pool.reputation.set(U32::from(reputation));
        assay_contract_kit::emit(self.vm(), IStaking::ReputationChanged { operator, reputation });
        Ok(reputation)
    }

    /// `(role, assets, totalShares, unbondingShares, reputation, openDisputes)` of a pool.
    pub fn operator_info(&self, operator: Address) -> (u8, U256, U256, U256, u32, u32) {
        let pool = self.pools.get(operator);
        (
            pool.role.get().to(),
            pool.assets.get(),
            pool.total_shares.get(),
            pool.unbonding_shares.get(),
            pool.reputation.get().to(),
            pool.open_disputes.get().to(),
        )
    }

    /// Active (not unbonding) shares of `staker` in `operator`'s pool.
    pub fn shares_of(&self, operator: Address, staker: Address) -> U256 {
        self.pools.get(operator).shares.get(staker)
    }

    /// Token value of `staker`'s active shares in `operator`'s pool.
    pub fn stake_of(&self, operator: Address, staker: Address) -> U256 {
        let pool = self.pools.get(operator);
        pool.value_of(pool.shares.get(staker))
    }

    /// `(shares, releaseAt)` of `staker`'s pending unbonding from `operator`'s pool.
    pub fn unbonding_of(&self, operator: Address, staker: Address) -> (U256, u64) {
        let pool = self.pools.get(operator);
        let entry = pool.unbonding.get(staker);
        (entry.shares.get(), entry.release_at.get().to())
    }

    /// Sum of all pools' assets: tokens this contract owes.
    pub fn total_accounted(&self) -> U256 {
        self.total_accounted.get()
    }

    /// Whether `operator` may act in `role` now: registered for it, own active stake at least the
    /// minimum, not frozen.
    pub fn is_eligible(&self, operator: Address, role: u8) -> bool {
        let pool = self.pools.get(operator);
        pool.role.get() == U8::from(role) && self.pool_eligible(&pool, operator)
    }

    /// Selection weights of `operators`: active pool stake times reputation / 10 000 for eligible
    /// operators of any role, zero for the others.
    pub fn weights(&self, operators: Vec<Address>) -> Vec<U256> {
        operators
            .into_iter()
            .map(|operator| {
                let pool = self.pools.get(operator);
                if self.pool_eligible(&pool, operator) {
                    pool.weight()
                } else {
                    U256::ZERO
                }
            })
            .collect()
    }

    /// Minimum own stake for `role` (zero for an unknown role).
    pub fn min_stake(&self, role: u8) -> U256 {
        self.min_stake_for(role).unwrap_or_default()
    }

    /// Seconds between an unstake request and its withdrawal.
    pub fn unbonding_delay(&self) -> u64 {
        self.unbonding_delay.get().to()
    }

    /// Whether `account` is a controller.
    pub fn is_controller(&self, account: Address) -> bool {
        self.controllers.get(account)
    }

    /// Sets the minimum own stake for `role`; owner only.
    ///
    /// # Errors
    /// `OwnableUnauthorizedAccount`, `UnknownRole`.
    ///
    /// # Events
    /// `MinStakeSet`.
    pub fn set_min_stake(&mut self, role: u8, amount: U256) -> Result<()> {
        self.ownable.only_owner()?;
        match role {
            ROLE_MINER => self.min_miner_stake.set(amount),
            ROLE_COORDINATOR => self.min_coordinator_stake.set(amount),
            _ => return Err(IStaking::UnknownRole { role }.into()),
        }
        assay_contract_kit::emit(self.vm(), IStaking::MinStakeSet { role, amount });
        Ok(())
    }

    /// Sets the unbonding delay for future requests; owner only.
    ///
    /// # Errors
    /// `OwnableUnauthorizedAccount`.
    ///
    /// # Events
    /// `UnbondingDelaySet`.
    pub fn set_unbonding_delay(&mut self, delay: u64) -> Result<()> {
        self.ownable.only_owner()?;
        self.unbonding_delay.set(U64::from(delay));
        assay_contract_kit::emit(self.vm(), IStaking::UnbondingDelaySet { delay });
        Ok(())
    }

    /// Appoints or removes a controller (the job market, the dispute contract); owner only.
    ///
    /// # Errors
    /// `OwnableUnauthorizedAccount`.
    ///
    /// # Events
    /// `ControllerSet`.
    pub fn set_controller(&mut self, controller: Address, allowed: bool) -> Result<()> {
        self.ownable.only_owner()?;
        self.controllers.insert(controller, allowed);
        assay_contract_kit::emit(self.vm(), IStaking::ControllerSet { controller, allowed });
        Ok(())
    }

    /// The owner.
    pub fn owner(&self) -> Address {
        self.ownable.owner()
    }

    /// Hands ownership to `new_owner`.
    ///
    /// # Errors
    /// `OwnableUnauthorizedAccount`, `OwnableInvalidOwner`.
    pub fn transfer_ownership(&mut self, new_owner: Address) -> Result<()> {
        Ok(self.ownable.transfer_ownership(new_owner)?)
    }

    /// Leaves the contract without an owner.
    ///
    /// # Errors
    /// `OwnableUnauthorizedAccount`.
    pub fn renounce_ownership(&mut self) -> Result<()> {
        Ok(self.ownable.renounce_ownership()?)
    }
}

impl Staking {
    fn min_stake_for(&self, role: u8) -> Result<U256> {
        match role {
            ROLE_MINER => Ok(self.min_miner_stake.get()),
            ROLE_COORDINATOR => Ok(self.min_coordinator_stake.get()),
            _ => Err(IStaking::UnknownRole { role }.into()),
        }
    }

    /// Eligibility for the pool's own role: registered, not frozen, own active stake at least
    /// the role's minimum.
    fn pool_eligible(&self, pool: &Pool, operator: Address) -> bool {
        let Ok(minimum) = self.min_stake_for(pool.role.get().to::<u8>()) else { return false };
        pool.open_disputes.get() == U32::ZERO && pool.value_of(pool.shares.get(operator)) >= minimum
    }

    fn registered(&self, operator: Address) -> Result<()> {
        if self.pools.get(operator).role.get() == U8::ZERO {
            return Err(IStaking::NotRegistered { operator }.into());
        }
        Ok(())
    }

    fn only_controller(&self) -> Result<()> {
        let account = self.vm().msg_sender();
        if !self.controllers.get(account) {
            return Err(IStaking::NotController { account }.into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
