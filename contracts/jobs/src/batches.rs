//! Batched off-chain jobs: a coordinator commits a Merkle root of job records with their fees in
//! escrow; the batch is sealed with the hash of its commit block; records the draw challenges are
//! opened on-chain for sampling within the batch window, and so are the ones a bonded claim
//! disputes (`Sampling.disputeRecord`); the others are claimed afterwards.
//! Each record is used once, and payouts never exceed the escrow.

use alloy_primitives::{
    aliases::{U32, U64, U8},
    B256, U256,
};
use assay_contract_common::{draw, merkle, records::JobRecord};
use stylus_sdk::prelude::*;

use crate::{
    overflow, status, IJobMarket, IStaking, JobMarket, MarketError, Result, ROLE_COORDINATOR,
    ROLE_MINER,
};

/// Seconds after a batch window during which its records may be claimed; afterwards the
/// coordinator reclaims what is left of the escrow.
pub const CLAIM_PERIOD: u64 = 30 * 24 * 60 * 60;

/// Record states in `used_records`.
const OPENED: u8 = assay_contract_common::codes::RecordState::Opened as u8;
const CLAIMED: u8 = assay_contract_common::codes::RecordState::Claimed as u8;

/// Whether a batch record's fee pays for its model: the model is registered and active and the
/// fee is non-zero and at least its price. Only such records earn `R_A`, so a coordinator cannot
/// mint rewards with free records or records of unregistered models.
pub(crate) fn priced(terms: Option<(U256, bool)>, fee: U256) -> bool {
    matches!(terms, Some((price, true)) if !fee.is_zero() && fee >= price)
}

impl JobMarket {
    pub(crate) fn _commit_batch(&mut self, jobs_root: B256, job_count: u32) -> Result<U256> {
        let (coordinator, escrow, now) =
            (self.vm().msg_sender(), self.vm().msg_value(), self.vm().block_timestamp());
        if jobs_root.is_zero() || job_count == 0 {
            return Err(IJobMarket::InvalidBatch {}.into());
        }
        if !self._is_eligible(coordinator, ROLE_COORDINATOR)? {
            return Err(IJobMarket::NotCoordinator { account: coordinator }.into());
        }
        // A batch's records are drawn with its epoch's seed and must be opened within the batch
        // window: while the seed is hidden, the window would run out before anyone could draw.
        self._seed_for(self.epoch_at(now))?;
        let block = self._l2_block()?;
        let batch_id =
            self.next_batch_id.get().checked_add(U256::from(1u8)).ok_or_else(overflow)?;
        self.next_batch_id.set(batch_id);
        let mut batch = self.batches.setter(batch_id);
        batch.coordinator.set(coordinator);
        batch.jobs_root.set(jobs_root);
        batch.job_count.set(U32::from(job_count));
        batch.escrow.set(escrow);
        batch.committed_at.set(U64::from(now));
        batch.committed_block.set(U64::from(block));
        batch.challenge_ppm.set(self.params.challenge_ppm.get());
        let window = self.params.batch_window.get().to::<u64>();
        batch.window_closes_at.set(U64::from(now.saturating_add(window)));
        assay_contract_kit::emit(
            self.vm(),
            IJobMarket::BatchCommitted {
                batchId: batch_id,
                coordinator,
                jobsRoot: jobs_root,
                jobCount: job_count,
                escrow,
            },
        );
        Ok(batch_id)
    }

    pub(crate) fn _seal_batch(&mut self, batch_id: U256) -> Result<B256> {
        let (committed_block, sealed) = {
            let batch = self.batches.get(batch_id);
            if batch.coordinator.get().is_zero() {
                return Err(IJobMarket::UnknownBatch { batchId: batch_id }.into());
            }
            (batch.committed_block.get().to::<u64>(), batch.sealed.get())
        };
        if sealed {
            return Err(IJobMarket::BatchAlreadySealed { batchId: batch_id }.into());
        }
        let current = self._l2_block()?;
        let (hash, late) = self._draw_hash(committed_block, current)?;
        let mut batch = self.batches.setter(batch_id);
        batch.draw_hash.set(hash);
        batch.sealed.set(true);
        batch.late.set(late);
        assay_contract_kit::emit(
            self.vm(),
            IJobMarket::BatchSealed { batchId: batch_id, drawHash: hash, late },
        );
        Ok(hash)
    }

