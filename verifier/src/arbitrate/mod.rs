//! `verifier arbitrate`: an unattended arbitrator. It watches the chain for results asserted on
//! `JobMarket` (on-chain jobs and the batch records opened there), gets each job's record (a
//! directory of job files named by job key, or the coordinator's `GET /v1/jobs/{id}/record`),
//! replays it in wasmtime and, where the assertion is wrong, files a bonded claim with its own
//! result (`DisputeGame.disputeRecord` before an on-chain job's draw, then draws it;
//! `disputeJob` on a job already handed over), finalizes the challenge when it may, plays the
//! claim's game with [`assay_player::Player`] (the native engine replays the job's trace, bit
//! for bit the module's), and withdraws the bonds it is owed.
//!
//! With a coordinator it also checks jobs before they reach the chain (`published.rs`): the ones
//! the coordinator's sampling found disputed, and a share of every committed batch's records.
//!
//! Progress is in SQLite ([`store`]): the scan cursor, every job with what the replay found and
//! the record it used, every game. A process killed at any point (SIGKILL) restarts from there:
//! claims already sent are refused by name and counted as sent, and the player reads the game's
//! state from the chain, so a half-played game is finished. Counters are on `/metrics`
//! ([`metrics`]); every move is a log line (the player's `moved`).

pub mod config;
pub mod metrics;
mod published;
pub mod store;

