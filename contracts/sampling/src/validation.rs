//! The challenge of one job: the validator draw, commit-reveal and the comparison (a mismatch
//! goes to `disputes`). Every verdict is settled back on the job market (`JobMarket.settleJob`),
//! which holds the fee and the epoch rewards.

use alloc::vec::Vec;

use alloy_primitives::{
    aliases::{U64, U8},
    Address, B256, U256,
};
use assay_contract_common::{draw, records::validation_commitment, wide};
use stylus_sdk::prelude::*;

use crate::{
    state::{status, validation},
    ISampling, Result, Sampling,
};

/// Reputation lost by a drawn validator that never revealed.
pub const ABSENT_PENALTY: i32 = -500;
/// Reputation lost by the losing side of a dispute.
pub const DISPUTE_PENALTY: i32 = -5_000;

/// One drawn validator as read back from storage.
pub(crate) struct Drawn {
    /// Position in the challenge's validator list.
    pub(crate) index: usize,
    pub(crate) validator: Address,
    pub(crate) state: u8,
    pub(crate) revealed: B256,
    pub(crate) verdict: u8,
    /// A bonded claim, not a drawn validator.
    pub(crate) bonded: bool,
}

/// `total / count` for each of `accounts`: the rewards `settleJob` accrues.
pub(crate) fn split(accounts: &[Address], total: U256, into: &mut (Vec<Address>, Vec<U256>)) {
    let count = u32::try_from(accounts.len()).unwrap_or(u32::MAX);
    if let Some(share) = wide::div_small(total, count) {
        for account in accounts {
            into.0.push(*account);
            into.1.push(share);
        }
    }
}

impl Sampling {
    pub(crate) fn drawn(&self, job_id: U256) -> Vec<Drawn> {
        let challenge = self.challenges.get(job_id);
        (0..challenge.validators.len())
            .filter_map(|i| Some((i, challenge.validators.getter(i)?)))
            .map(|(index, v)| Drawn {
                index,
                validator: v.validator.get(),
                state: v.state.get().to(),
                revealed: v.revealed.get(),
                verdict: v.verdict.get().to(),
                bonded: v.bonded.get(),
            })
            .collect()
    }

    pub(crate) fn validator_index(drawn: &[Drawn], job_id: U256, who: Address) -> Result<usize> {
        drawn
            .iter()
            .position(|d| d.validator == who)
            .ok_or_else(|| ISampling::NotValidator { jobId: job_id, account: who }.into())
    }

    /// Reverts with `UnknownJob` (never challenged) or `WrongStatus` unless in `expected`.
    pub(crate) fn _expect(&self, job_id: U256, expected: u8) -> Result<()> {
        match self.challenges.get(job_id).status.get().to::<u8>() {
            0 => Err(ISampling::UnknownJob { jobId: job_id }.into()),
            s if s != expected => Err(ISampling::WrongStatus { jobId: job_id, status: s }.into()),
            _ => Ok(()),
        }
    }

