//! `worker run`: connects to a coordinator, proves its key, executes jobs and keeps the
//! connection alive.
//!
//! [`run`] loads the models, optionally checks the miner's stake and registrations on-chain
//! ([`crate::chain::check_ready`]), measures its engine speed, then loops over sessions,
//! reconnecting with `Backoff` until `shutdown` is cancelled. A session is one WebSocket:
//! handshake, then jobs. Jobs run on the blocking pool, at most `slots` at once; an asserter
//! answers `Result`, a validator `Committed` and, on `Reveal`, `Revealed` with the salt it kept.
//! An asserter of a generation streams its text as it is produced (`Partial` deltas, before its
//! `Result`; advisory, covered by no receipt).
//! On shutdown the worker takes no new job, finishes what it runs within the grace period, answers
//! `Failed` for the rest and closes the socket.

use std::{collections::HashMap, path::PathBuf, sync::Arc, time::Duration};

use alloy_primitives::B256;
use assay_chain::Key;
use assay_player::{PlayError, Player};
use assay_protocol::job::JobSpec;
use assay_protocol::{
    deployment::Deployment,
    wire::{
        Assignment, CoordinatorMsg, ENGINE_PANICKED, PROTOCOL_VERSION, Role, SignedReceipt,
        WorkerMsg, hello_digest,
    },
};
use futures::{SinkExt, StreamExt};
use tokio::{
    sync::{Semaphore, mpsc},
    task::AbortHandle,
    time::Instant,
};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, Span, debug, error, info, info_span, warn};

use crate::{
    backoff::Backoff,
    error::{Error, Result},
    exec::{self, Executed, Models},
    games::{GameCursor, Games},
    inputs::Inputs,
};

/// Where a worker connects by default.
pub const DEFAULT_COORDINATOR: &str = "ws://127.0.0.1:8080/v1/workers";

/// The on-chain check made before connecting.
#[derive(Debug, Clone)]
pub struct ChainCheck {
    /// JSON-RPC endpoint.
    pub rpc_url: String,
    /// The deployment.
    pub manifest: Deployment,
}

/// A worker's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Coordinator WebSocket URL.
    pub coordinator: String,
    /// Model directories to serve.
    pub models: Vec<PathBuf>,
    /// The miner's key.
    pub key: Key,
    /// Jobs run at once.
    pub slots: u32,
    /// How long in-flight jobs may run on after shutdown is asked for.
    pub shutdown_grace: Duration,
    /// First reconnection delay.
    pub backoff_initial: Duration,
    /// Longest reconnection delay.
    pub backoff_max: Duration,
    /// Longest wait for each handshake frame.
    pub handshake_timeout: Duration,
    /// Check stake and model registrations on-chain before connecting.
    pub chain: Option<ChainCheck>,
    /// Test double of a cheating miner: corrupt every output hash asserted or revealed.
    pub dishonest: bool,
    /// Where the inputs of the jobs it runs are kept, to replay them in dispute games; with the
    /// chain configured, the worker plays its games only when this is set.
    pub state_dir: Option<PathBuf>,
}

impl Config {
    /// Defaults: [`DEFAULT_COORDINATOR`], one slot, 30 s grace, backoff 0.5 s to 30 s.
    pub fn new(key: Key) -> Self {
        Self {
            coordinator: DEFAULT_COORDINATOR.into(),
            models: Vec::new(),
            key,
            slots: 1,
            shutdown_grace: Duration::from_secs(30),
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(10),
            chain: None,
            dishonest: false,
            state_dir: None,
        }
    }

    /// For tests: a random key, fast backoff, short grace.
    pub fn test(coordinator: &str) -> Self {
        Self::new(Key::random())
            .with_coordinator(coordinator)
            .with_backoff(Duration::from_millis(50), Duration::from_millis(400))
            .with_shutdown_grace(Duration::from_secs(5))
    }

    /// Sets the coordinator URL.
    pub fn with_coordinator(mut self, url: &str) -> Self {
        url.clone_into(&mut self.coordinator);
        self
    }

