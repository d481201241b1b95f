//! On-chain settlement of served jobs (DESIGN 3.1 step 6, 3.3): every `batch_interval_ms` the
//! records of served jobs go to `JobMarket` as one Merkle root with their fees in escrow
//! (`commitBatch`); a block later the batch is sealed (`sealBatch`), which fixes the draw; each
//! record the draw challenges is opened on chain within the batch window (`openBatchJob`, then
//! `Sampling` draws validators by stake), every other record is claimed for its asserter once the
//! window has closed (`claimBatchJobs`, many records per transaction), and opened challenges are
//! finalized after their reveal deadline (`finalizeChallenge`). Each round starts with the
//! coordinator's epoch seeds ([`seeds`]): the seeds it committed for epochs that have started are
//! revealed, and the next epoch's seed is committed.
//!
//! Every step is stored before the next: a batch and its jobs are written before `commitBatch`
//! is sent, and a batch left `committing` by a crash is looked up in the market's logs before it
//! is sent again, so no record is escrowed twice. The draw is recomputed here with the
//! contracts' own code (`assay_protocol::math::draw`), so nothing is opened or claimed that the
//! market would refuse. While the current epoch's seed is committed but not revealed the market
//! refuses batches, so served jobs wait; once that epoch is over and the seed's reveal grace has
//! passed without a reveal by its (other) coordinator, the seed is forfeited (`forfeitEpochSeed`,
//! which slashes that coordinator).

mod market;
pub mod seeds;

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use alloy_primitives::U256;
use assay_chain::Key;
use assay_protocol::{
    batch::Batch,
    bindings::{IJobMarket, ISampling},
    codes::{JobStatus, SeedState},
    deployment::Deployment,
    math::{draw, records::JobRecord},
};
use tokio::sync::{mpsc, watch};
use tracing::{Instrument, debug, info, info_span, warn};

pub use self::market::{Market, MarketParams};
use self::seeds::{SeedKey, Seeds};
/// What the settler asks of the scheduler (validators drawn on chain to reach).
pub use crate::scheduler::Event;
use crate::{
    chain::ChainError,
    job::{JobRow, Settlement, Status},
    metrics::Metrics,
    shared::Shared,
    store::{BatchRow, BatchState, Store},
};

/// Errors of one settlement step (logged; the step is retried on the next round).
#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    /// The chain refused or could not be reached.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] crate::Error),
    /// A stored job cannot form a record.
    #[error("job {0} has no receipt or fee")]
    Incomplete(String),
}

/// Records claimed per `claimBatchJobs` transaction (~0.5 KB of calldata each, far below a
/// transaction's size limit).
const CLAIMS_PER_TX: usize = 64;

/// Settlement settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Time between rounds.
    pub interval: Duration,
    /// Most records per batch.
    pub max_jobs: usize,
    /// How long an asserted job waits for an off-chain challenge to start before it is batched.
    pub settle_after_ms: i64,
    /// How long a job the off-chain sampling found disputed waits for a bonded claim before it
    /// is batched anyway.
    pub escalation_wait_ms: i64,
    /// Commit the next epoch's seed and reveal it once the epoch starts ([`seeds`]).
    pub epoch_seeds: bool,
}

/// The settlement task.
pub struct Settler {
    market: Market,
    store: Store,
    settings: Settings,
    scheduler: mpsc::UnboundedSender<Event>,
    seeds: Option<Seeds>,
    shared: Arc<Shared>,
    /// Epochs whose committed seed was seen hidden while batches waited for it: forfeited once
    /// their reveal grace is over, unless revealed.
    hidden: BTreeSet<u64>,
    /// Opened challenges whose drawn validators this process has asked to validate.
    dispatched: BTreeSet<U256>,
}