use std::{
    collections::{HashMap, HashSet},
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use alloy_primitives::{Address, B256, U256};
use alloy_rpc_types_eth::Filter;
use alloy_sol_types::SolEvent;
use assay_chain::{ChainError, Client, Key};
use assay_engine::{
    hash::Hash,
    job::Model,
    kernels::Scalar,
    trace::{Keep, Trace},
};
use assay_player::{OpenedGame, Player};
use assay_protocol::{
    bindings::{IDisputeGame, IJobMarket, ISampling},
    codes::{GameOutcome, JobStatus},
    deployment::Deployment,
    job::{JobFile, JobSpec},
    model_dir::ModelDir,
};
use tracing::{Instrument, error, info, info_span, warn};

use self::{
    metrics::Metrics,
    store::{Job, JobState, Store},
};
use crate::{
    Error, Result, replay,
    runtime::{Limits, Runtime},
};

/// Where job records come from.
#[derive(Debug, Clone, Default)]
pub struct Records {
    /// A directory of job files named `<job key>.json` (0x-prefixed hex).
    pub dir: Option<PathBuf>,
    /// The coordinator's API base URL (`http://host:port`) and API key.
    pub coordinator: Option<(String, Option<String>)>,
}

/// Everything the arbitrator runs with.
#[derive(Debug)]
pub struct Config {
    /// JSON-RPC endpoint of the chain.
    pub rpc_url: String,
    /// The deployment manifest.
    pub deployment: Deployment,
    /// The key its claims and moves are signed with (it pays the bonds).
    pub key: Key,
    /// The SQLite database file.
    pub db: PathBuf,
    /// Where records come from.
    pub records: Records,
    /// Model directories it can replay.
    pub models: Vec<PathBuf>,
    /// Where `/metrics` is served, if anywhere.
    pub metrics: Option<SocketAddr>,
    /// How often the chain is read.
    pub poll: Duration,
    /// Replay limits.
    pub limits: Limits,
    /// Parts per million of a published batch's records the coordinator did not flag that are
    /// replayed anyway.
    pub sample_ppm: u32,
}

/// The arbitrator's running state.
struct Arbitrator {
    chain: Client,
    player: Player,
    me: Address,
    market: Address,
    sampling: Address,
    game: Address,
    store: Store,
    records: Records,
    http: reqwest::Client,
    models: HashMap<B256, PathBuf>,
    runtime: Arc<Runtime>,
    limits: Limits,
    metrics: Arc<Metrics>,
    playing: Arc<Mutex<HashSet<U256>>>,
    chain_id: u64,
    sample_ppm: u32,
}

/// What replaying a job's record gave.
enum Replayed {
    /// Its record is not available yet.
    Waiting,
    /// It cannot be checked here (why).
    Skip(String),
    /// The record replayed (JSON) and its `(output hash, trace root)`.
    Done { record: String, output: (B256, B256) },
}

/// Runs the arbitrator until its task is dropped (or the process ends).
///
/// # Errors
/// Start-up failures: the key, the deployment, a model directory, the database, the metrics
/// address. Failures while running are logged, counted and retried on the next poll.
pub async fn run(config: Config) -> Result<()> {
    let chain = Client::connect_to(&config.rpc_url, &config.deployment, Some(&config.key)).await?;
    let player = Player::new(chain.clone(), &config.deployment)
        .map_err(|e| Error::BadOp(e.to_string()))?
        .with_poll(config.poll);
    let mut models = HashMap::new();
    for dir in &config.models {
        let model = ModelDir::open(dir)?;
        crate::check::registered_engine(&chain, &config.deployment, model.manifest.model_id)
            .await??;
        models.insert(model.manifest.model_id, dir.clone());
    }
    let metrics = Arc::new(Metrics::default());
    if let Some(addr) = config.metrics {
        let bound = metrics::serve(addr, metrics.clone()).await?;
        info!(%bound, "metrics on /metrics");
    }
    let contract = |name| config.deployment.contract(name);
    let arbitrator = Arbitrator {
        me: config.key.address(),
        market: contract("JobMarket")?,
        sampling: contract("Sampling")?,
        game: contract("DisputeGame")?,
        store: Store::open(&config.db).await?,
        records: config.records,
        http: reqwest::Client::new(),
        models,
        runtime: Arc::new(tokio::task::spawn_blocking(Runtime::new).await.map_err(join)??),
        limits: config.limits,
        metrics,
        playing: Arc::default(),
        chain_id: config.deployment.chain_id,
        sample_ppm: config.sample_ppm,
        chain,
        player,
    };
    info!(me = %arbitrator.me, models = arbitrator.models.len(), "arbitrating");
    let mut next = match arbitrator.store.next_block().await? {
        Some(block) => block,
        None => config.deployment.deploy_block,
    };
    loop {
        match arbitrator.round(next).await {
            Ok(scanned) => next = scanned,
            Err(e) => {
                Metrics::bump(&arbitrator.metrics.errors);
                warn!(error = %e, "arbitration round failed; retrying");
            }
        }
        tokio::time::sleep(config.poll).await;
    }
}

fn join(e: tokio::task::JoinError) -> Error {
    Error::Runtime(e.to_string())
}

fn chain_error(e: ChainError) -> Error {
    Error::Chain(e)
}

impl Arbitrator {
    /// One poll: scan from `from`, check new jobs, move claims along, start games, collect
    /// bonds. Returns the next block to scan.
    async fn round(&self, from: u64) -> Result<u64> {
        let next = self.scan(from).await?;
        for job in self.store.jobs(&[JobState::New, JobState::Waiting]).await? {
            let span = info_span!("job", job = %job.job_id);
            if let Err(e) = self.check(job).instrument(span).await {
                Metrics::bump(&self.metrics.errors);
                warn!(error = %e, "checking a job failed; retrying");
            }
        }
        for job in self.store.jobs(&[JobState::Wrong]).await? {
            let span = info_span!("job", job = %job.job_id);
            if let Err(e) = self.pursue(job).instrument(span).await {
                Metrics::bump(&self.metrics.errors);
                warn!(error = %e, "moving a claim along failed; retrying");
            }
        }
        self.published_round().await?;
        for game in self.store.open_games().await? {
            self.start_playing(game).await?;
        }
        let owed = self.chain.view(self.game, IDisputeGame::bondsCall { account: self.me }).await?;
        if !owed.is_zero() {
            let receipt =
                self.chain.send(self.game, IDisputeGame::withdrawBondsCall {}, U256::ZERO).await?;
            info!(amount = %owed, tx = %receipt.transaction_hash, "bonds withdrawn");
        }
        Ok(next)
    }

    /// Records the jobs asserted or opened and the games opened against a claim of ours in
    /// `from..=head`, with the next block, in one transaction.
    async fn scan(&self, from: u64) -> Result<u64> {
        let head = self.chain.block_number().await?;
        if head < from {
            return Ok(from);
        }
        let logs = |address: Address, signature: B256, what: &'static str| {
            let filter = Filter::new().address(address).event_signature(signature);
            async move { self.chain.logs(&filter, from, head, what).await }
        };
        let mut jobs = Vec::new();
        for log in
            logs(self.market, IJobMarket::ResultAsserted::SIGNATURE_HASH, "ResultAsserted").await?
        {
            if let Ok(e) = log.log_decode::<IJobMarket::ResultAsserted>() {
                let id = e.inner.data.jobId;
                jobs.push((id, B256::from(id.to_be_bytes::<32>())));
            }
        }
        for log in
            logs(self.market, IJobMarket::BatchJobOpened::SIGNATURE_HASH, "BatchJobOpened").await?
        {
            if let Ok(e) = log.log_decode::<IJobMarket::BatchJobOpened>() {
                jobs.push((e.inner.data.jobId, e.inner.data.jobKey));
            }
        }
        let mut batches = Vec::new();
        for log in
            logs(self.market, IJobMarket::BatchCommitted::SIGNATURE_HASH, "BatchCommitted").await?
        {
            if let Ok(e) = log.log_decode::<IJobMarket::BatchCommitted>() {
                batches.push((e.inner.data.batchId, e.inner.data.jobsRoot));
            }
        }
        let games: Vec<(U256, U256, u64)> = self
            .player
            .opened_games(from, head)
            .await
            .map_err(|e| Error::BadOp(e.to_string()))?
            .into_iter()
            .filter(|g| g.challenger == self.me)
            .map(|g| (g.game_id, g.job_id, g.block))
            .collect();
        self.store.record_scan(&jobs, &games, &batches, head + 1).await?;
        self.metrics.head.store(head, std::sync::atomic::Ordering::Relaxed);
        Ok(head + 1)
    }

    /// Replays a job and records whether its assertion is right.
    async fn check(&self, mut job: Job) -> Result<()> {
        let on_chain =
            self.chain.view(self.market, IJobMarket::jobCall { jobId: job.job_id }).await?;
        let status = JobStatus::try_from(on_chain.status).unwrap_or(JobStatus::None);
        if !matches!(status, JobStatus::Asserted | JobStatus::Challenged | JobStatus::Disputed) {
            return self.skip(job, format!("{status:?} before it was checked")).await;
        }
        // Checked before the hand-over (disputed off chain, or sampled from its batch).
        if let Some(known) = self.store.record(job.job_key).await?
            && let (Some(replayed), Some(text)) = (known.replayed, known.record)
            && (known.asserted.worker, known.asserted.output_hash, known.asserted.trace_root)
                == (on_chain.asserter, on_chain.outputHash, on_chain.traceRoot)
        {
            job.replayed = Some(replayed);
            job.record = Some(text);
            job.claimed = known.claimed;
            job.state =
                if known.state == JobState::Wrong { JobState::Wrong } else { JobState::Agreed };
            return self.store.set_job(&job).await;
        }
        let (text, replayed) =
            match self.replay_job(job.job_key, on_chain.modelId, on_chain.inputRoot).await? {
                Replayed::Waiting => {
                    job.state = JobState::Waiting;
                    job.note = Some("no record yet".into());
                    return self.store.set_job(&job).await;
                }
                Replayed::Skip(why) => return self.skip(job, why).await,
                Replayed::Done { record, output } => (record, output),
            };
        job.replayed = Some(replayed);
        job.record = Some(text);
        if replayed == (on_chain.outputHash, on_chain.traceRoot) {
            Metrics::bump(&self.metrics.agreed);
            info!(output = %replayed.0, "the assertion is right");
            job.state = JobState::Agreed;
        } else {
            warn!(asserted = %on_chain.outputHash, replayed = %replayed.0, asserter = %on_chain.asserter, "the assertion is wrong: claiming");
            job.state = JobState::Wrong;
        }
        self.store.set_job(&job).await
    }

    /// Gets the record of the job `key` and replays it, once it is there, when it is the
    /// job's (`model_id`, `input_root`) and its model is loaded.
    async fn replay_job(&self, key: B256, model_id: B256, input_root: B256) -> Result<Replayed> {
        let Some(dir) = self.models.get(&model_id).cloned() else {
            return Ok(Replayed::Skip(format!("model {model_id} is not loaded")));
        };
        let Some(text) = self.fetch_record(key).await? else { return Ok(Replayed::Waiting) };
        let record = JobFile::from_json(&text)?;
        if record.model_id != model_id || record.input.input_root() != input_root {
            return Ok(Replayed::Skip("the record is not this job's (model or input root)".into()));
        }
        let (runtime, limits) = (self.runtime.clone(), self.limits);
        let report = tokio::task::spawn_blocking(move || {
            replay::replay(&runtime, &record, &dir, limits, false)
        })
        .await
        .map_err(join)??;
        Metrics::bump(&self.metrics.checked);
        Ok(Replayed::Done { record: text, output: (report.output_hash, report.trace_root) })
    }

    async fn skip(&self, mut job: Job, why: String) -> Result<()> {
        info!(why, "skipped");
        job.state = JobState::Skipped;
        job.note = Some(why);
        self.store.set_job(&job).await
    }

    /// The record of the job `key`: from the directory, else from the coordinator; `None`
    /// while neither has it.
    async fn fetch_record(&self, key: B256) -> Result<Option<String>> {
        if let Some(dir) = &self.records.dir {
            let path = dir.join(format!("{key}.json"));
            if let Ok(text) = std::fs::read_to_string(&path) {
                return Ok(Some(text));
            }
        }
        // The coordinator names a job after the first 12 bytes of its key.
        let path = format!("/v1/jobs/job_{}/record", alloy_primitives::hex::encode(&key[..12]));
        let Some(response) = self.coordinator_get(&path).await? else { return Ok(None) };
        let url = response.url().to_string();
        response.text().await.map(Some).map_err(|e| Error::Runtime(format!("GET {url}: {e}")))
    }

    /// `GET path` on the coordinator; `None` without a coordinator or while it answers with an
    /// error status (logged).
    async fn coordinator_get(&self, path: &str) -> Result<Option<reqwest::Response>> {
        let Some((base, api_key)) = &self.records.coordinator else { return Ok(None) };
        let url = format!("{}{path}", base.trim_end_matches('/'));
        let mut request = self.http.get(&url);
        if let Some(api_key) = api_key {
            request = request.bearer_auth(api_key);
        }
        let response =
            request.send().await.map_err(|e| Error::Runtime(format!("GET {url}: {e}")))?;
        if !response.status().is_success() {
            info!(%url, status = %response.status(), "not served by the coordinator yet");
            return Ok(None);
        }
        Ok(Some(response))
    }

    /// Moves a claim against a wrong assertion along: sends it, draws an on-chain job it
    /// challenges, finalizes the challenge once it may be.
    async fn pursue(&self, mut job: Job) -> Result<()> {
        let Some((output, trace)) = job.replayed else { return Ok(()) };
        let on_chain =
            self.chain.view(self.market, IJobMarket::jobCall { jobId: job.job_id }).await?;
        let status = JobStatus::try_from(on_chain.status).unwrap_or(JobStatus::None);
        if !job.claimed {
            let bond = self.chain.view(self.game, IDisputeGame::disputeBondCall {}).await?;
            let sent = match status {
                JobStatus::Asserted => {
                    let call = IDisputeGame::disputeRecordCall {
                        jobKey: job.job_key,
                        asserter: on_chain.asserter,
                        assertedOutput: on_chain.outputHash,
                        outputHash: output,
                        traceRoot: trace,
                    };
                    self.chain.send(self.game, call, bond).await
                }
                JobStatus::Challenged | JobStatus::Disputed => {
                    let call = IDisputeGame::disputeJobCall {
                        jobId: job.job_id,
                        outputHash: output,
                        traceRoot: trace,
                    };
                    self.chain.send(self.game, call, bond).await
                }
                other => return self.skip(job, format!("{other:?} before the claim")).await,
            };
            match sent {
                Ok(receipt) => {
                    Metrics::bump(&self.metrics.claims);
                    info!(tx = %receipt.transaction_hash, %bond, "bonded claim filed");
                }
                // Sent before a restart: the claim stands.
                Err(e) if e.is_revert::<IDisputeGame::AlreadyClaimed>() => {}
                Err(e) => return Err(chain_error(e)),
            }
            job.claimed = true;
            self.store.set_job(&job).await?;
        }
        if status == JobStatus::Asserted {
            let call = IJobMarket::drawChallengeCall { jobId: job.job_id };
            match self.chain.send(self.market, call, U256::ZERO).await {
                Ok(receipt) => info!(tx = %receipt.transaction_hash, "drew the claimed job"),
                Err(e) if e.is_revert::<IJobMarket::TooEarly>() => {}
                Err(e) => return Err(chain_error(e)),
            }
            return Ok(());
        }
        let challenge =
            self.chain.view(self.sampling, ISampling::challengeCall { jobId: job.job_id }).await?;
        if challenge.status == JobStatus::Challenged as u8 {
            let call = ISampling::finalizeChallengeCall { jobId: job.job_id };
            match self.chain.send(self.sampling, call, U256::ZERO).await {
                Ok(receipt) => info!(tx = %receipt.transaction_hash, "finalized the challenge"),
                Err(e) if e.is_revert::<ISampling::ChallengeStillOpen>() => {}
                Err(e) => return Err(chain_error(e)),
            }
        }
        Ok(())
    }

    /// Plays `game` in a task of its own unless it is being played.
    async fn start_playing(&self, game: store::Game) -> Result<()> {
        if !self.playing.lock().expect("not poisoned").insert(game.game_id) {
            return Ok(());
        }
        let job = self.store.job(game.job_id).await?;
        let Some((record, dir)) = job.and_then(|job| {
            let record = JobFile::from_json(job.record.as_deref()?).ok()?;
            let dir = self.models.get(&record.model_id)?.clone();
            Some((record, dir))
        }) else {
            warn!(game = %game.game_id, job = %game.job_id, "a game over a job not replayed yet: played once it is");
            self.playing.lock().expect("not poisoned").remove(&game.game_id);
            return Ok(());
        };
        let state =
            self.chain.view(self.game, IDisputeGame::gameCall { gameId: game.game_id }).await?;
        let opened = OpenedGame {
            game_id: game.game_id,
            job_id: game.job_id,
            defender: state.defender,
            challenger: state.challenger,
            model_id: record.model_id,
            block: game.block,
        };
        let (player, store, metrics, playing) =
            (self.player.clone(), self.store.clone(), self.metrics.clone(), self.playing.clone());
        let replay = Arc::new(EngineReplay { dir, spec: record.input });
        let span = info_span!("game", game = %game.game_id, job = %game.job_id);
        tokio::spawn(
            async move {
                match player.play(&opened, replay).await {
                    Ok(outcome) => {
                        let counter = match outcome {
                            GameOutcome::ChallengerWon => &metrics.won,
                            GameOutcome::NoVerdict => &metrics.no_verdict,
                            _ => &metrics.lost,
                        };
                        Metrics::bump(counter);
                        info!(?outcome, "game over");
                        if let Err(e) = store.game_ended(opened.game_id, outcome as u8).await {
                            error!(error = %e, "cannot record the game's end");
                        }
                        // Stays in `playing`: a round that read the open games before this end
                        // was recorded must not play it again.
                    }
                    Err(e) => {
                        Metrics::bump(&metrics.errors);
                        warn!(error = %e, "playing failed; resuming on the next poll");
                        playing.lock().expect("not poisoned").remove(&opened.game_id);
                    }
                }
            }
            .instrument(span),
        );
        Ok(())
    }
}

/// A job replayed by the native engine for its game (bit for bit the module's run).
struct EngineReplay {
    dir: PathBuf,
    spec: JobSpec,
}

impl assay_player::Replay for EngineReplay {
    fn run(&self, keep: Keep) -> std::result::Result<(Hash, Trace), String> {
        let blob = self.model_blob()?;
        let model = Model::load(&blob).map_err(|e| e.to_string())?;
        let (out, trace) =
            model.run_keeping(&Scalar, &self.spec.to_input(), keep).map_err(|e| e.to_string())?;
        Ok((out.output_hash, trace))
    }

    fn model_blob(&self) -> std::result::Result<Vec<u8>, String> {
        ModelDir::open(&self.dir).map(|d| d.blob).map_err(|e| e.to_string())
    }
}
