//! The scheduler (DESIGN 3.1-3.4): one task owns every connected worker and open job, and reacts
//! to [`Event`]s from the HTTP handlers, the worker connections and a ticker.
//!
//! - **Assignment**: the asserter is drawn among connected workers serving the model with a free
//!   slot, weighted by stake × reputation, with the contracts' `weighted_pick` over a seed derived
//!   from the coordinator's draw seed and the job key. The result goes to the user at once.
//! - **Sampling**: the challenge coin (`is_challenged`) and the validator draw (`pick_distinct`,
//!   excluding the asserter) use `challenge_seed(draw seed, keccak(asserter signature), job key)`,
//!   fixed only after the assertion. Validators commit, then all reveal; equal hashes → matched,
//!   any difference → disputed, and parties outside a strict majority are flagged.
//! - **Canaries**: after a matched job, with the canary rate, one uninvolved worker gets the same
//!   job again under a fresh key; a wrong answer flags it.
//! - **Failures**: asserters that time out, fail, disconnect or send an invalid receipt lose the
//!   job to another worker (up to `max_attempts`); validators that time out are left out.
//! - **Poison jobs**: an asserter *lost* while it runs the job (its connection ended without a
//!   WebSocket close frame: process killed, out of memory, TCP reset; or it went silent for three
//!   heartbeats, or reconnected over an open connection; or it reports that the engine panicked)
//!   counts against the job: after [`WORKERS_LOST_PER_JOB`] such workers the job fails with
//!   `job_crashed_workers` instead of going to the next worker, so one request cannot take down
//!   every worker in turn. A graceful disconnect (close frame; a worker shutting down answers or
//!   hands back its in-flight jobs first) is not counted and the job is reassigned.

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256, U256, keccak256};
use assay_protocol::job::{JobSpec, Output};
use assay_protocol::{
    math::{draw, records::validation_commitment},
    wire::{Assignment, CoordinatorMsg, ENGINE_PANICKED, Role, SignedReceipt, WorkerMsg},
};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use tracing::{debug, info, info_span, warn};

mod canary;
mod challenge;

use crate::{
    config::Config,
    error::JOB_CRASHED_WORKERS,
    job::{JobRow, Status, ValidationState, check_receipt, now_ms},
    metrics::Metrics,
    shared::Shared,
    store::{Flag, ValidationRow, Write, Writer},
};

/// The asserter's result as handed to the waiting HTTP request.
#[derive(Debug)]
pub struct Asserted {
    /// Output.
    pub output: Output,
    /// Signed receipt.
    pub receipt: SignedReceipt,
    /// Resolves once the result is durable.
    pub persisted: oneshot::Receiver<crate::store::Ack>,
}

/// Where the HTTP request waits: the result, or why the job failed.
pub(crate) type Waiter = oneshot::Sender<Result<Asserted, String>>;

/// Where a streaming HTTP request takes the text deltas of its job's current asserter
/// ([`WorkerMsg::Partial`]; advisory, never stored).
pub(crate) type Partials = mpsc::UnboundedSender<String>;

/// A worker that completed the handshake.
#[derive(Debug)]
pub struct Joined {
    /// Connection id.
    pub conn: u64,
    /// Its proven address.
    pub address: Address,
    /// Models loaded.
    pub models: Vec<B256>,
    /// Jobs it runs at once.
    pub slots: u32,
    /// Selection weight (stake × reputation).
    pub weight: U256,
    /// Frames to it.
    pub tx: mpsc::UnboundedSender<CoordinatorMsg>,
}

