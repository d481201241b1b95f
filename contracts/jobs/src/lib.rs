//! The Assay job market (interface: `contracts/interfaces/IJobMarket.sol`; the call sequence of
//! one sampled job across this contract and `Sampling` is in `contracts/README.md`).
//!
//! - **On-chain jobs**: a dApp submits a job with its fee in ETH; the asserter is drawn by stake x
//!   reputation from the miners serving the model, seeded by the hash of the submission block;
//!   the asserter asserts `(outputHash, traceRoot)`; the challenge coin (probability `p`) is drawn
//!   from the coordinator's epoch seed mixed with the hash of the assertion block.
//! - **Batched off-chain jobs**: a staked coordinator commits a Merkle root of job records with
//!   the fees in escrow; the sealed batch's draw decides which records are challenged; those are
//!   opened on-chain and sampled, the rest are claimed by their asserters after the batch window.
//! - **Sampling** happens in the paired `Sampling` contract (`contracts/sampling`): a challenged
//!   job is handed over with `openChallenge`, and comes back through `settleJob` (callable only
//!   by that contract) as accepted, disputed or rejected, with the epoch rewards to accrue.
//!   `Sampling.setParams` checks the protocol parameters and copies the ones the market applies
//!   here (`setMarketParams`, also callable only by it).
//! - **Epochs**: rewards (`R_A`, `R_V`) accrue per epoch and operator and are minted into the
//!   operator's stake pool on claim (delegators share pro rata); fees in ETH are withdrawn.
//! - **Late draws**: Stylus reads L2 block hashes through ArbSys, which knows only the last 256
//!   blocks. A draw made after that window can no longer be checked, so it counts as challenged.
//!
//! Layout: `state` (storage), `jobs` (on-chain job lifecycle), `settle` (challenge coin, hand-off
//! to `Sampling`, settlement, acceptance), `batches`, `epochs` (seeds, rewards, fees), `external`
//! (calls to the registry, staking, token, sampling, ArbSys and callbacks).
#![cfg_attr(not(any(test, feature = "export-abi")), no_main)]

extern crate alloc;

mod batches;
mod epochs;
mod external;
mod jobs;
mod settle;
mod state;

use alloc::vec::Vec;

use alloy_primitives::{
    aliases::{U16, U32, U64},
    Address, B256, U256,
};
use alloy_sol_types::sol;
use assay_contract_common::records::JobRecord;
use stylus_sdk::prelude::*;

pub use crate::state::{status, JobMarket};

sol!(
    #[sol(all_derives)]
    "../interfaces/IJobMarket.sol"
);
sol!("../interfaces/IModelRegistry.sol");
sol!("../interfaces/IStaking.sol");
sol!("../interfaces/IAssayToken.sol");
sol!("../interfaces/IArbSys.sol");
sol!("../interfaces/IAssayJobConsumer.sol");
sol!("../interfaces/ISampling.sol");

/// Role of a miner in the staking contract.
pub const ROLE_MINER: u8 = assay_contract_common::codes::Role::Miner as u8;
/// Role of a coordinator in the staking contract.
pub const ROLE_COORDINATOR: u8 = assay_contract_common::codes::Role::Coordinator as u8;