    /// Adds a model directory.
    pub fn with_model(mut self, dir: impl Into<PathBuf>) -> Self {
        self.models.push(dir.into());
        self
    }

    /// Sets the number of parallel jobs (at least one).
    pub fn with_slots(mut self, slots: u32) -> Self {
        self.slots = slots.max(1);
        self
    }

    /// Sets the shutdown grace period.
    pub fn with_shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Sets the reconnection delays.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        (self.backoff_initial, self.backoff_max) = (initial, max);
        self
    }

    /// Checks the chain before connecting.
    pub fn with_chain(mut self, check: ChainCheck) -> Self {
        self.chain = Some(check);
        self
    }

    /// Keeps job inputs under `dir` and plays the worker's dispute games.
    pub fn with_state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// Makes the worker dishonest (tests of dispute detection).
    pub fn with_dishonest(mut self, dishonest: bool) -> Self {
        self.dishonest = dishonest;
        self
    }
}

/// Runs the worker until `shutdown` is cancelled.
///
/// # Errors
/// [`Error::Usage`] without models, [`Error::Model`]/[`Error::Engine`] when a model cannot be
/// loaded, [`Error::NotReady`]/[`Error::Chain`] from the on-chain check, [`Error::Protocol`] when
/// the coordinator speaks another protocol version or chain. Connection failures are retried.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<()> {
    if config.models.is_empty() {
        return Err(Error::Usage("no model: give at least one --model directory".into()));
    }
    let dirs = config.models.clone();
    let models = tokio::task::spawn_blocking(move || Models::load(&dirs))
        .await
        .map_err(|e| Error::Usage(format!("loading models panicked: {e}")))??;
    for m in models.iter() {
        info!(model_id = %m.id, dir = %m.dir.display(), "model loaded");
    }
    let address = config.key.address();
    if let Some(check) = &config.chain {
        crate::chain::check_ready(&check.rpc_url, &check.manifest, address, &models.ids()).await?;
        info!(%address, "stake and model registrations checked on-chain");
    }
    let bench_models = models.clone();
    let tokens_per_sec = tokio::task::spawn_blocking(move || exec::benchmark(&bench_models))
        .await
        .unwrap_or_default();
    info!(tokens_per_sec = %format!("{tokens_per_sec:.1}"), "capability benchmark");

    let validator = match &config.chain {
        Some(c) => {
            Some(crate::chain::ChainValidator::connect(&c.rpc_url, &c.manifest, &config.key)?)
        }
        None => None,
    };
    let inputs = config.state_dir.as_deref().map(Inputs::open).transpose()?;
    let state_dir = config.state_dir.as_deref();
    if let (Some(c), Some(validator), Some(inputs), Some(state_dir)) =
        (&config.chain, &validator, &inputs, state_dir)
    {
        match Player::new(validator.client(), &c.manifest) {
            Ok(player) => {
                let games = Games {
                    player,
                    models: models.clone(),
                    inputs: inputs.clone(),
                    dishonest: config.dishonest,
                    from_block: c.manifest.deploy_block,
                    cursor: GameCursor::new(state_dir),
                };
                tokio::spawn(games.watch(shutdown.clone()));
            }
            Err(PlayError::Deployment(e)) => {
                warn!(error = %e, "no dispute games to play on this deployment");
            }
            Err(e) => return Err(e.into()),
        }
    }
    let shared = Arc::new(Shared {
        slots: Arc::new(Semaphore::new(config.slots as usize)),
        inputs,
        models,
        tokens_per_sec,
        validator,
        config,
    });
    let mut backoff = Backoff::new(shared.config.backoff_initial, shared.config.backoff_max);
    loop {
        if shutdown.is_cancelled() {
            return Ok(());
        }
        match session(&shared, &shutdown, &mut backoff).await {
            Ok(End::Shutdown) => {
                info!("stopped");
                return Ok(());
            }
            Ok(End::Lost(why)) => {
                let delay = backoff.next_delay();
                warn!(coordinator = %shared.config.coordinator, %why, ?delay, "reconnecting");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = shutdown.cancelled() => return Ok(()),
                }
            }
            Err(e) => {
                error!(%e, "giving up");
                return Err(e);
            }
        }
    }
}