/// What the scheduler reacts to.
#[derive(Debug)]
pub enum Event {
    /// A new (already stored) job, or an open one re-queued at start-up.
    Submit {
        /// The job.
        job: Box<JobRow>,
        /// The HTTP request waiting for it, if any.
        waiter: Option<Waiter>,
        /// Its place in the bounded queue, released once asserted.
        permit: Option<OwnedSemaphorePermit>,
        /// A streaming request's text deltas, if it streams.
        partials: Option<Partials>,
    },
    /// A worker connected.
    Joined(Joined),
    /// A frame from a worker.
    Message {
        /// Connection id.
        conn: u64,
        /// The frame.
        msg: Box<WorkerMsg>,
    },
    /// A worker's connection closed.
    Left {
        /// Connection id.
        conn: u64,
        /// How it ended.
        departure: Departure,
    },
    /// Validators `Sampling` drew on chain for an opened batch record: each connected one gets
    /// the job as a [`Role::ChainValidator`] and commits and reveals on chain itself; one that
    /// connects (or reconnects) later gets it when it joins, until the challenge is closed.
    ChainValidation {
        /// The job.
        job: Box<JobRow>,
        /// Its id in the job market.
        chain_job_id: U256,
        /// The drawn validators.
        validators: Vec<Address>,
    },
    /// An opened record's on-chain challenge is over (finalized): its validators are no longer
    /// asked when they connect.
    ChainValidationClosed {
        /// Its id in the job market.
        chain_job_id: U256,
    },
    /// A connected worker's selection weight and served models read again from the chain.
    Weight {
        /// Connection id.
        conn: u64,
        /// Stake × reputation; zero when it may no longer serve.
        weight: U256,
        /// The models of its hello it serves in the registry now.
        models: Vec<B256>,
    },
    /// Time passed: check deadlines and heartbeats.
    Tick,
}

/// How a worker's connection ended, as far as its in-flight jobs are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Departure {
    /// The worker closed the WebSocket with a close frame: a graceful end (a worker shutting
    /// down answers or hands back its in-flight jobs first). Its jobs go to other workers.
    Closed,
    /// The connection ended abnormally (no close frame: the process was killed or ran out of
    /// memory, a TCP reset, a failed send), or the worker went silent or reconnected over it.
    /// A job it was running counts this loss (see [`WORKERS_LOST_PER_JOB`]).
    Lost(String),
}

/// Workers a job may lose (abnormal connection ends or engine panics while they run it as its
/// asserter) before it fails with `job_crashed_workers` instead of being reassigned: a request
/// that crashes the worker running it reaches one more worker, never every worker in turn.
pub(crate) const WORKERS_LOST_PER_JOB: usize = 2;

struct Worker {
    address: Address,
    models: Vec<B256>,
    slots: u32,
    active: u32,
    weight: U256,
    tx: mpsc::UnboundedSender<CoordinatorMsg>,
    last_seen: Instant,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Vote {
    Drawn,
    Committed(B256),
    Revealed(B256),
    /// Timed out, failed or sent an invalid reveal.
    Out,
}

struct Val {
    conn: u64,
    address: Address,
    vote: Vote,
}

enum Phase {
    Queued,
    Assigned {
        conn: u64,
    },
    /// Re-queued at start-up in the middle of a challenge: waits for validators to connect.
    AwaitValidators,
    Challenged {
        validators: Vec<Val>,
        revealing: bool,
    },
}

struct Job {
    row: JobRow,
    waiter: Option<Waiter>,
    permit: Option<OwnedSemaphorePermit>,
    partials: Option<Partials>,
    /// Whether any delta went to `partials`.
    streamed: bool,
    phase: Phase,
    tried: Vec<Address>,
    /// Asserters lost while running it: address and how.
    lost: Vec<(Address, String)>,
    deadline: Option<Instant>,
    submitted: Instant,
}

struct Canary {
    conn: u64,
    address: Address,
    job_key: B256,
    model_id: B256,
    spec: JobSpec,
    expected: B256,
    commitment: Option<B256>,
    deadline: Instant,
}

/// Scheduler settings taken from the [`Config`].
#[derive(Debug, Clone)]
pub(crate) struct Params {
    chain_id: u64,
    p_ppm: u32,
    validators: usize,
    canary_ppm: u32,
    heartbeat: Duration,
    assert_timeout: Duration,
    validation_timeout: Duration,
    max_attempts: u32,
    seed: B256,
}

impl Params {
    /// From the configuration and the chain id.
    pub(crate) fn new(config: &Config, chain_id: u64) -> Self {
        Self {
            chain_id,
            p_ppm: Config::ppm(config.challenge_probability),
            validators: config.validators,
            canary_ppm: Config::ppm(config.canary_rate),
            heartbeat: config.heartbeat(),
            assert_timeout: Duration::from_millis(config.assert_timeout_ms),
            validation_timeout: Duration::from_millis(config.validation_timeout_ms),
            max_attempts: config.max_attempts,
            seed: config.seed.unwrap_or_else(B256::random),
        }
    }
}

/// The scheduler's state; run it with [`Scheduler::run`].
pub(crate) struct Scheduler {
    params: Params,
    writer: Writer,
    shared: Arc<Shared>,
    workers: HashMap<u64, Worker>,
    jobs: HashMap<String, Job>,
    queue: VecDeque<String>,
    canaries: HashMap<String, Canary>,
    known: HashMap<B256, VecDeque<(JobSpec, B256)>>,
    /// Open on-chain challenges by market job id: the validation each drawn validator gets.
    chain_open: HashMap<U256, ChainOpen>,
    counter: u64,
}

/// An open on-chain challenge: what its drawn validators are asked to run.
struct ChainOpen {
    assignment: Assignment,
    validators: Vec<Address>,
}

/// Known answers kept per model for canaries.
const KNOWN_ANSWERS: usize = 64;

impl Scheduler {
    /// A scheduler with no workers and no jobs.
    pub(crate) fn new(params: Params, writer: Writer, shared: Arc<Shared>) -> Self {
        Self {
            params,
            writer,
            shared,
            workers: HashMap::new(),
            jobs: HashMap::new(),
            queue: VecDeque::new(),
            canaries: HashMap::new(),
            known: HashMap::new(),
            chain_open: HashMap::new(),
            counter: 0,
        }
    }

