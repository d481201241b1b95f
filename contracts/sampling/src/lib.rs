//! Proof-of-Sampling for the Assay job market (interface: `contracts/interfaces/ISampling.sol`;
//! the call sequence of one sampled job across this contract and `JobMarket` is in
//! `contracts/README.md`).
//!
//! - **Hand-off**: the job market flips the challenge coin; for a challenged job it calls
//!   `openChallenge` (only the paired market may), and `n` validators are drawn by stake x
//!   reputation from the miners serving the model, never the asserter.
//! - **Commit-reveal**: validators commit `keccak256(jobKey, validator, outputHash, traceRoot,
//!   salt)`, then reveal. All revealed hashes equal: accepted. Any mismatch: disputed, stakes
//!   frozen, and one `DisputeGame` game per dissenting validator (the asserter defends). Once
//!   every game has ended (`gameEnded`), every party whose claim lost is slashed, half the slash
//!   goes to the parties that won, and the job settles; no address can name a winner.
//! - **Bonded claims**: anyone else disputes an assertion with a bond posted to the dispute game;
//!   the claims join the job as extra dissenters (`claims`), and a waiting claim challenges a job
//!   the coin did not.
//! - **Settlement**: every verdict goes back to `JobMarket.settleJob` with the rewards to accrue
//!   (`R_V` shares, slash halves); the market pays fees, accrues `R_A` and calls the dApp.
//! - **Parameters**: `setParams` checks the honesty condition and copies the parameters the
//!   market applies itself to it (`JobMarket.setMarketParams`).
//!
//! Layout: `state` (storage), `validation` (draw, commit-reveal, outcomes), `claims` (bonded
//! claims), `disputes` (games and their verdicts), `params`, `external` (calls to the registry, staking, the job market and
//! the dispute game).
#![cfg_attr(not(any(test, feature = "export-abi")), no_main)]

extern crate alloc;

mod claims;
mod disputes;
mod external;
mod params;
mod state;
mod validation;

use alloc::vec::Vec;

use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::sol;
use stylus_sdk::prelude::*;

pub use crate::state::{status, Sampling};

sol!(
    #[sol(all_derives)]
    "../interfaces/ISampling.sol"
);
sol!("../interfaces/IDisputeGame.sol");
sol!("../interfaces/IJobMarket.sol");
sol!("../interfaces/IModelRegistry.sol");
sol!("../interfaces/IStaking.sol");

assay_contract_kit::solidity_errors! {
    /// Every revert of the sampling contract, each a named Solidity error.
    pub enum SamplingError {
        UnknownJob(ISampling::UnknownJob) [jobId],
        WrongStatus(ISampling::WrongStatus) [jobId, status],
        NotValidator(ISampling::NotValidator) [jobId, account],
        AlreadyCommitted(ISampling::AlreadyCommitted) [jobId, validator],
        CommitClosed(ISampling::CommitClosed) [jobId, deadline],
        RevealNotOpen(ISampling::RevealNotOpen) [jobId],
        RevealClosed(ISampling::RevealClosed) [jobId, deadline],
        CommitmentMismatch(ISampling::CommitmentMismatch) [jobId, validator],
        ChallengeStillOpen(ISampling::ChallengeStillOpen) [jobId, revealDeadline],
        NotDisputeGame(ISampling::NotDisputeGame) [account],
        NotJobMarket(ISampling::NotJobMarket) [account],
        HonestyConditionViolated(ISampling::HonestyConditionViolated) [expectedLossScaled, cheatCostScaled],
        InvalidParams(ISampling::InvalidParams) [],
        ExternalCallFailed(ISampling::ExternalCallFailed) [target],
        Unauthorized(assay_contract_kit::OwnableUnauthorizedAccount) [account],
        InvalidOwner(assay_contract_kit::OwnableInvalidOwner) [owner],
    }
}

assay_contract_kit::ownable_errors_into!(SamplingError);

pub(crate) type Result<T, E = SamplingError> = core::result::Result<T, E>;

