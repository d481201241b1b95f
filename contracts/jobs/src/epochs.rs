//! The epoch clock, the coordinators' epoch seeds (commit-reveal, slashed if never revealed),
//! epoch reward accrual and claims, and ETH fee balances.

use alloy_primitives::{aliases::U8, Address, B256, U256};
use assay_contract_common::records::seed_commitment;
use stylus_sdk::{call::transfer::transfer_eth, prelude::*};

use crate::{overflow, state::seed, IJobMarket, JobMarket, Result, ROLE_COORDINATOR};

impl JobMarket {
    /// The epoch containing `timestamp`.
    pub(crate) fn epoch_at(&self, timestamp: u64) -> u64 {
        let genesis = self.genesis_time.get().to::<u64>();
        timestamp
            .saturating_sub(genesis)
            .checked_div(self.epoch_length.get().to::<u64>())
            .unwrap_or_default()
    }

    /// First second after `epoch`.
    fn epoch_end(&self, epoch: u64) -> u64 {
        let length = self.epoch_length.get().to::<u64>();
        self.genesis_time
            .get()
            .to::<u64>()
            .saturating_add(epoch.saturating_add(1).saturating_mul(length))
    }

    /// The seed that draws of `epoch` mix in: the revealed seed, zero if none was committed or it
    /// was forfeited.
    ///
    /// # Errors
    /// `SeedNotRevealed` while a committed seed is still hidden.
    pub(crate) fn _seed_for(&self, epoch: u64) -> Result<B256> {
        let entry = self.seeds.get(epoch);
        match entry.state.get().to::<u8>() {
            seed::COMMITTED => Err(IJobMarket::SeedNotRevealed { epoch }.into()),
            seed::REVEALED => Ok(entry.seed.get()),
            _ => Ok(B256::ZERO),
        }
    }

    pub(crate) fn _commit_epoch_seed(&mut self, epoch: u64, commitment: B256) -> Result<()> {
        let coordinator = self.vm().msg_sender();
        let current = self.epoch_at(self.vm().block_timestamp());
        if epoch <= current {
            return Err(IJobMarket::EpochNotFuture { epoch, current }.into());
        }
        if self.seeds.get(epoch).state.get() != U8::ZERO {
            return Err(IJobMarket::SeedAlreadyCommitted { epoch }.into());
        }
        if !self._is_eligible(coordinator, ROLE_COORDINATOR)? {
            return Err(IJobMarket::NotCoordinator { account: coordinator }.into());
        }
        let mut entry = self.seeds.setter(epoch);
        entry.coordinator.set(coordinator);
        entry.commitment.set(commitment);
        entry.state.set(U8::from(seed::COMMITTED));
        assay_contract_kit::emit(
            self.vm(),
            IJobMarket::EpochSeedCommitted { epoch, coordinator, commitment },
        );
        Ok(())
    }

    pub(crate) fn _reveal_epoch_seed(&mut self, epoch: u64, seed_value: B256) -> Result<()> {
        let current = self.epoch_at(self.vm().block_timestamp());
        if epoch > current {
            return Err(IJobMarket::EpochNotStarted { epoch }.into());
        }
        let mut entry = self.seeds.setter(epoch);
        match entry.state.get().to::<u8>() {
            seed::COMMITTED => {}
            0 => return Err(IJobMarket::SeedNotCommitted { epoch }.into()),
            _ => return Err(IJobMarket::SeedAlreadySettled { epoch }.into()),
        }
        if seed_commitment(epoch, seed_value) != entry.commitment.get() {
            return Err(IJobMarket::SeedMismatch { epoch }.into());
        }
        entry.seed.set(seed_value);
        entry.state.set(U8::from(seed::REVEALED));
        assay_contract_kit::emit(
            self.vm(),
            IJobMarket::EpochSeedRevealed { epoch, seed: seed_value },
        );
        Ok(())
    }

    pub(crate) fn _forfeit_epoch_seed(&mut self, epoch: u64) -> Result<U256> {
        let (state, coordinator) = {
            let entry = self.seeds.get(epoch);
            (entry.state.get().to::<u8>(), entry.coordinator.get())
        };
        match state {
            seed::COMMITTED => {}
            0 => return Err(IJobMarket::SeedNotCommitted { epoch }.into()),
            _ => return Err(IJobMarket::SeedAlreadySettled { epoch }.into()),
        }
        let closes_at =
            self.epoch_end(epoch).saturating_add(self.params.seed_reveal_grace.get().to::<u64>());
        if self.vm().block_timestamp() < closes_at {
            return Err(IJobMarket::RevealGraceOpen { epoch, closesAt: closes_at }.into());
        }
        self.seeds.setter(epoch).state.set(U8::from(seed::FORFEITED));
        let amount = self.params.slash_amount.get();
        let slashed = self._slash(coordinator, amount)?;
        assay_contract_kit::emit(
            self.vm(),
            IJobMarket::EpochSeedForfeited { epoch, coordinator, slashed },
        );
        Ok(slashed)
    }

    /// Adds `amount` to `operator`'s rewards of the current epoch.
    pub(crate) fn _accrue(&mut self, operator: Address, amount: U256) -> Result<()> {
        if amount.is_zero() {
            return Ok(());
        }
        let epoch = self.epoch_at(self.vm().block_timestamp());
        let mut book = self.rewards.setter(epoch);
        let total = book.get(operator).checked_add(amount).ok_or_else(overflow)?;
        book.insert(operator, total);
        assay_contract_kit::emit(self.vm(), IJobMarket::RewardAccrued { epoch, operator, amount });
        Ok(())
    }

    pub(crate) fn _claim_rewards(&mut self, epoch: u64, operator: Address) -> Result<U256> {
        let current = self.epoch_at(self.vm().block_timestamp());
        if epoch >= current {
            return Err(IJobMarket::EpochNotOver { epoch, current }.into());
        }
        let amount = self.rewards.getter(epoch).get(operator);
        if amount.is_zero() {
            return Err(IJobMarket::NothingToClaim { account: operator }.into());
        }
        self.rewards.setter(epoch).insert(operator, U256::ZERO);
        assay_contract_kit::emit(self.vm(), IJobMarket::RewardClaimed { epoch, operator, amount });
        self._pay_reward(operator, amount)?;
        Ok(amount)
    }

    /// Adds `amount` wei to `account`'s withdrawable fee balance.
    pub(crate) fn _credit_fee(&mut self, account: Address, amount: U256) -> Result<()> {
        if amount.is_zero() {
            return Ok(());
        }
        let balance = self.fees.get(account).checked_add(amount).ok_or_else(overflow)?;
        self.fees.insert(account, balance);
        Ok(())
    }

    pub(crate) fn _withdraw_fees(&mut self) -> Result<U256> {
        let account = self.vm().msg_sender();
        let amount = self.fees.get(account);
        if amount.is_zero() {
            return Err(IJobMarket::NothingToClaim { account }.into());
        }
        self.fees.insert(account, U256::ZERO);
        assay_contract_kit::emit(self.vm(), IJobMarket::FeesWithdrawn { account, amount });
        transfer_eth(self.vm(), account, amount)
            .map_err(|_| IJobMarket::EthTransferFailed { to: account, amount })?;
        Ok(amount)
    }
}