    /// Handles events until every sender is gone.
    pub(crate) async fn run(mut self, mut events: mpsc::UnboundedReceiver<Event>) {
        while let Some(event) = events.recv().await {
            self.handle(event);
        }
    }

    fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// Reacts to one event.
    pub(crate) fn handle(&mut self, event: Event) {
        match event {
            Event::Submit { job, waiter, permit, partials } => {
                self.submit(*job, waiter, permit, partials);
            }
            Event::Joined(j) => self.joined(j),
            Event::Message { conn, msg } => self.message(conn, *msg),
            Event::Left { conn, departure } => self.left(conn, &departure),
            Event::Tick => self.tick(),
            Event::ChainValidation { job, chain_job_id, validators } => {
                self.chain_validation(&job, chain_job_id, validators);
            }
            Event::ChainValidationClosed { chain_job_id } => {
                self.chain_open.remove(&chain_job_id);
            }
            Event::Weight { conn, weight, models } => {
                if let Some(w) = self.workers.get_mut(&conn) {
                    if w.weight != weight {
                        info!(worker = %w.address, conn, old = %w.weight, new = %weight, "weight changed");
                        w.weight = weight;
                    }
                    if w.models != models {
                        info!(worker = %w.address, conn, ?models, "models served on chain changed");
                        w.models = models;
                    }
                }
            }
        }
        self.pump();
        Metrics::set(&self.shared.metrics.queued, self.queue.len());
    }

    fn submit(
        &mut self,
        row: JobRow,
        waiter: Option<Waiter>,
        permit: Option<OwnedSemaphorePermit>,
        partials: Option<Partials>,
    ) {
        let id = row.id.clone();
        let phase = if row.status == Status::Challenged {
            // Start-up: the asserted result is stored; draw validators again.
            self.writer.send(Write::ClearValidations { job_id: id.clone() });
            Phase::AwaitValidators
        } else {
            Phase::Queued
        };
        let job = Job {
            row,
            waiter,
            permit,
            partials,
            streamed: false,
            phase,
            tried: Vec::new(),
            lost: Vec::new(),
            deadline: None,
            submitted: Instant::now(),
        };
        self.jobs.insert(id.clone(), job);
        self.queue.push_back(id);
    }

    fn joined(&mut self, j: Joined) {
        let old: Vec<u64> =
            self.workers.iter().filter(|(_, w)| w.address == j.address).map(|(c, _)| *c).collect();
        for conn in old {
            info!(worker = %j.address, "worker reconnected: dropping its previous connection");
            let why = "it reconnected while this connection was still open".to_string();
            self.left(conn, &Departure::Lost(why));
        }
        info!(worker = %j.address, conn = j.conn, models = j.models.len(), slots = j.slots, "worker joined");
        self.workers.insert(
            j.conn,
            Worker {
                address: j.address,
                models: j.models,
                slots: j.slots.max(1),
                active: 0,
                weight: j.weight,
                tx: j.tx,
                last_seen: Instant::now(),
            },
        );
        self.ask_chain_validator(j.conn, j.address);
        self.publish_served();
    }