    /// Checks a record against a sealed batch; returns `(leaf, challenge seed, challenged)`.
    fn _check_record(
        &self,
        batch_id: U256,
        record: &JobRecord,
        proof: &[B256],
    ) -> Result<(B256, B256, bool)> {
        let batch = self.batches.get(batch_id);
        if batch.coordinator.get().is_zero() {
            return Err(IJobMarket::UnknownBatch { batchId: batch_id }.into());
        }
        if !batch.sealed.get() {
            return Err(IJobMarket::BatchNotSealed { batchId: batch_id }.into());
        }
        let leaf = record.leaf();
        if !merkle::verify(proof, batch.jobs_root.get(), leaf) {
            return Err(
                IJobMarket::InvalidProof { batchId: batch_id, jobKey: record.job_key }.into()
            );
        }
        if self.used_records.getter(batch_id).get(leaf) != U8::ZERO {
            return Err(IJobMarket::RecordAlreadyUsed {
                batchId: batch_id,
                jobKey: record.job_key,
            }
            .into());
        }
        let epoch_seed = self._seed_for(self.epoch_at(batch.committed_at.get().to::<u64>()))?;
        let seed = draw::challenge_seed(epoch_seed, batch.draw_hash.get(), record.job_key);
        let challenged =
            batch.late.get() || draw::is_challenged(seed, batch.challenge_ppm.get().to::<u32>());
        Ok((leaf, seed, challenged))
    }

    /// Reserves `fee` out of the batch escrow and marks the record used.
    fn _spend_record(&mut self, batch_id: U256, leaf: B256, fee: U256, state: u8) -> Result<()> {
        let mut batch = self.batches.setter(batch_id);
        let (escrow, paid) = (batch.escrow.get(), batch.paid.get());
        let needed = paid.checked_add(fee).ok_or_else(overflow)?;
        if needed > escrow {
            return Err(IJobMarket::EscrowExceeded { batchId: batch_id, escrow, needed }.into());
        }
        batch.paid.set(needed);
        self.used_records.setter(batch_id).insert(leaf, U8::from(state));
        Ok(())
    }

    fn window_closes_at(&self, batch_id: U256) -> u64 {
        self.batches.get(batch_id).window_closes_at.get().to::<u64>()
    }

    fn claims_close_at(&self, batch_id: U256) -> u64 {
        self.window_closes_at(batch_id).saturating_add(CLAIM_PERIOD)
    }

    pub(crate) fn _open_batch_job(
        &mut self,
        batch_id: U256,
        record: &JobRecord,
        proof: &[B256],
    ) -> Result<U256> {
        let (leaf, seed, challenged) = self._check_record(batch_id, record, proof)?;
        if self.vm().block_timestamp() > self.window_closes_at(batch_id) {
            return Err(IJobMarket::BatchWindowClosed { batchId: batch_id }.into());
        }
        // The asserter must be a registered miner so that slashes and reputation reach it; a
        // frozen or under-staked miner's records are still opened.
        let staking = self.staking.get();
        let info = assay_contract_kit::calls::call_view(
            self,
            staking,
            &IStaking::operatorInfoCall { operator: record.asserter },
        )
        .ok_or(IJobMarket::ExternalCallFailed { target: staking })?;
        if info.role != ROLE_MINER {
            return Err(IJobMarket::AsserterNotMiner { asserter: record.asserter }.into());
        }
        self._spend_record(batch_id, leaf, record.fee, OPENED)?;
        let (coordinator, committed_at) = {
            let batch = self.batches.get(batch_id);
            (batch.coordinator.get(), batch.committed_at.get())
        };
        let job_id = self.next_job_id.get().checked_add(U256::from(1u8)).ok_or_else(overflow)?;
        self.next_job_id.set(job_id);
        let mut job = self.jobs.setter(job_id);
        job.status.set(U8::from(status::ASSERTED));
        job.requester.set(coordinator);
        job.model_id.set(record.model_id);
        job.input_root.set(record.input_root);
        job.fee.set(record.fee);
        job.asserter.set(record.asserter);
        job.output_hash.set(record.output_hash);
        job.trace_root.set(record.trace_root);
        job.asserted_at.set(committed_at);
        job.batch_id.set(batch_id);
        job.job_key.set(record.job_key);
        assay_contract_kit::emit(
            self.vm(),
            IJobMarket::BatchJobOpened { batchId: batch_id, jobKey: record.job_key, jobId: job_id },
        );
        // A record the coin passed opens only for the bonded claims waiting for it (`Sampling.
        // disputeRecord`); without one it stays for `claimBatchJobs` after the window.
        if !self._start_challenge(job_id, seed, challenged)? && !challenged {
            return Err(
                IJobMarket::NotChallenged { batchId: batch_id, jobKey: record.job_key }.into()
            );
        }
        Ok(job_id)
    }