#[public]
impl Sampling {
    /// Pairs the contract with its job market and wires staking and the registry. Parameters
    /// start unset until the owner calls `setParams` (after `JobMarket.setSampling`).
    #[constructor]
    pub fn constructor(
        &mut self,
        owner: Address,
        job_market: Address,
        staking: Address,
        registry: Address,
    ) -> Result<()> {
        self.ownable.init(owner)?;
        if job_market.is_zero() {
            return Err(ISampling::InvalidParams {}.into());
        }
        self.job_market.set(job_market);
        self.staking.set(staking);
        self.registry.set(registry);
        Ok(())
    }

    /// Takes over an asserted job from the paired job market (only it calls): draws validators
    /// when the coin `challenged` it, and moves in the bonded claims waiting for it. Returns
    /// false, storing nothing, when neither a validator nor a claim challenges it.
    ///
    /// # Errors
    /// `NotJobMarket`, `WrongStatus` (already opened), `ExternalCallFailed`.
    ///
    /// # Events
    /// `ChallengeDrawn`.
    #[allow(clippy::too_many_arguments)]
    pub fn open_challenge(
        &mut self,
        job_id: U256,
        seed: B256,
        model_id: B256,
        asserter: Address,
        job_key: B256,
        output_hash: B256,
        challenged: bool,
    ) -> Result<bool> {
        self._open_challenge(job_id, seed, model_id, asserter, job_key, output_hash, challenged)
    }

    /// A drawn validator commits to its output hash before the commit deadline.
    ///
    /// # Errors
    /// `UnknownJob`, `WrongStatus`, `NotValidator`, `AlreadyCommitted`, `CommitClosed`.
    ///
    /// # Events
    /// `ValidationCommitted`.
    pub fn commit_validation(&mut self, job_id: U256, commitment: B256) -> Result<()> {
        self._commit_validation(job_id, commitment)
    }

    /// A validator reveals the output hash and trace root behind its commitment, once every
    /// validator has committed or the commit deadline has passed.
    ///
    /// # Errors
    /// `UnknownJob`, `WrongStatus`, `NotValidator`, `RevealNotOpen`, `RevealClosed`,
    /// `CommitmentMismatch`.
    ///
    /// # Events
    /// `ValidationRevealed`.
    pub fn reveal_validation(
        &mut self,
        job_id: U256,
        output_hash: B256,
        trace_root: B256,
        salt: B256,
    ) -> Result<()> {
        self._reveal_validation(job_id, output_hash, trace_root, salt)
    }

    /// Compares the revealed hashes with the assertion once all are revealed or the reveal
    /// deadline has passed, and settles the job on the market. Returns the new status (Accepted
    /// or Disputed).
    ///
    /// # Errors
    /// `UnknownJob`, `WrongStatus`, `ChallengeStillOpen`, `ExternalCallFailed`.
    ///
    /// # Events
    /// `ValidatorAbsent`, `JobDisputed`; the market logs `JobAccepted`.
    pub fn finalize_challenge(&mut self, job_id: U256) -> Result<u8> {
        self._finalize_challenge(job_id)
    }

    /// The dispute game adds a bonded claim it took (see the interface).
    ///
    /// # Errors
    /// `NotDisputeGame`, `WrongStatus`, `NotValidator` (the claimant has a slot already, or the
    /// job is full), `ExternalCallFailed`.
    pub fn add_claim(
        &mut self,
        job_id: U256,
        claimant: Address,
        output_hash: B256,
        trace_root: B256,
    ) -> Result<(bool, B256, Address, B256, B256)> {
        self._add_claim(job_id, claimant, output_hash, trace_root)
    }

    /// The dispute game reports how `challenger`'s game against the job ended; after the last
    /// game, the dispute settles.
    ///
    /// # Errors
    /// `NotDisputeGame`, `UnknownJob`, `WrongStatus`, `NotValidator` (no game of this
    /// validator is running), `ExternalCallFailed`.
    ///
    /// # Events
    /// After the last game: `DisputeSettled`; the market logs `JobAccepted` or `JobRefunded`.
    pub fn game_ended(&mut self, job_id: U256, challenger: Address, outcome: u8) -> Result<()> {
        self._game_ended(job_id, challenger, outcome)
    }

