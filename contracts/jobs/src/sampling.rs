//! Proof of Sampling: the challenge coin, the validator draw, commit-reveal, the comparison, the
//! outcomes (accept, dispute) and dispute resolution.

use alloc::vec::Vec;

use alloy_primitives::{
    aliases::{U64, U8},
    Address, B256, U256,
};
use assay_contract_common::{draw, records::validation_commitment};
use stylus_sdk::prelude::*;

use crate::{
    state::{status, validation},
    IJobMarket, JobMarket, Result,
};

/// Reputation gained by an asserter for each accepted job (basis points).
pub const ACCEPT_BONUS: i32 = 10;
/// Reputation lost by a drawn validator that never revealed.
pub const ABSENT_PENALTY: i32 = -500;
/// Reputation lost by the losing side of a dispute.
pub const DISPUTE_PENALTY: i32 = -5_000;

/// One drawn validator as read back from storage.
struct Drawn {
    validator: Address,
    state: u8,
    revealed: B256,
}

impl JobMarket {
    fn drawn(&self, job_id: U256) -> Vec<Drawn> {
        let job = self.jobs.get(job_id);
        (0..job.validators.len())
            .filter_map(|i| job.validators.getter(i))
            .map(|v| Drawn {
                validator: v.validator.get(),
                state: v.state.get().to(),
                revealed: v.revealed.get(),
            })
            .collect()
    }

    fn validator_index(drawn: &[Drawn], job_id: U256, who: Address) -> Result<usize> {
        drawn
            .iter()
            .position(|d| d.validator == who)
            .ok_or_else(|| IJobMarket::NotValidator { jobId: job_id, account: who }.into())
    }

    pub(crate) fn _draw_challenge(&mut self, job_id: U256) -> Result<bool> {
        self._expect(job_id, status::ASSERTED)?;
        let (asserted_block, asserted_at, job_key) = {
            let job = self.jobs.get(job_id);
            (
                job.asserted_block.get().to::<u64>(),
                job.asserted_at.get().to::<u64>(),
                job.job_key.get(),
            )
        };
        let current = self._l2_block()?;
        let (hash, late) = self._draw_hash(asserted_block, current)?;
        let epoch_seed = self._seed_for(self.epoch_at(asserted_at))?;
        let seed = draw::challenge_seed(epoch_seed, hash, job_key);
        let p = self.params.challenge_ppm.get().to::<u32>();
        if !late && !draw::is_challenged(seed, p) {
            self._accept(job_id, &[], false)?;
            return Ok(false);
        }
        self._start_challenge(job_id, seed)
    }

    /// Draws the validators of a challenged job; with nobody to draw, the job is accepted.
    pub(crate) fn _start_challenge(&mut self, job_id: U256, seed: B256) -> Result<bool> {
        let (model_id, asserter) = {
            let job = self.jobs.get(job_id);
            (job.model_id.get(), job.asserter.get())
        };
        let (servers, mut weights) = self._candidates(model_id)?;
        for (server, weight) in servers.iter().zip(weights.iter_mut()) {
            if *server == asserter {
                *weight = U256::ZERO;
            }
        }
        let count = usize::from(self.params.validators.get().to::<u8>());
        let picked: Vec<Address> =
            draw::pick_distinct(seed, &weights, count).into_iter().map(|i| servers[i]).collect();
        if picked.is_empty() {
            self._accept(job_id, &[], false)?;
            return Ok(false);
        }
        let now = self.vm().block_timestamp();
        let commit_deadline = now.saturating_add(self.params.commit_timeout.get().to::<u64>());
        let reveal_deadline =
            commit_deadline.saturating_add(self.params.reveal_timeout.get().to::<u64>());
        let mut job = self.jobs.setter(job_id);
        for validator in &picked {
            let mut slot = job.validators.grow();
            slot.validator.set(*validator);
        }
        job.commit_deadline.set(U64::from(commit_deadline));
        job.reveal_deadline.set(U64::from(reveal_deadline));
        job.status.set(U8::from(status::CHALLENGED));
        self.vm().log(IJobMarket::ChallengeDrawn {
            jobId: job_id,
            validators: picked,
            commitDeadline: commit_deadline,
            revealDeadline: reveal_deadline,
        });
        Ok(true)
    }

