//! The on-chain job lifecycle up to the assertion: submission with an escrowed fee, the asserter
//! draw, the assertion, and timeouts (redraw or refund).

use alloy_primitives::{
    aliases::{U64, U8},
    Address, B256, U256,
};
use assay_contract_common::{draw, records::onchain_job_key};
use stylus_sdk::prelude::*;

use crate::{overflow, status, IJobMarket, JobMarket, Result};

/// Reputation lost by an asserter that misses its assertion timeout (basis points).
pub const TIMEOUT_PENALTY: i32 = -500;

impl JobMarket {
    /// The job's status, or `UnknownJob`.
    pub(crate) fn _status(&self, job_id: U256) -> Result<u8> {
        match self.jobs.get(job_id).status.get().to::<u8>() {
            0 => Err(IJobMarket::UnknownJob { jobId: job_id }.into()),
            s => Ok(s),
        }
    }

    /// Reverts with `WrongStatus` unless the job is in `expected`.
    pub(crate) fn _expect(&self, job_id: U256, expected: u8) -> Result<()> {
        let current = self._status(job_id)?;
        if current != expected {
            return Err(IJobMarket::WrongStatus { jobId: job_id, status: current }.into());
        }
        Ok(())
    }

    /// Last second the assigned asserter may assert (saturates for a far-future timeout).
    fn assertion_due(&self, job_id: U256) -> u64 {
        let assigned_at = self.jobs.get(job_id).assigned_at.get().to::<u64>();
        assigned_at.saturating_add(self.params.assert_timeout.get().to::<u64>())
    }

    pub(crate) fn _set_status(&mut self, job_id: U256, new: u8) {
        self.jobs.setter(job_id).status.set(U8::from(new));
    }

    pub(crate) fn _submit(
        &mut self,
        model_id: B256,
        input_root: B256,
        callback: Address,
        deadline: u64,
    ) -> Result<U256> {
        let (requester, fee, now) =
            (self.vm().msg_sender(), self.vm().msg_value(), self.vm().block_timestamp());
        let (price, active) = self._model(model_id)?;
        if !active {
            return Err(IJobMarket::ModelInactive { modelId: model_id }.into());
        }
        if fee < price {
            return Err(IJobMarket::FeeTooLow { fee, price }.into());
        }
        if deadline <= now {
            return Err(IJobMarket::DeadlinePassed { deadline, timestamp: now }.into());
        }
        let block = self._l2_block()?;
        let job_id = self.next_job_id.get().checked_add(U256::from(1u8)).ok_or_else(overflow)?;
        self.next_job_id.set(job_id);
        let mut job = self.jobs.setter(job_id);
        job.status.set(U8::from(status::SUBMITTED));
        job.requester.set(requester);
        job.model_id.set(model_id);
        job.input_root.set(input_root);
        job.fee.set(fee);
        job.callback.set(callback);
        job.deadline.set(U64::from(deadline));
        job.created_block.set(U64::from(block));
        job.job_key.set(onchain_job_key(job_id));
        assay_contract_kit::emit(
            self.vm(),
            IJobMarket::JobSubmitted {
                jobId: job_id,
                requester,
                modelId: model_id,
                inputRoot: input_root,
                fee,
                deadline,
            },
        );
        Ok(job_id)
    }

    pub(crate) fn _assign(&mut self, job_id: U256) -> Result<Address> {
        self._expect(job_id, status::SUBMITTED)?;
        let (model_id, created_block) = {
            let job = self.jobs.get(job_id);
            (job.model_id.get(), job.created_block.get().to::<u64>())
        };
        let current = self._l2_block()?;
        let (hash, _late) = self._draw_hash(created_block, current)?;
        let (servers, weights) = self._candidates(model_id)?;
        let seed = draw::assignment_seed(job_id, hash);
        let Some(index) = draw::weighted_pick(seed, &weights) else {
            return Err(IJobMarket::NoEligibleMiner { modelId: model_id }.into());
        };
        let asserter = servers[index];
        let now = self.vm().block_timestamp();
        let mut job = self.jobs.setter(job_id);
        job.asserter.set(asserter);
        job.assigned_at.set(U64::from(now));
        job.status.set(U8::from(status::ASSIGNED));
        assay_contract_kit::emit(self.vm(), IJobMarket::JobAssigned { jobId: job_id, asserter });
        Ok(asserter)
    }

    pub(crate) fn _assert(
        &mut self,
        job_id: U256,
        output_hash: B256,
        trace_root: B256,
    ) -> Result<()> {
        self._expect(job_id, status::ASSIGNED)?;
        let (caller, now) = (self.vm().msg_sender(), self.vm().block_timestamp());
        let (asserter, due) = (self.jobs.get(job_id).asserter.get(), self.assertion_due(job_id));
        if caller != asserter {
            return Err(IJobMarket::NotAsserter { jobId: job_id, account: caller }.into());
        }
        if now > due {
            return Err(IJobMarket::DeadlinePassed { deadline: due, timestamp: now }.into());
        }
        let block = self._l2_block()?;
        let mut job = self.jobs.setter(job_id);
        job.output_hash.set(output_hash);
        job.trace_root.set(trace_root);
        job.asserted_block.set(U64::from(block));
        job.asserted_at.set(U64::from(now));
        job.status.set(U8::from(status::ASSERTED));
        assay_contract_kit::emit(
            self.vm(),
            IJobMarket::ResultAsserted {
                jobId: job_id,
                asserter,
                outputHash: output_hash,
                traceRoot: trace_root,
            },
        );
        Ok(())
    }

    pub(crate) fn _timeout(&mut self, job_id: U256) -> Result<u8> {
        let current = self._status(job_id)?;
        let now = self.vm().block_timestamp();
        let (deadline, asserter) = {
            let job = self.jobs.get(job_id);
            (job.deadline.get().to::<u64>(), job.asserter.get())
        };
        let due = self.assertion_due(job_id);
        match current {
            status::SUBMITTED if now > deadline => self._refund(job_id),
            status::ASSIGNED if now > due => {
                assay_contract_kit::emit(
                    self.vm(),
                    IJobMarket::AssignmentTimedOut { jobId: job_id, asserter },
                );
                self._adjust_reputation(asserter, TIMEOUT_PENALTY)?;
                if now > deadline {
                    return self._refund(job_id);
                }
                let block = self._l2_block()?;
                let mut job = self.jobs.setter(job_id);
                job.asserter.set(Address::ZERO);
                job.created_block.set(U64::from(block));
                job.status.set(U8::from(status::SUBMITTED));
                Ok(status::SUBMITTED)
            }
            _ => Err(IJobMarket::NotTimedOut { jobId: job_id }.into()),
        }
    }

    /// Returns the fee to whoever paid it (the requester, or a batch's coordinator).
    pub(crate) fn _refund(&mut self, job_id: U256) -> Result<u8> {
        let (to, amount) = {
            let job = self.jobs.get(job_id);
            (job.requester.get(), job.fee.get())
        };
        self._set_status(job_id, status::REFUNDED);
        self._credit_fee(to, amount)?;
        assay_contract_kit::emit(self.vm(), IJobMarket::JobRefunded { jobId: job_id, to, amount });
        Ok(status::REFUNDED)
    }
}
