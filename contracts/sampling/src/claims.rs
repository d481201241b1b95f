//! Bonded claims: the dispute game takes them (`IDisputeGame.disputeJob`, `disputeRecord`) and
//! holds their bonds; here they join a job as extra dissenters, each a revealed validator slot
//! marked `bonded`:
//! - at the hand-over (`openChallenge`), the claims waiting for the job move in
//!   (`IDisputeGame.takeClaims`), and challenge it even when the coin did not;
//! - later, `addClaim` adds one to a challenged job (compared at `finalizeChallenge`) or to a
//!   disputed one (its game opens at once; the game opens it).
//!
//! A bonded claimant is never frozen, slashed or given epoch rewards (it holds no stake): the
//! game settles its bond, and a claim that won is paid half the asserter's slash (`disputes`).

use alloc::vec::Vec;

use alloy_primitives::{aliases::U8, Address, B256, U256};
use stylus_sdk::prelude::*;

use assay_contract_common::records::{pending_claims_key, MAX_CLAIMS};

use crate::{
    state::{status, validation},
    ISampling, Result, Sampling,
};

impl Sampling {
    /// Appends a bonded claim to a job's validator slots.
    pub(crate) fn push_claim(
        &mut self,
        job_id: U256,
        claimant: Address,
        output_hash: B256,
        trace_root: B256,
    ) {
        let mut challenge = self.challenges.setter(job_id);
        let mut slot = challenge.validators.grow();
        slot.validator.set(claimant);
        slot.state.set(U8::from(validation::REVEALED));
        slot.bonded.set(true);
        slot.revealed.set(output_hash);
        slot.revealed_trace.set(trace_root);
    }

    /// `IDisputeGame.takeClaims` at the hand-over: the waiting claims join after the drawn
    /// validators (whose own claims the game refunds). Returns how many joined.
    pub(crate) fn _take_claims(
        &mut self,
        job_id: U256,
        (job_key, asserter, asserted): (B256, Address, B256),
        drawn: Vec<Address>,
    ) -> Result<usize> {
        let key = pending_claims_key(job_key, asserter, asserted);
        let (claimants, outputs, traces) = self._game_take_claims(key, job_id, drawn)?;
        for ((claimant, output), trace) in claimants.iter().zip(&outputs).zip(&traces) {
            self.push_claim(job_id, *claimant, *output, *trace);
        }
        Ok(claimants.len())
    }

    pub(crate) fn _add_claim(
        &mut self,
        job_id: U256,
        claimant: Address,
        output_hash: B256,
        trace_root: B256,
    ) -> Result<(bool, B256, Address, B256, B256)> {
        let caller = self.vm().msg_sender();
        if caller.is_zero() || caller != self.dispute_game.get() {
            return Err(ISampling::NotDisputeGame { account: caller }.into());
        }
        let current = self.challenges.get(job_id).status.get().to::<u8>();
        if current != status::CHALLENGED && current != status::DISPUTED {
            return Err(ISampling::WrongStatus { jobId: job_id, status: current }.into());
        }
        let drawn = self.drawn(job_id);
        if drawn.len() >= MAX_CLAIMS || drawn.iter().any(|d| d.validator == claimant) {
            return Err(ISampling::NotValidator { jobId: job_id, account: claimant }.into());
        }
        self.push_claim(job_id, claimant, output_hash, trace_root);
        let (asserter, asserted) = {
            let c = self.challenges.get(job_id);
            (c.asserter.get(), c.output_hash.get())
        };
        if current == status::CHALLENGED {
            return Ok((false, B256::ZERO, asserter, asserted, B256::ZERO));
        }
        // Disputed: the asserter is frozen already and this claim's game starts now.
        let mut challenge = self.challenges.setter(job_id);
        let open = challenge.open_games.get().to::<u8>().saturating_add(1);
        challenge.open_games.set(U8::from(open));
        let (model_id, asserted_trace) = self._asserted_trace(job_id)?;
        Ok((true, model_id, asserter, asserted, asserted_trace))
    }
}