    fn publish_served(&self) {
        let mut served: HashMap<B256, usize> = HashMap::new();
        for w in self.workers.values() {
            for m in &w.models {
                *served.entry(*m).or_default() += 1;
            }
        }
        *self.shared.served.write().expect("served lock") = served;
        Metrics::set(&self.shared.metrics.workers, self.workers.len());
    }

    fn send(&self, conn: u64, msg: CoordinatorMsg) {
        if let Some(w) = self.workers.get(&conn) {
            // A closed channel means the connection is going; its `Left` event follows.
            w.tx.send(msg).ok();
        }
    }

    fn flag(&self, worker: Address, job_id: &str, reason: String) {
        warn!(job_id, %worker, reason, "worker flagged");
        self.writer.send(Write::Flag(Flag {
            worker,
            job_id: job_id.into(),
            reason,
            created_ms: now_ms(),
        }));
    }

    fn next_seed(&mut self, tag: &[u8], key: B256) -> B256 {
        self.counter += 1;
        keccak256(
            [self.params.seed.as_slice(), tag, key.as_slice(), &self.counter.to_be_bytes()]
                .concat(),
        )
    }

    /// Workers serving `model` with a selection weight, not in `exclude`, with a free slot when
    /// `need_slot`; ordered by connection id so draws are reproducible. A worker whose weight
    /// fell to zero (frozen, under-staked, no reputation left) gets no work, as on chain.
    fn candidates(&self, model: B256, exclude: &[Address], need_slot: bool) -> Vec<(u64, U256)> {
        let mut c: Vec<(u64, U256)> = self
            .workers
            .iter()
            .filter(|(_, w)| w.models.contains(&model) && !exclude.contains(&w.address))
            .filter(|(_, w)| !w.weight.is_zero() && (!need_slot || w.active < w.slots))
            .map(|(conn, w)| (*conn, w.weight))
            .collect();
        c.sort_by_key(|(conn, _)| *conn);
        c
    }

    fn pump(&mut self) {
        let mut remaining = VecDeque::with_capacity(self.queue.len());
        while let Some(id) = self.queue.pop_front() {
            let done = match self.jobs.get(&id).map(|j| &j.phase) {
                Some(Phase::Queued) => self.assign(&id),
                Some(Phase::AwaitValidators) => self.start_challenge(&id),
                _ => true,
            };
            if !done {
                remaining.push_back(id);
            }
        }
        self.queue = remaining;
    }

    fn assign(&mut self, id: &str) -> bool {
        let job = &self.jobs[id];
        let (model, key, attempt) = (job.row.model_id, job.row.job_key, job.row.attempts);
        let mut cands = self.candidates(model, &job.tried, true);
        if cands.is_empty() {
            // An untried worker that is busy now is worth waiting for: going back to one that
            // already failed this job (a cheat sending bad receipts) would only fail it again.
            if !self.candidates(model, &job.tried, false).is_empty() {
                return false;
            }
            cands = self.candidates(model, &[], true);
        }
        if cands.is_empty() {
            return false;
        }
        let seed = keccak256(
            [
                self.params.seed.as_slice(),
                b"assay.coordinator.assign",
                key.as_slice(),
                &attempt.to_be_bytes(),
            ]
            .concat(),
        );
        let weights: Vec<U256> = cands.iter().map(|(_, w)| *w).collect();
        let index = draw::weighted_pick(seed, &weights).unwrap_or(0);
        let conn = cands[index].0;
        let worker = self.workers.get_mut(&conn).expect("candidate is connected");
        worker.active += 1;
        let address = worker.address;
        let job = self.jobs.get_mut(id).expect("job exists");
        job.row.attempts += 1;
        job.tried.push(address);
        job.phase = Phase::Assigned { conn };
        job.deadline = Some(Instant::now() + self.params.assert_timeout);
        self.shared.metrics.observe_dispatch(job.submitted.elapsed());
        let _span = info_span!("job", job_id = %id).entered();
        debug!(%address, attempt = job.row.attempts, "assigned");
        let msg = CoordinatorMsg::Execute(Assignment {
            job_id: id.into(),
            job_key: key,
            model_id: model,
            spec: job.row.spec.clone(),
            role: Role::Asserter,
        });
        self.writer.send(Write::Status {
            id: id.into(),
            status: Status::Assigned,
            asserter: Some(address),
            attempts: job.row.attempts,
        });
        self.send(conn, msg);
        true
    }