    /// Claims one record; `terms` are its model's terms (`_model_terms`), which the caller may
    /// reuse across records of the same model.
    pub(crate) fn _claim_batch_job(
        &mut self,
        batch_id: U256,
        record: &JobRecord,
        proof: &[B256],
        terms: Option<(U256, bool)>,
    ) -> Result<()> {
        let (leaf, _, challenged) = self._check_record(batch_id, record, proof)?;
        let (closes_at, now) = (self.window_closes_at(batch_id), self.vm().block_timestamp());
        if now <= closes_at {
            return Err(
                IJobMarket::BatchWindowOpen { batchId: batch_id, closesAt: closes_at }.into()
            );
        }
        if now > self.claims_close_at(batch_id) {
            return Err(IJobMarket::ClaimPeriodOver { batchId: batch_id }.into());
        }
        if challenged {
            return Err(IJobMarket::ChallengedNotOpened {
                batchId: batch_id,
                jobKey: record.job_key,
            }
            .into());
        }
        self._spend_record(batch_id, leaf, record.fee, CLAIMED)?;
        self._credit_fee(record.asserter, record.fee)?;
        if priced(terms, record.fee) {
            self._accrue(record.asserter, self.params.asserter_reward.get())?;
        }
        assay_contract_kit::emit(
            self.vm(),
            IJobMarket::BatchJobClaimed {
                batchId: batch_id,
                jobKey: record.job_key,
                asserter: record.asserter,
                fee: record.fee,
            },
        );
        Ok(())
    }

    /// The `(price, active)` terms of a model, `None` when it is not registered.
    pub(crate) fn _model_terms(&self, model_id: B256) -> Result<Option<(U256, bool)>> {
        match self._model(model_id) {
            Ok(terms) => Ok(Some(terms)),
            Err(MarketError::UnknownModel(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn _reclaim_batch_escrow(&mut self, batch_id: U256) -> Result<U256> {
        let coordinator = self.batches.get(batch_id).coordinator.get();
        if coordinator.is_zero() {
            return Err(IJobMarket::UnknownBatch { batchId: batch_id }.into());
        }
        let closes_at = self.claims_close_at(batch_id);
        if self.vm().block_timestamp() <= closes_at {
            return Err(
                IJobMarket::ClaimPeriodOpen { batchId: batch_id, closesAt: closes_at }.into()
            );
        }
        let mut batch = self.batches.setter(batch_id);
        let (escrow, paid) = (batch.escrow.get(), batch.paid.get());
        let amount = escrow.saturating_sub(paid);
        if amount.is_zero() {
            return Err(IJobMarket::NothingToClaim { account: coordinator }.into());
        }
        batch.paid.set(escrow);
        self._credit_fee(coordinator, amount)?;
        assay_contract_kit::emit(
            self.vm(),
            IJobMarket::BatchEscrowReclaimed { batchId: batch_id, coordinator, amount },
        );
        Ok(amount)
    }
}
