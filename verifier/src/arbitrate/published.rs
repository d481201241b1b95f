//! Checking jobs before the market hands them over, from what the coordinator publishes
//! ([`assay_protocol::published`]):
//! - every job its own sampling found disputed (`GET /v1/disputes`), with the asserter's signed
//!   receipt: checked as soon as it is listed, so a wrong one has a bonded claim waiting before
//!   its record is even batched (the coordinator then batches it and opens it for the claim);
//! - a share (`--sample-ppm`) of the other records of every committed batch (`GET
//!   /v1/batches/{id}`), each checked against the root on chain, so a coordinator that hides a
//!   mismatch is caught too.
//!
//! A wrong record gets `DisputeGame.disputeRecord`, then `JobMarket.openBatchJob` once its batch
//! is sealed (sealed here if nobody did), unless the coordinator opened it first. From the open
//! on it is an on-chain job like any other ([`super`]): the claim's game is played from there.
//! A record its batch settled otherwise (claimed past its window) has its claim withdrawn.

use alloy_primitives::{B256, U256};
use assay_protocol::{
    bindings::{IDisputeGame, IJobMarket},
    published::{DisputeList, PublishedBatch, Sampled},
    wire::Receipt,
};
use tracing::{Instrument, info, info_span, warn};

use super::{Arbitrator, Replayed, chain_error, metrics::Metrics, store::JobState, store::Record};
use crate::{Error, Result};

/// Rounds a committed batch's records are asked for before the arbitrator gives up on them
/// (the coordinator does not publish them).
const BATCH_ATTEMPTS: u32 = 30;

impl Arbitrator {
    /// Reads the coordinator's disputes and committed batches, checks the records found, and
    /// moves the claims against wrong ones along.
    pub(super) async fn published_round(&self) -> Result<()> {
        if self.records.coordinator.is_none() {
            return Ok(());
        }
        self.read_disputes().await?;
        for batch in self.store.unread_batches().await? {
            let span = info_span!("batch", batch = %batch.batch_id);
            if let Err(e) = self.read_batch(batch).instrument(span).await {
                Metrics::bump(&self.metrics.errors);
                warn!(error = %e, "reading a batch failed; retrying");
            }
        }
        for record in self.store.open_records().await? {
            let span = info_span!("record", key = %record.job_key);
            if let Err(e) = self.move_record(record).instrument(span).await {
                Metrics::bump(&self.metrics.errors);
                warn!(error = %e, "checking a record failed; retrying");
            }
        }
        Ok(())
    }

    /// Adds the disputes the coordinator lists whose receipts its asserters signed.
    async fn read_disputes(&self) -> Result<()> {
        let Some(list) = self.coordinator_json::<DisputeList>("/v1/disputes").await? else {
            return Ok(());
        };
        for dispute in list.data {
            if !dispute.receipt.verify(self.chain_id) {
                warn!(job = %dispute.id, "a listed dispute's receipt is not its worker's: ignored");
                continue;
            }
            if self.store.add_record(&Record::new(dispute.receipt.receipt)).await? {
                info!(job = %dispute.id, key = %dispute.receipt.receipt.job_key, asserter = %dispute.receipt.receipt.worker, "disputed off chain: checking");
            }
        }
        Ok(())
    }

    /// Reads a committed batch's records, attaches them to the records being checked, and
    /// samples others.
    async fn read_batch(&self, batch: super::store::Batch) -> Result<()> {
        let path = format!("/v1/batches/{}", batch.batch_id);
        let Some(published) = self.coordinator_json::<PublishedBatch>(&path).await? else {
            let give_up = batch.attempts + 1 >= BATCH_ATTEMPTS;
            if give_up {
                warn!(
                    attempts = BATCH_ATTEMPTS,
                    "the coordinator does not publish this batch's records"
                );
            }
            return self.store.batch_attempt(batch.batch_id, give_up).await;
        };
        if published.root != batch.root || published.batch_id != batch.batch_id {
            warn!(published = %published.root, committed = %batch.root, "the published batch is not the one committed: ignored");
            return self.store.batch_attempt(batch.batch_id, true).await;
        }
        for published in published.records {
            if !published.proves(batch.root) {
                warn!(job = %published.id, "a published record is not under the committed root: ignored");
                continue;
            }
            let key = published.job_key;
            let mut record = match self.store.record(key).await? {
                Some(record) => record,
                None if published.sampled == Sampled::Disputed || self.sampled() => {
                    let record = Record::new(published.asserted());
                    self.store.add_record(&record).await?;
                    info!(job = %published.id, %key, sampled = ?published.sampled, "checking a batch record");
                    record
                }
                None => continue,
            };
            if record.published.is_none() && record.asserted == published.asserted() {
                record.published = Some((batch.batch_id, published));
                self.store.set_record(&record).await?;
            }
        }
        self.store.batch_attempt(batch.batch_id, true).await
    }

    /// Whether to check a record the coordinator did not flag (`--sample-ppm`).
    fn sampled(&self) -> bool {
        let draw = u32::from_be_bytes(B256::random()[..4].try_into().expect("four bytes"));
        u64::from(draw % 1_000_000) < u64::from(self.sample_ppm)
    }