    fn release_slot(&mut self, conn: u64) {
        if let Some(w) = self.workers.get_mut(&conn) {
            w.active = w.active.saturating_sub(1);
        }
    }

    /// The asserter of `id` is gone or failed: queue it again, or fail it after `max_attempts`.
    fn retry(&mut self, id: &str, reason: &str) {
        let Some(job) = self.jobs.get_mut(id) else { return };
        if job.row.attempts >= self.params.max_attempts {
            self.fail(id, reason);
            return;
        }
        info!(job_id = id, reason, "reassigning");
        if job.streamed {
            // The next asserter's deltas would repeat or contradict what was streamed: the request
            // gets the rest of the text from the final result, or an error if it does not continue
            // what was streamed.
            job.partials = None;
        }
        job.phase = Phase::Queued;
        job.deadline = None;
        Metrics::inc(&self.shared.metrics.jobs_reassigned);
        self.writer.send(Write::Status {
            id: id.into(),
            status: Status::Pending,
            asserter: None,
            attempts: job.row.attempts,
        });
        self.queue.push_front(id.into());
    }

    /// The asserter of `id` was lost while running it (`why`): the job goes to another worker,
    /// or fails with `job_crashed_workers` once it has cost [`WORKERS_LOST_PER_JOB`] workers.
    fn lost(&mut self, id: &str, address: Address, why: &str) {
        let Some(job) = self.jobs.get_mut(id) else { return };
        job.lost.push((address, why.to_owned()));
        if job.lost.len() < WORKERS_LOST_PER_JOB {
            self.retry(id, &format!("asserter {address} was lost while running the job: {why}"));
            return;
        }
        let workers: Vec<String> = job.lost.iter().map(|(a, why)| format!("{a}: {why}")).collect();
        let reason = format!(
            "{JOB_CRASHED_WORKERS}: running it ended {} workers' connections ({}); it was not \
             retried further",
            job.lost.len(),
            workers.join("; ")
        );
        self.fail(id, &reason);
    }

    fn fail(&mut self, id: &str, reason: &str) {
        let Some(mut job) = self.jobs.remove(id) else { return };
        warn!(job_id = id, reason, "job failed");
        Metrics::inc(&self.metrics().jobs_failed);
        if let Some(w) = job.waiter.take() {
            w.send(Err(reason.into())).ok();
        }
        self.writer.send(Write::Failed { id: id.into(), error: reason.into() });
    }

    fn message(&mut self, conn: u64, msg: WorkerMsg) {
        let Some(w) = self.workers.get_mut(&conn) else { return };
        w.last_seen = Instant::now();
        match msg {
            WorkerMsg::Hello { .. } | WorkerMsg::Heartbeat { .. } => {}
            WorkerMsg::Partial { job_id, text } => self.on_partial(conn, &job_id, text),
            WorkerMsg::Result { job_id, output, receipt } => {
                self.on_result(conn, &job_id, output, receipt);
            }
            WorkerMsg::Committed { job_id, commitment } => {
                self.on_commit(conn, &job_id, commitment)
            }
            WorkerMsg::Revealed { job_id, salt, receipt } => {
                self.on_reveal(conn, &job_id, salt, receipt);
            }
            WorkerMsg::Failed { job_id, error } => self.on_failed(conn, &job_id, &error),
        }
    }

    /// Forwards a text delta to a streaming request, if it comes from the job's current
    /// asserter. Nothing is stored.
    fn on_partial(&mut self, conn: u64, id: &str, text: String) {
        let Some(job) = self.jobs.get_mut(id) else { return };
        if !matches!(job.phase, Phase::Assigned { conn: c } if c == conn) {
            return;
        }
        let Some(partials) = &job.partials else { return };
        if partials.send(text).is_ok() {
            job.streamed = true;
        } else {
            job.partials = None; // the request has gone
        }
    }