assay_contract_kit::solidity_errors! {
    /// Every revert of the job market, each a named Solidity error.
    pub enum MarketError {
        UnknownJob(IJobMarket::UnknownJob) [jobId],
        WrongStatus(IJobMarket::WrongStatus) [jobId, status],
        UnknownModel(IJobMarket::UnknownModel) [modelId],
        ModelInactive(IJobMarket::ModelInactive) [modelId],
        FeeTooLow(IJobMarket::FeeTooLow) [fee, price],
        DeadlinePassed(IJobMarket::DeadlinePassed) [deadline, timestamp],
        TooEarly(IJobMarket::TooEarly) [notBefore, current],
        NoEligibleMiner(IJobMarket::NoEligibleMiner) [modelId],
        NotAsserter(IJobMarket::NotAsserter) [jobId, account],
        NotTimedOut(IJobMarket::NotTimedOut) [jobId],
        NotCoordinator(IJobMarket::NotCoordinator) [account],
        InvalidBatch(IJobMarket::InvalidBatch) [],
        UnknownBatch(IJobMarket::UnknownBatch) [batchId],
        BatchNotSealed(IJobMarket::BatchNotSealed) [batchId],
        BatchAlreadySealed(IJobMarket::BatchAlreadySealed) [batchId],
        BatchWindowClosed(IJobMarket::BatchWindowClosed) [batchId],
        BatchWindowOpen(IJobMarket::BatchWindowOpen) [batchId, closesAt],
        InvalidProof(IJobMarket::InvalidProof) [batchId, jobKey],
        AsserterNotMiner(IJobMarket::AsserterNotMiner) [asserter],
        RecordAlreadyUsed(IJobMarket::RecordAlreadyUsed) [batchId, jobKey],
        NotChallenged(IJobMarket::NotChallenged) [batchId, jobKey],
        ChallengedNotOpened(IJobMarket::ChallengedNotOpened) [batchId, jobKey],
        EscrowExceeded(IJobMarket::EscrowExceeded) [batchId, escrow, needed],
        ClaimPeriodOpen(IJobMarket::ClaimPeriodOpen) [batchId, closesAt],
        ClaimPeriodOver(IJobMarket::ClaimPeriodOver) [batchId],
        EpochNotFuture(IJobMarket::EpochNotFuture) [epoch, current],
        EpochNotStarted(IJobMarket::EpochNotStarted) [epoch],
        EpochNotOver(IJobMarket::EpochNotOver) [epoch, current],
        SeedAlreadyCommitted(IJobMarket::SeedAlreadyCommitted) [epoch],
        SeedNotCommitted(IJobMarket::SeedNotCommitted) [epoch],
        SeedNotRevealed(IJobMarket::SeedNotRevealed) [epoch],
        SeedMismatch(IJobMarket::SeedMismatch) [epoch],
        SeedAlreadySettled(IJobMarket::SeedAlreadySettled) [epoch],
        RevealGraceOpen(IJobMarket::RevealGraceOpen) [epoch, closesAt],
        NothingToClaim(IJobMarket::NothingToClaim) [account],
        InvalidParams(IJobMarket::InvalidParams) [],
        ExternalCallFailed(IJobMarket::ExternalCallFailed) [target],
        EthTransferFailed(IJobMarket::EthTransferFailed) [to, amount],
        ArithmeticOverflow(IJobMarket::ArithmeticOverflow) [],
        NotSampling(IJobMarket::NotSampling) [account],
        SamplingAlreadySet(IJobMarket::SamplingAlreadySet) [sampling],
        Unauthorized(assay_contract_kit::OwnableUnauthorizedAccount) [account],
        InvalidOwner(assay_contract_kit::OwnableInvalidOwner) [owner],
    }
}

assay_contract_kit::ownable_errors_into!(MarketError);

pub(crate) type Result<T, E = MarketError> = core::result::Result<T, E>;

pub(crate) fn overflow() -> MarketError {
    IJobMarket::ArithmeticOverflow {}.into()
}

/// The record and proof of one claim (`JobRecord::claim`), or `InvalidBatch` when it is
/// shorter than a record.
fn decode_claim(claim: &[B256]) -> Result<(JobRecord, &[B256])> {
    JobRecord::from_claim(claim).ok_or_else(|| IJobMarket::InvalidBatch {}.into())
}

#[public]
impl JobMarket {
    /// Wires the market to its contracts and fixes the epoch clock. The sampling contract is
    /// paired afterwards (`setSampling`); parameters start unset (no challenges) until the owner
    /// calls `Sampling.setParams`.
    #[constructor]
    pub fn constructor(
        &mut self,
        owner: Address,
        token: Address,
        staking: Address,
        registry: Address,
        epoch_length: u64,
    ) -> Result<()> {
        self.ownable.init(owner)?;
        if epoch_length == 0 {
            return Err(IJobMarket::InvalidParams {}.into());
        }
        self.token.set(token);
        self.staking.set(staking);
        self.registry.set(registry);
        self.genesis_time.set(U64::from(self.vm().block_timestamp()));
        self.epoch_length.set(U64::from(epoch_length));
        Ok(())
    }

    /// Submits an on-chain job, escrowing `msg.value` as its fee. Returns the job id.
    ///
    /// # Errors
    /// `UnknownModel`, `ModelInactive`, `FeeTooLow`, `DeadlinePassed`, `ExternalCallFailed`.
    ///
    /// # Events
    /// `JobSubmitted`.
    #[payable]
    pub fn submit_job(
        &mut self,
        model_id: B256,
        input_root: B256,
        callback: Address,
        deadline: u64,
    ) -> Result<U256> {
        self._submit(model_id, input_root, callback, deadline)
    }

    /// Draws the asserter of a submitted job from the stake of the miners serving its model.
    /// Anyone may call it from the block after submission.
    ///
    /// # Errors
    /// `UnknownJob`, `WrongStatus`, `TooEarly`, `NoEligibleMiner`, `ExternalCallFailed`.
    ///
    /// # Events
    /// `JobAssigned`.
    pub fn assign_job(&mut self, job_id: U256) -> Result<Address> {
        self._assign(job_id)
    }