    pub(crate) fn _set_status(&mut self, job_id: U256, new: u8) {
        self.challenges.setter(job_id).status.set(U8::from(new));
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn _open_challenge(
        &mut self,
        job_id: U256,
        seed: B256,
        model_id: B256,
        asserter: Address,
        job_key: B256,
        output_hash: B256,
        challenged: bool,
    ) -> Result<bool> {
        let caller = self.vm().msg_sender();
        if caller.is_zero() || caller != self.job_market.get() {
            return Err(ISampling::NotJobMarket { account: caller }.into());
        }
        let current = self.challenges.get(job_id).status.get().to::<u8>();
        if current != 0 {
            return Err(ISampling::WrongStatus { jobId: job_id, status: current }.into());
        }
        let picked =
            if challenged { self.draw_validators(seed, model_id, asserter)? } else { Vec::new() };
        let now = self.vm().block_timestamp();
        let commit_deadline = now.saturating_add(self.params.commit_timeout.get().to::<u64>());
        let reveal_deadline =
            commit_deadline.saturating_add(self.params.reveal_timeout.get().to::<u64>());
        {
            let mut challenge = self.challenges.setter(job_id);
            for validator in &picked {
                let mut slot = challenge.validators.grow();
                slot.validator.set(*validator);
            }
        }
        let claims = self._take_claims(job_id, (job_key, asserter, output_hash), picked.clone())?;
        if picked.is_empty() && claims == 0 {
            // Nothing was written: no validator was drawn and no claim waits.
            return Ok(false);
        }
        let mut challenge = self.challenges.setter(job_id);
        challenge.asserter.set(asserter);
        challenge.output_hash.set(output_hash);
        challenge.job_key.set(job_key);
        challenge.commit_deadline.set(U64::from(commit_deadline));
        challenge.reveal_deadline.set(U64::from(reveal_deadline));
        challenge.status.set(U8::from(status::CHALLENGED));
        assay_contract_kit::emit(
            self.vm(),
            ISampling::ChallengeDrawn {
                jobId: job_id,
                validators: picked,
                commitDeadline: commit_deadline,
                revealDeadline: reveal_deadline,
            },
        );
        Ok(true)
    }

    /// `validators` distinct miners serving `model_id`, drawn by weight from `seed`, never the
    /// asserter.
    fn draw_validators(
        &self,
        seed: B256,
        model_id: B256,
        asserter: Address,
    ) -> Result<Vec<Address>> {
        let (servers, mut weights) = self._candidates(model_id)?;
        for (server, weight) in servers.iter().zip(weights.iter_mut()) {
            if *server == asserter {
                *weight = U256::ZERO;
            }
        }
        let count = usize::from(self.params.validators.get().to::<u8>());
        Ok(draw::pick_distinct(seed, &weights, count).into_iter().map(|i| servers[i]).collect())
    }

    pub(crate) fn _commit_validation(&mut self, job_id: U256, commitment: B256) -> Result<()> {
        self._expect(job_id, status::CHALLENGED)?;
        let (caller, now) = (self.vm().msg_sender(), self.vm().block_timestamp());
        let deadline = self.challenges.get(job_id).commit_deadline.get().to::<u64>();
        if now > deadline {
            return Err(ISampling::CommitClosed { jobId: job_id, deadline }.into());
        }
        let index = Self::validator_index(&self.drawn(job_id), job_id, caller)?;
        let mut challenge = self.challenges.setter(job_id);
        let Some(mut slot) = challenge.validators.setter(index) else {
            return Err(ISampling::NotValidator { jobId: job_id, account: caller }.into());
        };
        if slot.state.get() != U8::from(validation::DRAWN) {
            return Err(ISampling::AlreadyCommitted { jobId: job_id, validator: caller }.into());
        }
        slot.commitment.set(commitment);
        slot.state.set(U8::from(validation::COMMITTED));
        assay_contract_kit::emit(
            self.vm(),
            ISampling::ValidationCommitted { jobId: job_id, validator: caller },
        );
        Ok(())
    }

    pub(crate) fn _reveal_validation(
        &mut self,
        job_id: U256,
        output_hash: B256,
        trace_root: B256,
        salt: B256,
    ) -> Result<()> {
        self._expect(job_id, status::CHALLENGED)?;
        let (caller, now) = (self.vm().msg_sender(), self.vm().block_timestamp());
        let drawn = self.drawn(job_id);
        let index = Self::validator_index(&drawn, job_id, caller)?;
        let (commit_deadline, reveal_deadline, job_key) = {
            let challenge = self.challenges.get(job_id);
            (
                challenge.commit_deadline.get().to::<u64>(),
                challenge.reveal_deadline.get().to::<u64>(),
                challenge.job_key.get(),
            )
        };
        let all_committed = drawn.iter().all(|d| d.state != validation::DRAWN);
        if drawn[index].state != validation::COMMITTED || (!all_committed && now <= commit_deadline)
        {
            return Err(ISampling::RevealNotOpen { jobId: job_id }.into());
        }
        if now > reveal_deadline {
            return Err(ISampling::RevealClosed { jobId: job_id, deadline: reveal_deadline }.into());
        }
        let mut challenge = self.challenges.setter(job_id);
        let Some(mut slot) = challenge.validators.setter(index) else {
            return Err(ISampling::NotValidator { jobId: job_id, account: caller }.into());
        };
        if validation_commitment(job_key, caller, output_hash, trace_root, salt)
            != slot.commitment.get()
        {
            return Err(ISampling::CommitmentMismatch { jobId: job_id, validator: caller }.into());
        }
        slot.revealed.set(output_hash);
        slot.revealed_trace.set(trace_root);
        slot.state.set(U8::from(validation::REVEALED));
        assay_contract_kit::emit(
            self.vm(),
            ISampling::ValidationRevealed {
                jobId: job_id,
                validator: caller,
                outputHash: output_hash,
                traceRoot: trace_root,
            },
        );
        Ok(())
    }

    pub(crate) fn _finalize_challenge(&mut self, job_id: U256) -> Result<u8> {
        self._expect(job_id, status::CHALLENGED)?;
        let drawn = self.drawn(job_id);
        let (asserter, asserted, reveal_deadline) = {
            let challenge = self.challenges.get(job_id);
            (
                challenge.asserter.get(),
                challenge.output_hash.get(),
                challenge.reveal_deadline.get().to::<u64>(),
            )
        };
        let all_revealed = drawn.iter().all(|d| d.state == validation::REVEALED);
        if !all_revealed && self.vm().block_timestamp() <= reveal_deadline {
            return Err(ISampling::ChallengeStillOpen {
                jobId: job_id,
                revealDeadline: reveal_deadline,
            }
            .into());
        }
        let revealed = drawn.iter().filter(|d| d.state == validation::REVEALED);
        let (agree, dissent): (Vec<&Drawn>, Vec<&Drawn>) =
            revealed.partition(|d| d.revealed == asserted);
        let outcome = if dissent.is_empty() { status::ACCEPTED } else { status::DISPUTED };
        self._set_status(job_id, outcome);
        for absent in drawn.iter().filter(|d| d.state != validation::REVEALED) {
            self.vm()
                .log(ISampling::ValidatorAbsent { jobId: job_id, validator: absent.validator });
            self._adjust_reputation(absent.validator, ABSENT_PENALTY)?;
        }
        let mut rewards = (Vec::new(), Vec::new());
        if dissent.is_empty() {
            let agreeing: Vec<Address> = agree.iter().map(|d| d.validator).collect();
            split(&agreeing, self.params.validator_reward.get(), &mut rewards);
        } else {
            self._open_games(job_id, (asserter, asserted), &dissent)?;
        }
        self._settle(job_id, outcome, rewards.0, rewards.1)?;
        Ok(outcome)
    }
}