    fn on_result(&mut self, conn: u64, id: &str, output: Output, receipt: SignedReceipt) {
        let Some(job) = self.jobs.get(id) else { return };
        if !matches!(job.phase, Phase::Assigned { conn: c } if c == conn) {
            return;
        }
        let _span = info_span!("job", job_id = %id).entered();
        self.release_slot(conn);
        let address = self.workers[&conn].address;
        let job = &self.jobs[id];
        let check = check_receipt(
            &receipt,
            self.params.chain_id,
            address,
            job.row.job_key,
            job.row.model_id,
            &job.row.spec,
        )
        .and_then(|()| {
            if output.hash() == receipt.receipt.output_hash {
                Ok(())
            } else {
                Err(crate::job::ReceiptError::OutputMismatch)
            }
        });
        if let Err(e) = check {
            Metrics::inc(&self.metrics().invalid_receipts);
            self.flag(address, id, format!("invalid asserter receipt: {e}"));
            self.retry(id, &format!("invalid receipt from {address}: {e}"));
            return;
        }
        Metrics::inc(&self.metrics().jobs_asserted);
        let persisted = self.writer.send_acked(Write::Asserted {
            id: id.into(),
            output: output.clone(),
            receipt: receipt.clone(),
        });
        let job = self.jobs.get_mut(id).expect("job exists");
        if let Some(w) = job.waiter.take() {
            w.send(Ok(Asserted { output: output.clone(), receipt: receipt.clone(), persisted }))
                .ok();
        }
        job.permit = None;
        job.partials = None;
        job.deadline = None;
        job.row.status = Status::Asserted;
        job.row.asserter = Some(address);
        job.row.output = Some(output);
        job.row.receipt = Some(receipt);
        debug!(%address, "asserted");
        if !(self.is_challenged(id) && self.start_challenge(id)) {
            self.jobs.remove(id);
        }
    }

    /// A worker could not run a job: an asserter's job goes to another worker, a validator is
    /// out, a canary is forgotten.
    fn on_failed(&mut self, conn: u64, id: &str, error: &str) {
        if self.canaries.get(id).is_some_and(|c| c.conn == conn) {
            self.canaries.remove(id);
            return;
        }
        match self.jobs.get(id).map(|j| &j.phase) {
            Some(Phase::Assigned { conn: c }) if *c == conn => {
                self.release_slot(conn);
                if error.starts_with(ENGINE_PANICKED) {
                    let address = self.workers[&conn].address;
                    self.lost(id, address, error);
                } else {
                    self.retry(id, error);
                }
            }
            Some(Phase::Challenged { .. }) => {
                self.drop_validator(id, conn, ValidationState::Failed)
            }
            _ => {}
        }
    }

    fn left(&mut self, conn: u64, departure: &Departure) {
        let Some(w) = self.workers.remove(&conn) else { return };
        match departure {
            Departure::Closed => info!(worker = %w.address, conn, "worker left"),
            Departure::Lost(why) => warn!(worker = %w.address, conn, why, "worker lost"),
        }
        self.publish_served();
        self.canaries.retain(|_, c| c.conn != conn);
        let ids: Vec<String> = self.jobs.keys().cloned().collect();
        for id in ids {
            match &self.jobs[&id].phase {
                Phase::Assigned { conn: c } if *c == conn => match departure {
                    Departure::Closed => {
                        self.retry(&id, &format!("asserter {} disconnected", w.address));
                    }
                    Departure::Lost(why) => self.lost(&id, w.address, why),
                },
                Phase::Challenged { .. } => {
                    self.drop_validator(&id, conn, ValidationState::TimedOut)
                }
                _ => {}
            }
        }
    }