    /// The drawn asserter commits its result before the assertion timeout.
    ///
    /// # Errors
    /// `UnknownJob`, `WrongStatus`, `NotAsserter`, `DeadlinePassed`.
    ///
    /// # Events
    /// `ResultAsserted`.
    pub fn assert_result(
        &mut self,
        job_id: U256,
        output_hash: B256,
        trace_root: B256,
    ) -> Result<()> {
        self._assert(job_id, output_hash, trace_root)
    }

    /// Flips the challenge coin of an asserted job and hands it to `Sampling.openChallenge`,
    /// which draws validators when the coin challenged it and adds the bonded claims waiting for
    /// it (`Sampling.disputeRecord`). A job nothing challenges is accepted at once. Returns
    /// whether the job was challenged.
    ///
    /// # Errors
    /// `UnknownJob`, `WrongStatus`, `TooEarly`, `SeedNotRevealed`, `ExternalCallFailed`.
    ///
    /// # Events
    /// `JobAccepted` (and `Sampling`'s `ChallengeDrawn` when challenged).
    pub fn draw_challenge(&mut self, job_id: U256) -> Result<bool> {
        self._draw_challenge(job_id)
    }

    /// Handles a missed deadline: an unassigned job past its deadline is refunded; an asserter
    /// past its assertion timeout loses reputation and the job is redrawn (or refunded if past
    /// its deadline). Returns the new status.
    ///
    /// # Errors
    /// `UnknownJob`, `NotTimedOut`, `ExternalCallFailed`.
    ///
    /// # Events
    /// `AssignmentTimedOut`, `JobRefunded`.
    pub fn timeout_job(&mut self, job_id: U256) -> Result<u8> {
        self._timeout(job_id)
    }

    /// A staked coordinator commits a Merkle root over `jobCount` job records, escrowing their
    /// fees as `msg.value`. Returns the batch id. Refused while the current epoch's seed is
    /// committed but hidden: the batch window would close before its records could be drawn.
    ///
    /// # Errors
    /// `NotCoordinator`, `InvalidBatch`, `SeedNotRevealed`, `ExternalCallFailed`.
    ///
    /// # Events
    /// `BatchCommitted`.
    #[payable]
    pub fn commit_batch(&mut self, jobs_root: B256, job_count: u32) -> Result<U256> {
        self._commit_batch(jobs_root, job_count)
    }

    /// Records the hash that decides the batch's challenges (the commit block's hash). Anyone,
    /// once, from the next block; sealed late, every job of the batch may be opened.
    ///
    /// # Errors
    /// `UnknownBatch`, `BatchAlreadySealed`, `TooEarly`, `ExternalCallFailed`.
    ///
    /// # Events
    /// `BatchSealed`.
    pub fn seal_batch(&mut self, batch_id: U256) -> Result<B256> {
        self._seal_batch(batch_id)
    }

    /// Brings a record of a batch on-chain for sampling, within the batch window. Anyone may
    /// open a record the batch's draw challenges, or one a bonded claim waits for
    /// (`Sampling.disputeRecord`); `claim` is the record's words and its proof as in
    /// `claimBatchJobs`. Returns the on-chain job id.
    ///
    /// # Errors
    /// `InvalidBatch` (a claim shorter than a record), `UnknownBatch`, `BatchNotSealed`,
    /// `BatchWindowClosed`, `InvalidProof`, `RecordAlreadyUsed`, `NotChallenged`,
    /// `AsserterNotMiner`, `EscrowExceeded`, `ExternalCallFailed`.
    ///
    /// # Events
    /// `BatchJobOpened`, then `Sampling`'s `ChallengeDrawn`, or `JobAccepted`.
    pub fn open_batch_job(&mut self, batch_id: U256, claim: Vec<B256>) -> Result<U256> {
        let (rec, proof) = decode_claim(&claim)?;
        self._open_batch_job(batch_id, &rec, proof)
    }