    pub(crate) fn _commit_validation(&mut self, job_id: U256, commitment: B256) -> Result<()> {
        self._expect(job_id, status::CHALLENGED)?;
        let (caller, now) = (self.vm().msg_sender(), self.vm().block_timestamp());
        let deadline = self.jobs.get(job_id).commit_deadline.get().to::<u64>();
        if now > deadline {
            return Err(IJobMarket::CommitClosed { jobId: job_id, deadline }.into());
        }
        let index = Self::validator_index(&self.drawn(job_id), job_id, caller)?;
        let mut job = self.jobs.setter(job_id);
        let Some(mut slot) = job.validators.setter(index) else {
            return Err(IJobMarket::NotValidator { jobId: job_id, account: caller }.into());
        };
        if slot.state.get() != U8::from(validation::DRAWN) {
            return Err(IJobMarket::AlreadyCommitted { jobId: job_id, validator: caller }.into());
        }
        slot.commitment.set(commitment);
        slot.state.set(U8::from(validation::COMMITTED));
        self.vm().log(IJobMarket::ValidationCommitted { jobId: job_id, validator: caller });
        Ok(())
    }

    pub(crate) fn _reveal_validation(
        &mut self,
        job_id: U256,
        output_hash: B256,
        salt: B256,
    ) -> Result<()> {
        self._expect(job_id, status::CHALLENGED)?;
        let (caller, now) = (self.vm().msg_sender(), self.vm().block_timestamp());
        let drawn = self.drawn(job_id);
        let index = Self::validator_index(&drawn, job_id, caller)?;
        let (commit_deadline, reveal_deadline, job_key) = {
            let job = self.jobs.get(job_id);
            (
                job.commit_deadline.get().to::<u64>(),
                job.reveal_deadline.get().to::<u64>(),
                job.job_key.get(),
            )
        };
        let all_committed = drawn.iter().all(|d| d.state != validation::DRAWN);
        if drawn[index].state != validation::COMMITTED || (!all_committed && now <= commit_deadline)
        {
            return Err(IJobMarket::RevealNotOpen { jobId: job_id }.into());
        }
        if now > reveal_deadline {
            return Err(
                IJobMarket::RevealClosed { jobId: job_id, deadline: reveal_deadline }.into()
            );
        }
        let mut job = self.jobs.setter(job_id);
        let Some(mut slot) = job.validators.setter(index) else {
            return Err(IJobMarket::NotValidator { jobId: job_id, account: caller }.into());
        };
        if validation_commitment(job_key, caller, output_hash, salt) != slot.commitment.get() {
            return Err(IJobMarket::CommitmentMismatch { jobId: job_id, validator: caller }.into());
        }
        slot.revealed.set(output_hash);
        slot.state.set(U8::from(validation::REVEALED));
        self.vm().log(IJobMarket::ValidationRevealed {
            jobId: job_id,
            validator: caller,
            outputHash: output_hash,
        });
        Ok(())
    }

    pub(crate) fn _finalize_challenge(&mut self, job_id: U256) -> Result<u8> {
        self._expect(job_id, status::CHALLENGED)?;
        let drawn = self.drawn(job_id);
        let (asserter, asserted, reveal_deadline) = {
            let job = self.jobs.get(job_id);
            (job.asserter.get(), job.output_hash.get(), job.reveal_deadline.get().to::<u64>())
        };
        let all_revealed = drawn.iter().all(|d| d.state == validation::REVEALED);
        if !all_revealed && self.vm().block_timestamp() <= reveal_deadline {
            return Err(IJobMarket::ChallengeStillOpen {
                jobId: job_id,
                revealDeadline: reveal_deadline,
            }
            .into());
        }
        for absent in drawn.iter().filter(|d| d.state != validation::REVEALED) {
            self.vm()
                .log(IJobMarket::ValidatorAbsent { jobId: job_id, validator: absent.validator });
            self._adjust_reputation(absent.validator, ABSENT_PENALTY)?;
        }
        let revealed = drawn.iter().filter(|d| d.state == validation::REVEALED);
        let (agree, dissent): (Vec<&Drawn>, Vec<&Drawn>) =
            revealed.partition(|d| d.revealed == asserted);
        if dissent.is_empty() {
            let agreeing: Vec<Address> = agree.iter().map(|d| d.validator).collect();
            self._accept(job_id, &agreeing, true)?;
            return Ok(status::ACCEPTED);
        }
        let dissenters: Vec<Address> = dissent.iter().map(|d| d.validator).collect();
        self._set_status(job_id, status::DISPUTED);
        self.vm().log(IJobMarket::JobDisputed {
            jobId: job_id,
            asserter,
            dissenters: dissenters.clone(),
        });
        self._freeze(asserter)?;
        for dissenter in dissenters {
            self._freeze(dissenter)?;
        }
        Ok(status::DISPUTED)
    }