    fn tick(&mut self) {
        let now = Instant::now();
        let silent: Vec<u64> = self
            .workers
            .iter()
            .filter(|(_, w)| now.duration_since(w.last_seen) > self.params.heartbeat * 3)
            .map(|(c, _)| *c)
            .collect();
        for conn in silent {
            warn!(conn, "worker silent for 3 heartbeats: dropping it");
            self.left(conn, &Departure::Lost("silent for 3 heartbeats".into()));
        }
        let expired: Vec<String> = self
            .jobs
            .iter()
            .filter(|(_, j)| j.deadline.is_some_and(|d| d <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            match &self.jobs[&id].phase {
                Phase::Assigned { conn } => {
                    let conn = *conn;
                    self.send(conn, CoordinatorMsg::Cancel { job_id: id.clone() });
                    self.release_slot(conn);
                    self.retry(&id, "asserter timed out");
                }
                Phase::Challenged { .. } => self.expire_votes(&id),
                _ => {}
            }
        }
        self.canaries.retain(|_, c| c.deadline > now);
    }
}

fn validation_row(validator: Address, state: ValidationState) -> ValidationRow {
    ValidationRow {
        validator,
        state,
        commitment: None,
        output_hash: None,
        salt: None,
        receipt: None,
    }
}

/// Parties whose hash is not the strict-majority hash; nobody when no hash has a strict majority
/// (the fraud proof decides those).
pub(crate) fn minority(parties: &[(Address, B256)]) -> Vec<Address> {
    let mut counts: HashMap<B256, usize> = HashMap::new();
    for (_, h) in parties {
        *counts.entry(*h).or_default() += 1;
    }
    match counts.iter().find(|(_, n)| **n * 2 > parties.len()) {
        Some((majority, _)) => {
            parties.iter().filter(|(_, h)| h != majority).map(|(a, _)| *a).collect()
        }
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Kind;

    fn join(
        s: &mut Scheduler,
        conn: u64,
        address: Address,
    ) -> mpsc::UnboundedReceiver<CoordinatorMsg> {
        let (tx, rx) = mpsc::unbounded_channel();
        s.handle(Event::Joined(Joined {
            conn,
            address,
            models: vec![B256::repeat_byte(9)],
            slots: 1,
            weight: U256::from(1u8),
            tx,
        }));
        rx
    }

    fn chain_jobs(rx: &mut mpsc::UnboundedReceiver<CoordinatorMsg>) -> Vec<U256> {
        let mut ids = Vec::new();
        while let Ok(msg) = rx.try_recv() {
            if let CoordinatorMsg::Execute(Assignment {
                role: Role::ChainValidator { chain_job_id },
                ..
            }) = msg
            {
                ids.push(chain_job_id);
            }
        }
        ids
    }

    /// A validator `Sampling` drew is asked to validate whether it is connected when the record
    /// is opened or joins later (or again after a restart), until the challenge is closed.
    #[test]
    fn validators_drawn_on_chain_are_asked_when_they_join_until_the_challenge_closes() {
        let (writer, _writes) = Writer::detached();
        let params = Params::new(&Config::default(), 412_346);
        let mut s = Scheduler::new(params, writer, Arc::new(Shared::default()));
        let (online, late, other) =
            (Address::repeat_byte(1), Address::repeat_byte(2), Address::repeat_byte(3));
        let mut online_rx = join(&mut s, 1, online);
        let job = JobRow::new(Kind::Chat, B256::repeat_byte(9), JobSpec::user("hi", 4, 0));
        let id = U256::from(7u8);
        s.handle(Event::ChainValidation {
            job: Box::new(job),
            chain_job_id: id,
            validators: vec![online, late],
        });
        assert_eq!(chain_jobs(&mut online_rx), vec![id], "a connected validator is asked at once");

        let mut late_rx = join(&mut s, 2, late);
        assert_eq!(chain_jobs(&mut late_rx), vec![id], "a late validator is asked when it joins");
        let mut other_rx = join(&mut s, 3, other);
        assert!(chain_jobs(&mut other_rx).is_empty(), "a worker not drawn is not asked");
        let mut again_rx = join(&mut s, 4, online);
        assert_eq!(chain_jobs(&mut again_rx), vec![id], "a reconnecting validator is asked again");

        s.handle(Event::ChainValidationClosed { chain_job_id: id });
        let mut after_rx = join(&mut s, 5, late);
        assert!(chain_jobs(&mut after_rx).is_empty(), "a closed challenge is not asked for");
    }

    #[test]
    fn minority_needs_a_strict_majority() {
        let (a, b, c) = (Address::repeat_byte(1), Address::repeat_byte(2), Address::repeat_byte(3));
        let (x, y) = (B256::repeat_byte(1), B256::repeat_byte(2));
        assert_eq!(minority(&[(a, y), (b, x), (c, x)]), vec![a]);
        assert_eq!(minority(&[(a, x), (b, x), (c, y)]), vec![c]);
        assert!(minority(&[(a, x), (b, y)]).is_empty());
        assert!(minority(&[(a, x), (b, x)]).is_empty());
    }
}