    /// Pays unchallenged records' fees to their asserters after the batch window, and accrues
    /// `R_A` for each record whose fee pays for its model (registered, active, fee at least the
    /// price), until the claim period (30 days after the window) ends. `claims[i]` is one record's seven words, `jobKey, modelId, inputRoot,
    /// asserter, outputHash, traceRoot, fee` (the address and the fee as 32-byte words), followed
    /// by its Merkle proof. One transaction for many records is the cheap happy path; all
    /// succeed or none.
    ///
    /// # Errors
    /// `InvalidBatch` (no claims, or one shorter than a record), `UnknownBatch`,
    /// `BatchNotSealed`, `BatchWindowOpen`, `InvalidProof`, `RecordAlreadyUsed`,
    /// `ClaimPeriodOver`, `ChallengedNotOpened`, `EscrowExceeded`, `ExternalCallFailed`.
    ///
    /// # Events
    /// `BatchJobClaimed`, and `RewardAccrued` for a priced record, per record.
    pub fn claim_batch_jobs(&mut self, batch_id: U256, claims: Vec<Vec<B256>>) -> Result<()> {
        if claims.is_empty() {
            return Err(IJobMarket::InvalidBatch {}.into());
        }
        // Records of one batch usually share a model: ask the registry once per run of it.
        let mut terms = (B256::ZERO, None);
        for (i, claim) in claims.iter().enumerate() {
            let (rec, proof) = decode_claim(claim)?;
            if i == 0 || terms.0 != rec.model_id {
                terms = (rec.model_id, self._model_terms(rec.model_id)?);
            }
            self._claim_batch_job(batch_id, &rec, proof, terms.1)?;
        }
        Ok(())
    }

    /// After a batch's claim period, credits the escrow its records did not take (never-claimed
    /// or challenged-but-unopened records, over-escrow) to the batch's coordinator's fee balance.
    /// Anyone may call it; it pays once. Returns the amount.
    ///
    /// # Errors
    /// `UnknownBatch`, `ClaimPeriodOpen`, `NothingToClaim`.
    ///
    /// # Events
    /// `BatchEscrowReclaimed`.
    pub fn reclaim_batch_escrow(&mut self, batch_id: U256) -> Result<U256> {
        self._reclaim_batch_escrow(batch_id)
    }

    /// A staked coordinator commits `keccak256(abi.encodePacked(epoch, seed))` for a future epoch.
    ///
    /// # Errors
    /// `NotCoordinator`, `EpochNotFuture`, `SeedAlreadyCommitted`, `ExternalCallFailed`.
    ///
    /// # Events
    /// `EpochSeedCommitted`.
    pub fn commit_epoch_seed(&mut self, epoch: u64, commitment: B256) -> Result<()> {
        self._commit_epoch_seed(epoch, commitment)
    }

    /// Reveals an epoch's seed once the epoch has started (anyone holding the seed may).
    ///
    /// # Errors
    /// `EpochNotStarted`, `SeedNotCommitted`, `SeedAlreadySettled`, `SeedMismatch`.
    ///
    /// # Events
    /// `EpochSeedRevealed`.
    pub fn reveal_epoch_seed(&mut self, epoch: u64, seed: B256) -> Result<()> {
        self._reveal_epoch_seed(epoch, seed)
    }

    /// Slashes the coordinator of an epoch whose seed stayed hidden past the epoch's end plus the
    /// reveal grace; the epoch's draws then use a zero seed. Returns the amount slashed.
    ///
    /// # Errors
    /// `SeedNotCommitted`, `SeedAlreadySettled`, `RevealGraceOpen`, `ExternalCallFailed`.
    ///
    /// # Events
    /// `EpochSeedForfeited`.
    pub fn forfeit_epoch_seed(&mut self, epoch: u64) -> Result<U256> {
        self._forfeit_epoch_seed(epoch)
    }

    /// Mints an operator's rewards of a finished epoch into its stake pool (delegators share pro
    /// rata). Anyone may call it; each epoch pays once. Returns the amount.
    ///
    /// # Errors
    /// `EpochNotOver`, `NothingToClaim`, `ExternalCallFailed`.
    ///
    /// # Events
    /// `RewardClaimed`.
    pub fn claim_rewards(&mut self, epoch: u64, operator: Address) -> Result<U256> {
        self._claim_rewards(epoch, operator)
    }

    /// Sends the caller its fee balance (earned fees, refunds, discounts) in ETH.
    ///
    /// # Errors
    /// `NothingToClaim`, `EthTransferFailed`.
    ///
    /// # Events
    /// `FeesWithdrawn`.
    pub fn withdraw_fees(&mut self) -> Result<U256> {
        self._withdraw_fees()
    }

    /// `(status, requester, modelId, inputRoot, fee, asserter, outputHash, traceRoot, deadline)`.
    pub fn job(&self, job_id: U256) -> (u8, Address, B256, B256, U256, Address, B256, B256, u64) {
        let job = self.jobs.get(job_id);
        (
            job.status.get().to(),
            job.requester.get(),
            job.model_id.get(),
            job.input_root.get(),
            job.fee.get(),
            job.asserter.get(),
            job.output_hash.get(),
            job.trace_root.get(),
            job.deadline.get().to(),
        )
    }