/// State shared by every session.
#[derive(Debug)]
struct Shared {
    config: Config,
    models: Models,
    slots: Arc<Semaphore>,
    tokens_per_sec: f64,
    /// Signs on-chain validations, when the chain is configured.
    validator: Option<crate::chain::ChainValidator>,
    /// Where the inputs of the jobs run are kept, when a state directory is configured.
    inputs: Option<Inputs>,
}

/// How a session ended.
#[derive(Debug)]
enum End {
    /// Shutdown was asked for and done.
    Shutdown,
    /// The connection failed or dropped: reconnect.
    Lost(String),
}

/// A job of this session.
#[derive(Debug)]
struct Job {
    role: Role,
    span: Span,
    state: JobState,
}

#[derive(Debug)]
enum JobState {
    /// On the engine (or waiting for a slot).
    Running(AbortHandle),
    /// A validator that committed, holding what it reveals.
    Committed { salt: B256, receipt: Box<SignedReceipt> },
}

/// A finished engine run.
#[derive(Debug)]
struct Done {
    job_id: String,
    result: Result<(Executed, SignedReceipt), String>,
}

/// What the engine runs report to their session, in the order they happen.
#[derive(Debug)]
enum Update {
    /// Text an asserter's generation produced (sent as [`WorkerMsg::Partial`]).
    Delta { job_id: String, text: String },
    /// A run finished (boxed: it is large).
    Done(Box<Done>),
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
type Sink = futures::stream::SplitSink<Ws, Message>;
type Stream = futures::stream::SplitStream<Ws>;

/// The next handshake frame.
async fn next_frame(stream: &mut Stream, timeout: Duration) -> Result<CoordinatorMsg, String> {
    loop {
        match tokio::time::timeout(timeout, stream.next()).await {
            Err(_) => return Err("handshake timed out".into()),
            Ok(None | Some(Ok(Message::Close(_)))) => return Err("closed during handshake".into()),
            Ok(Some(Err(e))) => return Err(e.to_string()),
            Ok(Some(Ok(Message::Text(t)))) => {
                return serde_json::from_str(t.as_str()).map_err(|e| format!("bad frame: {e}"));
            }
            Ok(Some(Ok(_))) => {}
        }
    }
}

async fn send(sink: &mut Sink, msg: &WorkerMsg) -> Result<(), String> {
    let text = serde_json::to_string(msg).expect("frames serialise");
    sink.send(Message::text(text)).await.map_err(|e| format!("send: {e}"))
}

/// One connection: handshake, then jobs until it drops or shutdown completes.
async fn session(
    shared: &Arc<Shared>,
    shutdown: &CancellationToken,
    backoff: &mut Backoff,
) -> Result<End> {
    let cfg = &shared.config;
    let connect = tokio::select! {
        r = tokio_tungstenite::connect_async(cfg.coordinator.as_str()) => r,
        () = shutdown.cancelled() => return Ok(End::Shutdown),
    };
    let ws = match connect {
        Ok((ws, _)) => ws,
        Err(e) => return Ok(End::Lost(format!("connect: {e}"))),
    };
    let (mut sink, mut stream) = ws.split();
    let timeout = cfg.handshake_timeout;
    let (nonce, chain_id) = match next_frame(&mut stream, timeout).await {
        Ok(CoordinatorMsg::Challenge { nonce, chain_id, protocol }) => {
            if protocol != PROTOCOL_VERSION {
                return Err(Error::Protocol(format!(
                    "speaks protocol {protocol}, this worker {PROTOCOL_VERSION}: upgrade one"
                )));
            }
            (nonce, chain_id)
        }
        Ok(other) => return Ok(End::Lost(format!("expected a challenge, got {other:?}"))),
        Err(e) => return Ok(End::Lost(e)),
    };
    if let Some(check) = &cfg.chain
        && check.manifest.chain_id != chain_id
    {
        return Err(Error::Protocol(format!(
            "settles on chain {chain_id}, the deployment manifest on chain {}",
            check.manifest.chain_id
        )));
    }
    let worker = cfg.key.address();
    let hello = WorkerMsg::Hello {
        worker,
        signature: cfg.key.sign_digest(hello_digest(chain_id, nonce, worker)),
        protocol: PROTOCOL_VERSION,
        models: shared.models.ids(),
        slots: cfg.slots,
        tokens_per_sec: shared.tokens_per_sec,
    };
    if let Err(e) = send(&mut sink, &hello).await {
        return Ok(End::Lost(e));
    }
    let heartbeat_secs = match next_frame(&mut stream, timeout).await {
        Ok(CoordinatorMsg::Welcome { heartbeat_secs, .. }) => heartbeat_secs,
        Ok(CoordinatorMsg::Rejected { reason }) => {
            error!(%reason, "coordinator rejected this worker");
            return Ok(End::Lost(format!("rejected: {reason}")));
        }
        Ok(other) => return Ok(End::Lost(format!("expected welcome, got {other:?}"))),
        Err(e) => return Ok(End::Lost(e)),
    };
    backoff.reset();
    info!(coordinator = %cfg.coordinator, %worker, chain_id, "connected");
    let mut s = Session {
        shared: shared.clone(),
        chain_id,
        jobs: HashMap::new(),
        sink,
        updates: mpsc::unbounded_channel(),
        draining: None,
    };
    let end = s.serve(&mut stream, heartbeat_secs, shutdown).await;
    for job in s.jobs.values() {
        if let JobState::Running(h) = &job.state {
            h.abort();
        }
    }
    Ok(end)
}

/// A connected session.
struct Session {
    shared: Arc<Shared>,
    chain_id: u64,
    jobs: HashMap<String, Job>,
    sink: Sink,
    /// Deltas and finished runs from the engine, in one channel so a job's deltas go out before
    /// its result.
    updates: (mpsc::UnboundedSender<Update>, mpsc::UnboundedReceiver<Update>),
    /// When shutdown was asked for: the grace deadline.
    draining: Option<Instant>,
}

impl Session {
    async fn serve(
        &mut self,
        stream: &mut Stream,
        heartbeat_secs: u64,
        shutdown: &CancellationToken,
    ) -> End {
        let period = Duration::from_secs(heartbeat_secs.max(1));
        let mut heartbeat = tokio::time::interval_at(Instant::now() + period, period);
        loop {
            if self.draining.is_some() && self.jobs.is_empty() {
                return self.close().await;
            }
            let deadline = self.draining.unwrap_or_else(|| Instant::now() + period);
            let step = tokio::select! {
                frame = stream.next() => match frame {
                    None => Err("connection closed".to_string()),
                    Some(Err(e)) => Err(e.to_string()),
                    Some(Ok(Message::Text(t))) => match serde_json::from_str(t.as_str()) {
                        Ok(msg) => self.handle(msg).await,
                        Err(e) => {
                            warn!(%e, "ignoring a frame the worker does not understand");
                            Ok(())
                        }
                    },
                    Some(Ok(Message::Close(_))) => Err("closed by the coordinator".to_string()),
                    Some(Ok(_)) => Ok(()),
                },
                Some(update) = self.updates.1.recv() => match update {
                    Update::Delta { job_id, text } => self.forward_delta(job_id, text).await,
                    Update::Done(done) => self.finished(*done).await,
                },
                _ = heartbeat.tick() => {
                    let active = self.running();
                    send(&mut self.sink, &WorkerMsg::Heartbeat { active }).await
                }
                () = shutdown.cancelled(), if self.draining.is_none() => {
                    info!(in_flight = self.jobs.len(), grace = ?self.shared.config.shutdown_grace,
                        "shutting down: finishing in-flight jobs");
                    self.draining = Some(Instant::now() + self.shared.config.shutdown_grace);
                    Ok(())
                }
                () = tokio::time::sleep_until(deadline), if self.draining.is_some() => {
                    self.abandon().await;
                    return self.close().await;
                }
            };
            if let Err(why) = step {
                return End::Lost(why);
            }
        }
    }