    /// One step for a record: replay it, claim against it, open it.
    async fn move_record(&self, mut record: Record) -> Result<()> {
        if matches!(record.state, JobState::New | JobState::Waiting) {
            let a = record.asserted;
            match self.replay_job(a.job_key, a.model_id, a.input_root).await? {
                Replayed::Waiting => return Ok(()),
                Replayed::Skip(why) => {
                    info!(why, "skipped");
                    record.state = JobState::Skipped;
                    record.done = true;
                    record.note = Some(why);
                }
                Replayed::Done { record: text, output } => {
                    record.record = Some(text);
                    record.replayed = Some(output);
                    if output == (a.output_hash, a.trace_root) {
                        Metrics::bump(&self.metrics.agreed);
                        info!(output = %output.0, "the assertion is right");
                        record.state = JobState::Agreed;
                        record.done = true;
                    } else {
                        warn!(asserted = %a.output_hash, replayed = %output.0, asserter = %a.worker, "the assertion is wrong: claiming");
                        record.state = JobState::Wrong;
                    }
                }
            }
            self.store.set_record(&record).await?;
        }
        if record.state == JobState::Wrong {
            self.claim_record(&mut record).await?;
        }
        Ok(())
    }

    /// Files the bonded claim against a wrong record and opens it once its batch is sealed.
    async fn claim_record(&self, record: &mut Record) -> Result<()> {
        let a = record.asserted;
        let Some((output, trace)) = record.replayed else { return Ok(()) };
        if !record.claimed {
            let bond = self.chain.view(self.game, IDisputeGame::disputeBondCall {}).await?;
            let call = IDisputeGame::disputeRecordCall {
                jobKey: a.job_key,
                asserter: a.worker,
                assertedOutput: a.output_hash,
                outputHash: output,
                traceRoot: trace,
            };
            match self.chain.send(self.game, call, bond).await {
                Ok(receipt) => {
                    Metrics::bump(&self.metrics.claims);
                    info!(tx = %receipt.transaction_hash, %bond, "bonded claim filed before the hand-over");
                }
                // Sent before a restart: the claim stands.
                Err(e) if e.is_revert::<IDisputeGame::AlreadyClaimed>() => {}
                Err(e) => return Err(chain_error(e)),
            }
            record.claimed = true;
            self.store.set_record(record).await?;
        }
        let Some((batch_id, published)) = record.published.clone() else {
            return Ok(()); // its batch is not committed yet
        };
        let call = IJobMarket::openBatchJobCall {
            batchId: batch_id,
            claim: published.record().claim(&published.proof),
        };
        let done = match self.chain.send(self.market, call, U256::ZERO).await {
            Ok(receipt) => {
                info!(%batch_id, tx = %receipt.transaction_hash, "opened the record for the claim");
                true
            }
            Err(e) if e.is_revert::<IJobMarket::BatchNotSealed>() => {
                self.seal(batch_id).await?;
                false
            }
            // The coordinator opened it (the claim went with it), or it was settled otherwise.
            Err(e)
                if e.is_revert::<IJobMarket::RecordAlreadyUsed>()
                    || e.is_revert::<IJobMarket::BatchWindowClosed>() =>
            {
                self.withdraw_claim(&a).await?;
                true
            }
            Err(e) => return Err(chain_error(e)),
        };
        if done {
            record.done = true;
            self.store.set_record(record).await?;
        }
        Ok(())
    }

    /// Seals a batch nobody sealed yet (its draw is fixed by its commit block either way).
    async fn seal(&self, batch_id: U256) -> Result<()> {
        let call = IJobMarket::sealBatchCall { batchId: batch_id };
        match self.chain.send(self.market, call, U256::ZERO).await {
            Ok(receipt) => info!(%batch_id, tx = %receipt.transaction_hash, "sealed the batch"),
            Err(e) if e.is_revert::<IJobMarket::BatchAlreadySealed>() => {}
            // The commit block is the latest: sealed on a later round.
            Err(e) if e.is_revert::<IJobMarket::TooEarly>() => {}
            Err(e) => return Err(chain_error(e)),
        }
        Ok(())
    }

    /// Takes back a claim still waiting for a record that will not be handed over (nothing to
    /// take back when the open took it).
    async fn withdraw_claim(&self, a: &Receipt) -> Result<()> {
        let call = IDisputeGame::withdrawDisputeCall {
            jobKey: a.job_key,
            asserter: a.worker,
            assertedOutput: a.output_hash,
        };
        match self.chain.send(self.game, call, U256::ZERO).await {
            Ok(receipt) => {
                info!(tx = %receipt.transaction_hash, "the record was settled without our claim: bond taken back");
            }
            Err(e) if e.is_revert::<IDisputeGame::NothingToWithdraw>() => {}
            Err(e) => return Err(chain_error(e)),
        }
        Ok(())
    }

    /// `GET path` on the coordinator as JSON; `None` while it does not serve it.
    async fn coordinator_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Option<T>> {
        let Some(response) = self.coordinator_get(path).await? else { return Ok(None) };
        let url = response.url().to_string();
        response.json().await.map(Some).map_err(|e| Error::Runtime(format!("GET {url}: {e}")))
    }
}