    /// `(coordinator, jobsRoot, jobCount, escrow, paid, drawHash, sealed)`.
    pub fn batch(&self, batch_id: U256) -> (Address, B256, u32, U256, U256, B256, bool) {
        let b = self.batches.get(batch_id);
        (
            b.coordinator.get(),
            b.jobs_root.get(),
            b.job_count.get().to(),
            b.escrow.get(),
            b.paid.get(),
            b.draw_hash.get(),
            b.sealed.get(),
        )
    }

    /// `(coordinator, commitment, seed, state)`; state 0 none, 1 committed, 2 revealed, 3 forfeited.
    pub fn epoch_seed(&self, epoch: u64) -> (Address, B256, B256, u8) {
        let s = self.seeds.get(epoch);
        (s.coordinator.get(), s.commitment.get(), s.seed.get(), s.state.get().to())
    }

    /// The epoch now.
    pub fn current_epoch(&self) -> u64 {
        self.epoch_at(self.vm().block_timestamp())
    }

    /// `(genesisTime, epochLength)` in seconds.
    pub fn epoch_timing(&self) -> (u64, u64) {
        (self.genesis_time.get().to(), self.epoch_length.get().to())
    }

    /// Rewards accrued to `operator` in `epoch` and not yet claimed.
    pub fn accrued_reward(&self, epoch: u64, operator: Address) -> U256 {
        self.rewards.getter(epoch).get(operator)
    }

    /// ETH the account may withdraw.
    pub fn fee_balance(&self, account: Address) -> U256 {
        self.fees.get(account)
    }

    /// `(token, staking, registry, sampling)`.
    pub fn contracts(&self) -> (Address, Address, Address, Address) {
        (self.token.get(), self.staking.get(), self.registry.get(), self.sampling.get())
    }

    /// Pairs the market with its sampling contract; owner only, once.
    ///
    /// # Errors
    /// `OwnableUnauthorizedAccount`, `SamplingAlreadySet`, `InvalidParams` (zero address).
    ///
    /// # Events
    /// `SamplingSet`.
    pub fn set_sampling(&mut self, sampling: Address) -> Result<()> {
        self.ownable.only_owner()?;
        let current = self.sampling.get();
        if !current.is_zero() {
            return Err(IJobMarket::SamplingAlreadySet { sampling: current }.into());
        }
        if sampling.is_zero() {
            return Err(IJobMarket::InvalidParams {}.into());
        }
        self.sampling.set(sampling);
        assay_contract_kit::emit(self.vm(), IJobMarket::SamplingSet { sampling });
        Ok(())
    }

    /// Stores the parameters the market applies itself; only the sampling contract calls it,
    /// from `setParams`, after checking the whole set.
    ///
    /// # Errors
    /// `NotSampling`.
    #[allow(clippy::too_many_arguments)]
    pub fn set_market_params(
        &mut self,
        challenge_ppm: u32,
        asserter_reward: U256,
        slash_amount: U256,
        user_discount_bps: u16,
        assert_timeout: u64,
        batch_window: u64,
        seed_reveal_grace: u64,
    ) -> Result<()> {
        self._only_sampling()?;
        let p = &mut self.params;
        p.challenge_ppm.set(U32::from(challenge_ppm));
        p.asserter_reward.set(asserter_reward);
        p.slash_amount.set(slash_amount);
        p.user_discount_bps.set(U16::from(user_discount_bps));
        p.assert_timeout.set(U64::from(assert_timeout));
        p.batch_window.set(U64::from(batch_window));
        p.seed_reveal_grace.set(U64::from(seed_reveal_grace));
        Ok(())
    }

    /// Settles a challenged job; only the sampling contract calls it. `outcome` 5 accepts the
    /// job, 6 marks it disputed, 7 rejects it (fee refunded); `accounts` first accrue `amounts`
    /// as rewards of the current epoch.
    ///
    /// # Errors
    /// `NotSampling`, `UnknownJob`, `WrongStatus`, `InvalidParams`, `ArithmeticOverflow`,
    /// `ExternalCallFailed`.
    ///
    /// # Events
    /// `RewardAccrued`, then `JobAccepted` (maybe `CallbackFailed`) or `JobRefunded`.
    pub fn settle_job(
        &mut self,
        job_id: U256,
        outcome: u8,
        accounts: Vec<Address>,
        amounts: Vec<U256>,
    ) -> Result<()> {
        self._settle(job_id, outcome, &accounts, &amounts)
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

#[cfg(test)]
mod tests;