impl Settler {
    /// Connects to the job market of `manifest` with the coordinator's `key`; validators drawn
    /// on chain are reached through `scheduler`. With [`Settings::epoch_seeds`] the epoch seeds
    /// are derived from `key` ([`SeedKey`]).
    ///
    /// # Errors
    /// As [`Market::connect`].
    pub fn new(
        rpc_url: &str,
        manifest: &Deployment,
        key: &Key,
        store: Store,
        settings: Settings,
        scheduler: mpsc::UnboundedSender<Event>,
    ) -> Result<Self, ChainError> {
        let seeds = if settings.epoch_seeds {
            let market = manifest.contract("JobMarket")?;
            Some(Seeds::new(SeedKey::new(key, manifest.chain_id, market), key.address()))
        } else {
            None
        };
        let market = Market::connect(rpc_url, manifest, key)?;
        Ok(Self {
            market,
            store,
            settings,
            scheduler,
            seeds,
            shared: Arc::default(),
            hidden: BTreeSet::new(),
            dispatched: BTreeSet::new(),
        })
    }

    /// Counts into `shared`'s metrics (the seeds committed and revealed).
    pub fn with_metrics(mut self, shared: Arc<Shared>) -> Self {
        self.shared = shared;
        self
    }

    /// Runs rounds until `stop` turns true.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        info!(coordinator = %self.market.address(), "settling jobs on chain");
        let mut interval = tokio::time::interval(self.settings.interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            if let Err(e) = self.round().await {
                warn!(error = %e, "settlement round failed; retrying next round");
            }
        }
    }

    /// One round: epoch seeds, then recover, form, seal, open or claim, finalize. A failing
    /// seed step is logged and does not hold the batches up (a batch whose seed is hidden waits
    /// by itself).
    ///
    /// # Errors
    /// The first failing batch step's error.
    pub async fn round(&mut self) -> Result<(), SettleError> {
        if let Some(seeds) = &mut self.seeds
            && let Err(e) = seeds.tick(&self.market, &self.shared.metrics).await
        {
            warn!(error = %e, "epoch seeds: retrying next round");
        }
        self.forfeit_overdue().await?;
        for batch in self.store.batches(BatchState::Committing).await? {
            self.commit(batch, Sent::Maybe).await?;
        }
        self.form().await?;
        for batch in self.store.batches(BatchState::Committed).await? {
            self.seal(batch).await?;
        }
        let params = self.market.params().await?;
        for batch in self.store.batches(BatchState::Sealed).await? {
            self.settle(batch, params).await?;
        }
        self.finalize().await
    }

    /// Puts the oldest unbatched jobs into a new batch and commits it.
    async fn form(&mut self) -> Result<(), SettleError> {
        let mut jobs = self
            .store
            .unbatched_jobs(
                self.settings.max_jobs,
                self.settings.settle_after_ms,
                self.settings.escalation_wait_ms,
            )
            .await?;
        self.add_escalated(&mut jobs).await?;
        if jobs.is_empty() {
            return Ok(());
        }
        // The market refuses batches while the current epoch's seed is hidden.
        let (epoch, seed) = self.market.epoch_seed(self.market.now().await?).await?;
        if seed.is_none() {
            self.wait_for_seed(epoch);
            return Ok(());
        }
        let mut fees = Vec::with_capacity(jobs.len());
        for job in &jobs {
            let price = self.market.price(job.model_id).await?;
            fees.push((job.id.clone(), price.saturating_mul(U256::from(units_of_work(job)))));
        }
        let records: Vec<JobRecord> = jobs
            .iter()
            .zip(&fees)
            .map(|(job, (_, fee))| record(job, Some(*fee)))
            .collect::<Result<_, _>>()?;
        let ordered = order_by_id(&jobs, records);
        let batch = Batch::new(ordered).map_err(|e| SettleError::Incomplete(e.to_string()))?;
        let escrow = fees.iter().map(|(_, fee)| *fee).sum();
        let row = BatchRow::new(batch.root(), escrow);
        self.store.insert_batch(&row, &fees).await?;
        info!(root = %row.root, jobs = jobs.len(), %escrow, "batch formed");
        self.commit(row, Sent::No).await
    }

    /// Adds to `jobs` the jobs disputed off-chain that a bonded claim on chain already waits for
    /// (an arbitrator checked them through `GET /v1/disputes`): batched at once, their records
    /// are opened for those claims ([`Self::settle`]). Others wait for claims until their
    /// escalation wait is over.
    async fn add_escalated(&self, jobs: &mut Vec<JobRow>) -> Result<(), SettleError> {
        let room = self.settings.max_jobs.saturating_sub(jobs.len());
        for job in self.store.unbatched_disputes(room).await? {
            if jobs.iter().any(|j| j.id == job.id) {
                continue;
            }
            if self.market.waiting_claims(&record(&job, Some(U256::ZERO))?).await? > 0 {
                info!(job_id = %job.id, "a bonded claim waits for this disputed job: batching it");
                jobs.push(job);
            }
        }
        Ok(())
    }

    /// Sends a stored batch's `commitBatch`, or finds it in the market's logs when it may have
    /// been sent before a crash.
    async fn commit(&mut self, mut batch: BatchRow, sent: Sent) -> Result<(), SettleError> {
        let span = info_span!("batch", root = %batch.root);
        async {
            let found = match sent {
                Sent::No => None,
                Sent::Maybe => self.market.find_commit(batch.root).await?,
            };
            let commit = match found {
                Some(commit) => commit,
                None => {
                    let count = self.store.batch_jobs(batch.root).await?.len();
                    let count = u32::try_from(count).unwrap_or(u32::MAX);
                    match self.market.commit_batch(batch.root, count, batch.escrow).await {
                        Ok(commit) => commit,
                        // A new epoch began with its seed hidden: sent again next round.
                        Err(e) if e.is_revert::<IJobMarket::SeedNotRevealed>() => {
                            info!("the epoch's seed is hidden: the batch waits");
                            return Ok(());
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            };
            batch.state = BatchState::Committed;
            batch.chain_batch_id = Some(commit.batch_id);
            batch.commit_tx = Some(commit.tx);
            batch.commit_block = Some(commit.block);
            batch.committed_at = Some(commit.timestamp);
            self.store.update_batch(&batch).await?;
            info!(batch_id = %commit.batch_id, tx = %commit.tx, "batch committed");
            Ok(())
        }
        .instrument(span)
        .await
    }

    /// Seals a committed batch once a later block exists.
    async fn seal(&mut self, mut batch: BatchRow) -> Result<(), SettleError> {
        let (Some(batch_id), Some(block)) = (batch.chain_batch_id, batch.commit_block) else {
            return Ok(());
        };
        if self.market.block_number().await? <= block {
            return Ok(());
        }
        let seal = match self.market.seal_batch(batch_id).await {
            Ok(seal) => seal,
            // Sealed by someone else (an arbitrator opening a record it claimed against).
            Err(e) if e.is_revert::<IJobMarket::BatchAlreadySealed>() => {
                match self.market.find_seal(batch_id, block).await? {
                    Some(seal) => seal,
                    None => return Ok(()), // its log is not visible yet
                }
            }
            Err(e) => return Err(e.into()),
        };
        batch.state = BatchState::Sealed;
        batch.seal_tx = Some(seal.tx);
        batch.draw_hash = Some(seal.draw_hash);
        batch.late = seal.late;
        self.store.update_batch(&batch).await?;
        info!(%batch_id, tx = %seal.tx, late = seal.late, "batch sealed");
        Ok(())
    }

    /// Opens the challenged records of a sealed batch while its window is open and claims the
    /// others once it has closed.
    async fn settle(
        &mut self,
        mut batch: BatchRow,
        params: MarketParams,
    ) -> Result<(), SettleError> {
        let (Some(batch_id), Some(committed_at), Some(draw_hash)) =
            (batch.chain_batch_id, batch.committed_at, batch.draw_hash)
        else {
            return Ok(());
        };
        let (epoch, seed) = self.market.epoch_seed(committed_at).await?;
        let Some(epoch_seed) = seed else {
            // The market refuses every draw of the epoch (`SeedNotRevealed`) until it is revealed.
            self.wait_for_seed(epoch);
            return Ok(());
        };
        let jobs = self.store.batch_jobs(batch.root).await?;
        let records: Vec<JobRecord> =
            jobs.iter().map(|job| record(job, job.fee)).collect::<Result<_, _>>()?;
        let tree =
            Batch::new(records.clone()).map_err(|e| SettleError::Incomplete(e.to_string()))?;
        let window_closed =
            self.market.now().await? > committed_at.saturating_add(params.batch_window);
        // Records someone else opened (an arbitrator, for its claim) are followed like ours.
        let opened = self.market.opened_records(batch_id, batch.commit_block.unwrap_or(0)).await?;
        let mut pending = 0;
        let mut claims: Vec<(&JobRow, JobRecord, Vec<alloy_primitives::B256>)> = Vec::new();
        for (job, record) in jobs.iter().zip(&records) {
            if job.settlement != Some(Settlement::Batched) {
                continue;
            }
            let seed = draw::challenge_seed(epoch_seed, draw_hash, record.job_key);
            let challenged = batch.late || draw::is_challenged(seed, params.challenge_ppm);
            let (_, proof) =
                tree.proof(record.job_key).map_err(|e| SettleError::Incomplete(e.to_string()))?;
            let span = info_span!("job", job_id = %job.id, %batch_id);
            if let Some((chain_job_id, tx)) = opened.get(&record.job_key) {
                self.store
                    .set_settlement(&job.id, Settlement::Opened, Some(*tx), Some(*chain_job_id))
                    .await?;
                span.in_scope(|| info!(%chain_job_id, %tx, "record opened on chain by another"));
                continue;
            }
            // A record disputed off chain is opened for the bonded claims waiting against it,
            // even when the draw passed it; without one it is claimed like any other.
            let escalated = !challenged
                && !window_closed
                && job.status == Status::Disputed
                && self.market.waiting_claims(record).await? > 0;
            if escalated {
                let (tx, chain_job_id) =
                    self.market.open(batch_id, record, proof).instrument(span.clone()).await?;
                self.store
                    .set_settlement(&job.id, Settlement::Opened, Some(tx), Some(chain_job_id))
                    .await?;
                Metrics::inc(&self.shared.metrics.escalated);
                span.in_scope(|| {
                    info!(%chain_job_id, %tx, "disputed off chain: opened for the bonded claims against it");
                });
            } else if challenged && !window_closed {
                let (tx, chain_job_id) =
                    self.market.open(batch_id, record, proof).instrument(span.clone()).await?;
                self.store
                    .set_settlement(&job.id, Settlement::Opened, Some(tx), Some(chain_job_id))
                    .await?;
                span.in_scope(|| info!(%chain_job_id, %tx, "record challenged: opened on chain"));
                self.dispatch(job, chain_job_id).instrument(span).await?;
            } else if challenged {
                // Left unopened past the window: the market keeps its fee in escrow.
                self.store.set_settlement(&job.id, Settlement::Expired, None, None).await?;
                span.in_scope(|| warn!("challenged record not opened within the batch window"));
            } else if window_closed {
                claims.push((job, *record, proof));
            } else {
                pending += 1;
            }
        }
        for chunk in claims.chunks(CLAIMS_PER_TX) {
            let records: Vec<_> = chunk.iter().map(|(_, r, p)| (*r, p.clone())).collect();
            let tx = self.market.claim(batch_id, &records).await?;
            for (job, record, _) in chunk {
                self.store.set_settlement(&job.id, Settlement::Claimed, Some(tx), None).await?;
                info!(job_id = %job.id, %batch_id, %tx, fee = %record.fee, "record claimed");
            }
        }
        if pending == 0 {
            batch.state = BatchState::Settled;
            self.store.update_batch(&batch).await?;
            info!(%batch_id, "batch settled");
        }
        Ok(())
    }

    /// Notes that batches wait for `epoch`'s hidden seed (logged once per epoch).
    fn wait_for_seed(&mut self, epoch: u64) {
        if self.hidden.insert(epoch) {
            info!(epoch, "batches wait for the epoch's seed to be revealed");
        }
    }

    /// Forfeits each seed batches waited for once its epoch is over and its reveal grace has
    /// passed without a reveal: its coordinator is slashed (DESIGN 3.3), and the epoch's draws
    /// use the zero seed. This coordinator's own seeds are revealed by [`Seeds`], not forfeited.
    async fn forfeit_overdue(&mut self) -> Result<(), SettleError> {
        if self.hidden.is_empty() {
            return Ok(());
        }
        let current = self.market.current_epoch().await?;
        let over: Vec<u64> = self.hidden.range(..current).copied().collect();
        for epoch in over {
            let entry = self.market.seed_entry(epoch).await?;
            if entry.state != SeedState::Committed || entry.coordinator == self.market.address() {
                self.hidden.remove(&epoch);
                continue;
            }
            match self.market.forfeit_seed(epoch).await {
                Ok(tx) => {
                    warn!(epoch, owner = %entry.coordinator, %tx, "epoch seed never revealed: forfeited");
                    self.hidden.remove(&epoch);
                }
                Err(e) if e.is_revert::<IJobMarket::RevealGraceOpen>() => {
                    debug!(epoch, owner = %entry.coordinator, "epoch seed overdue: reveal grace open");
                }
                Err(e) if e.is_revert::<IJobMarket::SeedAlreadySettled>() => {
                    self.hidden.remove(&epoch);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Asks the validators `Sampling` drew for an opened record to validate it on chain (through
    /// the scheduler, which reaches the connected ones), once per process.
    async fn dispatch(&mut self, job: &JobRow, chain_job_id: U256) -> Result<(), SettleError> {
        let validators = self.market.validators(chain_job_id).await?;
        info!(%chain_job_id, ?validators, "on-chain validators drawn");
        let event = Event::ChainValidation { job: Box::new(job.clone()), chain_job_id, validators };
        self.scheduler.send(event).ok();
        self.dispatched.insert(chain_job_id);
        Ok(())
    }

    /// Finalizes opened challenges once every validator revealed or the reveal deadline passed,
    /// recording the outcome; a disputed job is followed until its dispute games settle it
    /// (accepted or rejected).
    async fn finalize(&mut self) -> Result<(), SettleError> {
        for job in self.store.opened_jobs().await? {
            let Some(chain_job_id) = job.chain_job_id.as_deref().and_then(|id| id.parse().ok())
            else {
                continue;
            };
            let mut outcome = self.market.challenge_status(chain_job_id).await?;
            if outcome == JobStatus::Challenged && !self.dispatched.contains(&chain_job_id) {
                // Opened before a restart: its validators may never have been asked.
                let span = info_span!("job", job_id = %job.id);
                span.in_scope(|| info!(%chain_job_id, "asking the drawn validators again"));
                self.dispatch(&job, chain_job_id).instrument(span).await?;
            }
            if outcome == JobStatus::Challenged {
                match self.market.finalize(chain_job_id).await {
                    Ok((tx, status)) => {
                        info!(job_id = %job.id, %chain_job_id, %tx, ?status, "challenge finalized");
                        outcome = status;
                    }
                    Err(e) if e.is_revert::<ISampling::ChallengeStillOpen>() => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            let settlement = match outcome {
                JobStatus::Accepted => Settlement::Accepted,
                JobStatus::Disputed => Settlement::Disputed,
                JobStatus::Rejected => Settlement::Rejected,
                _ => continue,
            };
            if job.settlement == Some(settlement) {
                continue; // its dispute games are still being played
            }
            self.store.set_settlement(&job.id, settlement, None, None).await?;
            if job.settlement == Some(Settlement::Opened) {
                self.scheduler.send(Event::ChainValidationClosed { chain_job_id }).ok();
            }
        }
        Ok(())
    }
}

/// Whether a batch's `commitBatch` may have been sent already.
#[derive(Debug, Clone, Copy)]
enum Sent {
    /// Just formed: nothing was sent.
    No,
    /// Stored as committing by an earlier round or process: look for it in the logs first.
    Maybe,
}

/// The units of work a job is paid for: the tokens its output hash covers (the input tokens of
/// an embedding, the generated tokens of a generation), at least one. Validators re-executing
/// the job agree on them, so a miner cannot inflate them.
fn units_of_work(job: &JobRow) -> usize {
    job.output.as_ref().map_or(1, |output| output.tokens.len().max(1))
}

/// A job's batch record.
fn record(job: &JobRow, fee: Option<U256>) -> Result<JobRecord, SettleError> {
    let (Some(signed), Some(fee)) = (&job.receipt, fee) else {
        return Err(SettleError::Incomplete(job.id.clone()));
    };
    Ok(signed.receipt.record(fee))
}

/// Records in job-id order, the order [`Store::batch_jobs`] returns them in.
fn order_by_id(jobs: &[JobRow], records: Vec<JobRecord>) -> Vec<JobRecord> {
    let mut pairs: Vec<(&str, JobRecord)> =
        jobs.iter().map(|j| j.id.as_str()).zip(records).collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    pairs.into_iter().map(|(_, r)| r).collect()
}