    pub(crate) fn _resolve_dispute(&mut self, job_id: U256, correct: B256) -> Result<()> {
        let caller = self.vm().msg_sender();
        let resolver = self.dispute_resolver.get();
        if resolver.is_zero() || caller != resolver {
            return Err(IJobMarket::NotDisputeResolver { account: caller }.into());
        }
        self._expect(job_id, status::DISPUTED)?;
        let (asserter, asserted) = {
            let job = self.jobs.get(job_id);
            (job.asserter.get(), job.output_hash.get())
        };
        let revealed: Vec<Drawn> =
            self.drawn(job_id).into_iter().filter(|d| d.state == validation::REVEALED).collect();
        // Frozen at dispute time: the asserter and every validator that contradicted it.
        self._unfreeze(asserter)?;
        for d in revealed.iter().filter(|d| d.revealed != asserted) {
            self._unfreeze(d.validator)?;
        }
        let mut losers: Vec<Address> =
            revealed.iter().filter(|d| d.revealed != correct).map(|d| d.validator).collect();
        if asserted != correct {
            losers.push(asserter);
        }
        let right_validators: Vec<Address> =
            revealed.iter().filter(|d| d.revealed == correct).map(|d| d.validator).collect();
        let mut slashed = U256::ZERO;
        let slash_amount = self.params.slash_amount.get();
        for loser in &losers {
            slashed = slashed.saturating_add(self._slash(*loser, slash_amount)?);
            self._adjust_reputation(*loser, DISPUTE_PENALTY)?;
        }
        self.vm().log(IJobMarket::DisputeResolved {
            jobId: job_id,
            correctOutputHash: correct,
            losers,
        });
        // Half of what was slashed goes to the parties that were right, as epoch rewards.
        let mut winners = right_validators.clone();
        if asserted == correct {
            winners.push(asserter);
        }
        if let Some(share) =
            slashed.checked_div(U256::from(2u8).saturating_mul(U256::from(winners.len())))
        {
            for winner in &winners {
                self._accrue(*winner, share)?;
            }
        }
        if asserted == correct {
            self._accept(job_id, &right_validators, true)
        } else {
            self._reward_validators(&right_validators)?;
            self._refund(job_id)?;
            self._set_status(job_id, status::REJECTED);
            Ok(())
        }
    }

    /// Splits `R_V` among `validators` as epoch rewards.
    fn _reward_validators(&mut self, validators: &[Address]) -> Result<()> {
        let total = self.params.validator_reward.get();
        if let Some(share) = total.checked_div(U256::from(validators.len())) {
            for validator in validators {
                self._accrue(*validator, share)?;
            }
        }
        Ok(())
    }

    /// Final acceptance: the fee goes to the asserter (less the user's discount for a verified
    /// job), `R_A` and `R_V` accrue, the asserter's reputation rises and the consumer is called.
    pub(crate) fn _accept(
        &mut self,
        job_id: U256,
        validators: &[Address],
        challenged: bool,
    ) -> Result<()> {
        let (requester, asserter, fee, output_hash, trace_root, callback) = {
            let job = self.jobs.get(job_id);
            (
                job.requester.get(),
                job.asserter.get(),
                job.fee.get(),
                job.output_hash.get(),
                job.trace_root.get(),
                job.callback.get(),
            )
        };
        self._set_status(job_id, status::ACCEPTED);
        let discount = if challenged {
            fee.saturating_mul(U256::from(self.params.user_discount_bps.get().to::<u16>()))
                .checked_div(U256::from(10_000u16))
                .unwrap_or_default()
        } else {
            U256::ZERO
        };
        self._credit_fee(requester, discount)?;
        self._credit_fee(asserter, fee.saturating_sub(discount))?;
        self._accrue(asserter, self.params.asserter_reward.get())?;
        self._reward_validators(validators)?;
        self.vm().log(IJobMarket::JobAccepted {
            jobId: job_id,
            asserter,
            outputHash: output_hash,
            challenged,
        });
        self._adjust_reputation(asserter, ACCEPT_BONUS)?;
        if !callback.is_zero() && !self._deliver(callback, job_id, output_hash, trace_root) {
            self.vm().log(IJobMarket::CallbackFailed { jobId: job_id, callback });
        }
        Ok(())
    }
}