    /// Jobs on the engine now.
    fn running(&self) -> u32 {
        let n = self.jobs.values().filter(|j| matches!(j.state, JobState::Running(_))).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    async fn handle(&mut self, msg: CoordinatorMsg) -> Result<(), String> {
        match msg {
            CoordinatorMsg::Execute(a) => self.execute(a).await,
            CoordinatorMsg::Reveal { job_id } => {
                let Some(job) = self.jobs.remove(&job_id) else {
                    warn!(%job_id, "reveal for an unknown job");
                    return Ok(());
                };
                match job.state {
                    JobState::Committed { salt, receipt } => {
                        job.span.in_scope(
                            || info!(output_hash = %receipt.receipt.output_hash, "revealed"),
                        );
                        send(
                            &mut self.sink,
                            &WorkerMsg::Revealed { job_id, salt, receipt: *receipt },
                        )
                        .await
                    }
                    JobState::Running(_) => {
                        job.span.in_scope(|| warn!("reveal before the commitment: kept running"));
                        self.jobs.insert(job_id, job);
                        Ok(())
                    }
                }
            }
            CoordinatorMsg::Cancel { job_id } => {
                if let Some(job) = self.jobs.remove(&job_id) {
                    if let JobState::Running(h) = &job.state {
                        h.abort();
                    }
                    job.span.in_scope(|| info!("cancelled by the coordinator"));
                }
                Ok(())
            }
            other => {
                debug!(?other, "ignored");
                Ok(())
            }
        }
    }

    async fn execute(&mut self, a: Assignment) -> Result<(), String> {
        let span = info_span!("job", job_id = %a.job_id, role = ?a.role);
        let refuse = if self.draining.is_some() {
            Some("worker is shutting down".to_string())
        } else if self.jobs.contains_key(&a.job_id) {
            span.in_scope(|| warn!("duplicate assignment ignored"));
            return Ok(());
        } else if self.shared.models.get(&a.model_id).is_none() {
            Some(format!("model {} is not loaded on this worker", a.model_id))
        } else {
            None
        };
        if let Some(error) = refuse {
            span.in_scope(|| warn!(%error, "refused"));
            return send(&mut self.sink, &WorkerMsg::Failed { job_id: a.job_id, error }).await;
        }
        let model = self.shared.models.get(&a.model_id).expect("checked above");
        let (shared, chain_id, tx) = (self.shared.clone(), self.chain_id, self.updates.0.clone());
        let (job_id, role) = (a.job_id.clone(), a.role);
        let streams = role == Role::Asserter && matches!(a.spec, JobSpec::Generate { .. });
        let blocking_span = span.clone();
        let task = tokio::spawn(
            async move {
                let id = a.job_id.clone();
                let permit = shared.slots.clone().acquire_owned().await.expect("never closed");
                debug!("slot acquired");
                let started = std::time::Instant::now();
                let deltas = tx.clone();
                let run = tokio::task::spawn_blocking(move || {
                    let _enter = blocking_span.enter();
                    let _permit = permit;
                    let cfg = &shared.config;
                    let executed = if streams {
                        let job_id = a.job_id.clone();
                        exec::execute_streaming(&model.model, &a.spec, cfg.dishonest, &mut |text| {
                            deltas.send(Update::Delta { job_id: job_id.clone(), text }).ok();
                        })
                    } else {
                        exec::execute(&model.model, &a.spec, cfg.dishonest)
                    };
                    if let (Ok(_), Some(inputs)) = (&executed, &shared.inputs)
                        && let Err(error) = inputs.save(a.model_id, &a.spec)
                    {
                        warn!(%error, "the job's input could not be kept: a dispute over it cannot be played");
                    }
                    executed.map(|done| {
                        let receipt = exec::sign_receipt(
                            &cfg.key, chain_id, a.job_key, a.model_id, &a.spec, &done,
                        );
                        (done, receipt)
                    })
                })
                .await;
                let result = run.unwrap_or_else(|e| Err(format!("{ENGINE_PANICKED}: {e}")));
                info!(ms = started.elapsed().as_millis() as u64, ok = result.is_ok(), "executed");
                tx.send(Update::Done(Box::new(Done { job_id: id, result }))).ok();
            }
            .instrument(span.clone()),
        );
        span.in_scope(|| info!("accepted"));
        self.jobs.insert(job_id, Job { role, span, state: JobState::Running(task.abort_handle()) });
        Ok(())
    }

    /// Sends a generation's text delta, unless the job was cancelled meanwhile.
    async fn forward_delta(&mut self, job_id: String, text: String) -> Result<(), String> {
        if !self.jobs.contains_key(&job_id) {
            return Ok(());
        }
        send(&mut self.sink, &WorkerMsg::Partial { job_id, text }).await
    }

    async fn finished(&mut self, done: Done) -> Result<(), String> {
        let Some(job) = self.jobs.remove(&done.job_id) else {
            return Ok(()); // cancelled meanwhile
        };
        let job_id = done.job_id;
        let (executed, receipt) = match done.result {
            Ok(r) => r,
            Err(error) => {
                job.span.in_scope(|| warn!(%error, "failed"));
                return send(&mut self.sink, &WorkerMsg::Failed { job_id, error }).await;
            }
        };
        match job.role {
            Role::Asserter => {
                job.span.in_scope(|| info!(output_hash = %executed.output_hash, "result sent"));
                let msg = WorkerMsg::Result { job_id, output: executed.output, receipt };
                send(&mut self.sink, &msg).await
            }
            Role::ChainValidator { chain_job_id } => {
                let Some(validator) = self.shared.validator.clone() else {
                    let error = "on-chain validation needs the chain (--rpc-url and --deployment)";
                    job.span.in_scope(|| warn!(error, "refused"));
                    let msg = WorkerMsg::Failed { job_id, error: error.to_string() };
                    return send(&mut self.sink, &msg).await;
                };
                let r = receipt.receipt;
                tokio::spawn(
                    async move {
                        match validator.validate(chain_job_id, &r).await {
                            Ok(()) => info!(output_hash = %r.output_hash, "validated on chain"),
                            Err(e) => warn!(error = %e, "on-chain validation failed"),
                        }
                    }
                    .instrument(job.span),
                );
                Ok(())
            }
            Role::Validator => {
                let r = &receipt.receipt;
                let (commitment, salt) =
                    exec::commit(r.job_key, r.worker, r.output_hash, r.trace_root);
                job.span.in_scope(|| info!(%commitment, "committed"));
                let msg = WorkerMsg::Committed { job_id: job_id.clone(), commitment };
                let sent = send(&mut self.sink, &msg).await;
                self.jobs.insert(
                    job_id,
                    Job { state: JobState::Committed { salt, receipt: Box::new(receipt) }, ..job },
                );
                sent
            }
        }
    }

    /// The grace period is over: `Failed` for every job left.
    async fn abandon(&mut self) {
        for (job_id, job) in std::mem::take(&mut self.jobs) {
            if let JobState::Running(h) = &job.state {
                h.abort();
            }
            job.span.in_scope(|| warn!("abandoned at shutdown"));
            let error = "worker shut down before the job finished".to_string();
            if send(&mut self.sink, &WorkerMsg::Failed { job_id, error }).await.is_err() {
                return;
            }
        }
    }

    async fn close(&mut self) -> End {
        self.sink.close().await.ok();
        End::Shutdown
    }
}