    /// `(status, asserter, outputHash, commitDeadline, revealDeadline)` of a challenged job.
    pub fn challenge(&self, job_id: U256) -> (u8, Address, B256, u64, u64) {
        let c = self.challenges.get(job_id);
        (
            c.status.get().to(),
            c.asserter.get(),
            c.output_hash.get(),
            c.commit_deadline.get().to(),
            c.reveal_deadline.get().to(),
        )
    }

    /// `(validators, states, revealedHashes, revealedTraceRoots)` of a challenged job.
    #[allow(clippy::type_complexity)]
    pub fn job_validators(&self, job_id: U256) -> (Vec<Address>, Vec<u8>, Vec<B256>, Vec<B256>) {
        let c = self.challenges.get(job_id);
        let mut out = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in 0..c.validators.len() {
            if let Some(v) = c.validators.getter(i) {
                out.0.push(v.validator.get());
                out.1.push(v.state.get().to());
                out.2.push(v.revealed.get());
                out.3.push(v.revealed_trace.get());
            }
        }
        out
    }

    /// `(challengePpm, validators, R_A, R_V, S, C, collusionPpm, userDiscountBps, assertTimeout,
    /// commitTimeout, revealTimeout, batchWindow, seedRevealGrace)`.
    #[allow(clippy::type_complexity)]
    pub fn params(&self) -> (u32, u8, U256, U256, U256, U256, u32, u16, u64, u64, u64, u64, u64) {
        let p = &self.params;
        (
            p.challenge_ppm.get().to(),
            p.validators.get().to(),
            p.asserter_reward.get(),
            p.validator_reward.get(),
            p.slash_amount.get(),
            p.cheat_cost.get(),
            p.collusion_ppm.get().to(),
            p.user_discount_bps.get().to(),
            p.assert_timeout.get().to(),
            p.commit_timeout.get().to(),
            p.reveal_timeout.get().to(),
            p.batch_window.get().to(),
            p.seed_reveal_grace.get().to(),
        )
    }

    /// `(jobMarket, staking, registry, disputeGame)`.
    pub fn contracts(&self) -> (Address, Address, Address, Address) {
        (self.job_market.get(), self.staking.get(), self.registry.get(), self.dispute_game.get())
    }

    /// Sets every protocol parameter at once and copies the market's share to the job market;
    /// owner only. Reverts with `HonestyConditionViolated` when `p * (1 - r^n) * (R_A + S) <= C`.
    ///
    /// # Errors
    /// `OwnableUnauthorizedAccount`, `HonestyConditionViolated`, `InvalidParams`,
    /// `ExternalCallFailed` (the market refused: not paired with this contract).
    ///
    /// # Events
    /// `ParamsUpdated`.
    #[allow(clippy::too_many_arguments)]
    pub fn set_params(
        &mut self,
        challenge_ppm: u32,
        validators: u8,
        asserter_reward: U256,
        validator_reward: U256,
        slash_amount: U256,
        cheat_cost: U256,
        collusion_ppm: u32,
        user_discount_bps: u16,
        assert_timeout: u64,
        commit_timeout: u64,
        reveal_timeout: u64,
        batch_window: u64,
        seed_reveal_grace: u64,
    ) -> Result<()> {
        self.ownable.only_owner()?;
        self._set_params(params::NewParams {
            challenge_ppm,
            validators,
            asserter_reward,
            validator_reward,
            slash_amount,
            cheat_cost,
            collusion_ppm,
            user_discount_bps,
            assert_timeout,
            commit_timeout,
            reveal_timeout,
            batch_window,
            seed_reveal_grace,
        })
    }

    /// Pairs the dispute game, once; owner only. The game must name this contract as its
    /// sampling contract (`config().sampling`).
    ///
    /// # Errors
    /// `OwnableUnauthorizedAccount`, `InvalidParams` (already paired, or the game is not paired
    /// with this contract).
    ///
    /// # Events
    /// `DisputeGameSet`.
    pub fn set_dispute_game(&mut self, game: Address) -> Result<()> {
        self.ownable.only_owner()?;
        self._set_dispute_game(game)
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
