//! The challenge coin and the hand-off to `Sampling`: an asserted job goes to the sampling
//! contract with the coin's result; unless the coin or a bonded claim waiting there challenges
//! it, it is accepted at once. A challenged job is settled back through `settleJob` (accepted,
//! disputed or rejected). Acceptance pays the fee (less the user's
//! discount on verified jobs), accrues `R_A` and calls the dApp's callback.

use alloy_primitives::{Address, B256, U256};
use assay_contract_common::{draw, wide};
use stylus_sdk::prelude::*;

use crate::{status, IJobMarket, JobMarket, Result};

/// Reputation gained by an asserter for each accepted job (basis points).
pub const ACCEPT_BONUS: i32 = 10;

impl JobMarket {
    /// Reverts with `NotSampling` unless the paired sampling contract is calling.
    pub(crate) fn _only_sampling(&self) -> Result<()> {
        let caller = self.vm().msg_sender();
        if caller.is_zero() || caller != self.sampling.get() {
            return Err(IJobMarket::NotSampling { account: caller }.into());
        }
        Ok(())
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
        self._start_challenge(job_id, seed, late || draw::is_challenged(seed, p))
    }

    /// Hands an asserted job to `Sampling`, which draws validators if the coin `challenged` it
    /// and adds the bonded claims waiting for it; when nothing challenges it, the job is accepted.
    pub(crate) fn _start_challenge(
        &mut self,
        job_id: U256,
        seed: B256,
        challenged: bool,
    ) -> Result<bool> {
        let (model_id, asserter, job_key, output_hash) = {
            let job = self.jobs.get(job_id);
            (job.model_id.get(), job.asserter.get(), job.job_key.get(), job.output_hash.get())
        };
        self._set_status(job_id, status::CHALLENGED);
        if self._open_challenge(
            job_id,
            seed,
            model_id,
            asserter,
            job_key,
            output_hash,
            challenged,
        )? {
            return Ok(true);
        }
        self._accept(job_id, false)?;
        Ok(false)
    }

    /// `settleJob`: the sampling contract's verdict on a challenged job.
    pub(crate) fn _settle(
        &mut self,
        job_id: U256,
        outcome: u8,
        accounts: &[Address],
        amounts: &[U256],
    ) -> Result<()> {
        self._only_sampling()?;
        let current = self._status(job_id)?;
        let allowed = match outcome {
            status::DISPUTED => current == status::CHALLENGED,
            status::ACCEPTED => current == status::CHALLENGED || current == status::DISPUTED,
            status::REJECTED => current == status::DISPUTED,
            _ => return Err(IJobMarket::InvalidParams {}.into()),
        };
        if !allowed {
            return Err(IJobMarket::WrongStatus { jobId: job_id, status: current }.into());
        }
        if accounts.len() != amounts.len() {
            return Err(IJobMarket::InvalidParams {}.into());
        }
        for (account, amount) in accounts.iter().zip(amounts) {
            self._accrue(*account, *amount)?;
        }
        match outcome {
            status::DISPUTED => self._set_status(job_id, status::DISPUTED),
            status::ACCEPTED => self._accept(job_id, true)?,
            _ => {
                self._refund(job_id)?;
                self._set_status(job_id, status::REJECTED);
            }
        }
        Ok(())
    }

    /// Final acceptance: the fee goes to the asserter (less the user's discount for a verified
    /// job), `R_A` accrues (for a batch record, only if priced), the asserter's reputation rises
    /// and the consumer is called.
    pub(crate) fn _accept(&mut self, job_id: U256, challenged: bool) -> Result<()> {
        let (requester, asserter, fee, output_hash, trace_root, callback, model_id, batch_id) = {
            let job = self.jobs.get(job_id);
            (
                job.requester.get(),
                job.asserter.get(),
                job.fee.get(),
                job.output_hash.get(),
                job.trace_root.get(),
                job.callback.get(),
                job.model_id.get(),
                job.batch_id.get(),
            )
        };
        self._set_status(job_id, status::ACCEPTED);
        let discount = if challenged {
            let bps = U256::from(self.params.user_discount_bps.get().to::<u16>());
            wide::div_small(fee.saturating_mul(bps), 10_000).unwrap_or_default()
        } else {
            U256::ZERO
        };
        self._credit_fee(requester, discount)?;
        self._credit_fee(asserter, fee.saturating_sub(discount))?;
        // On-chain jobs paid at least the price on submission; a batch record earns R_A only if
        // its fee pays for its model.
        if batch_id.is_zero() || crate::batches::priced(self._model_terms(model_id)?, fee) {
            self._accrue(asserter, self.params.asserter_reward.get())?;
        }
        assay_contract_kit::emit(
            self.vm(),
            IJobMarket::JobAccepted {
                jobId: job_id,
                asserter,
                outputHash: output_hash,
                challenged,
            },
        );
        self._adjust_reputation(asserter, ACCEPT_BONUS)?;
        if !callback.is_zero() && !self._deliver(callback, job_id, output_hash, trace_root) {
            assay_contract_kit::emit(
                self.vm(),
                IJobMarket::CallbackFailed { jobId: job_id, callback },
            );
        }
        Ok(())
    }
}
