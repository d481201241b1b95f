//! The Assay coordinator: accepts inference requests over an OpenAI-compatible HTTP API, assigns
//! them to staked workers connected over WebSocket, samples challenges with commit-reveal
//! validators (Proof of Sampling, DESIGN 3.1-3.4), and keeps every job durable in SQL.
//!
//! Layout:
//! - [`config`]: settings (TOML, env, flags) and [`cli`]: the binary's flags.
//! - [`http`] routes and auth (`extract`: JSON bodies); [`openai`] chat/embeddings/models;
//!   [`ws`] the worker channel.
//! - [`scheduler`]: assignment, challenges, canaries, timeouts (one task owns the state).
//! - [`store`]: sqlx storage (SQLite default, PostgreSQL by URL) and migrations.
//! - [`chain`]: stake eligibility and weights (`IStaking`), or allow-all without a chain.
//! - [`settlement`]: batches of served jobs committed, sealed, opened or claimed on `JobMarket`.
//! - [`job`], [`metrics`], [`error`].
//!
//! [`spawn`] starts everything in-process and returns a [`Handle`].

pub mod chain;
pub mod cli;
pub mod config;
pub mod error;
mod extract;
pub mod http;
pub mod job;
pub mod metrics;
pub mod openai;
pub mod scheduler;
pub mod settlement;
pub mod store;
pub mod ws;

use std::{
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
    sync::{Arc, RwLock, atomic::AtomicU64},
    time::Duration,
};

use alloy_primitives::B256;
use assay_protocol::{deployment::Deployment, job::JobSpec};
use tokio::{
    sync::{Semaphore, mpsc, oneshot, watch},
    task::JoinHandle,
};

pub use crate::{
    chain::{AllowAll, Chain, RpcChain},
    config::{Config, DEV_API_KEY},
    error::{ApiError, Error, Result},
};
use crate::{
    job::{JobRow, Kind},
    metrics::Metrics,
    scheduler::{Asserted, Event, Params, Partials, Scheduler},
    store::Store,
};

/// State the scheduler publishes for the HTTP handlers.
#[derive(Debug, Default)]
pub struct Shared {
    /// Model id → connected workers serving it.
    pub served: RwLock<HashMap<B256, usize>>,
    /// Counters.
    pub metrics: Metrics,
}

/// Readable model names (configuration and manifest) ↔ model ids.
#[derive(Debug, Default)]
pub struct ModelNames {
    by_name: BTreeMap<String, B256>,
}

impl ModelNames {
    /// The name of `id`, or its hex form.
    pub fn name_of(&self, id: B256) -> String {
        self.by_name
            .iter()
            .find(|(_, v)| **v == id)
            .map_or_else(|| id.to_string(), |(k, _)| k.clone())
    }

    /// A model id from a name or a hex id.
    pub fn resolve(&self, model: &str) -> Option<B256> {
        self.by_name.get(model).copied().or_else(|| model.parse().ok())
    }

    /// Every named id.
    pub fn ids(&self) -> impl Iterator<Item = B256> + '_ {
        self.by_name.values().copied()
    }
}

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    config: Arc<Config>,
    api_keys: Arc<Vec<String>>,
    store: Store,
    writer: store::Writer,
    events: mpsc::UnboundedSender<Event>,
    shared: Arc<Shared>,
    permits: Arc<Semaphore>,
    models: Arc<ModelNames>,
    chain: Arc<dyn Chain>,
    next_conn: Arc<AtomicU64>,
}

impl AppState {
    /// Stores a new job (durable before anything else happens) and hands it to the scheduler;
    /// with `partials`, the text its asserter streams is forwarded there as it comes.
    async fn submit(
        &self,
        kind: Kind,
        model: &str,
        spec: JobSpec,
        partials: Option<Partials>,
    ) -> Result<(JobRow, oneshot::Receiver<Result<Asserted, String>>), ApiError> {
        let model_id = self.models.resolve(model).ok_or_else(|| ApiError::unknown_model(model))?;
        let serving = self.shared.served.read().expect("served lock").get(&model_id).copied();
        if serving.unwrap_or(0) == 0 {
            return Err(ApiError::no_worker(model));
        }
        let permit =
            self.permits.clone().try_acquire_owned().map_err(|_| ApiError::overloaded())?;
        let job = JobRow::new(kind, model_id, spec);
        self.writer.insert(&job).await?;
        let (tx, rx) = oneshot::channel();
        let event = Event::Submit {
            job: Box::new(job.clone()),
            waiter: Some(tx),
            permit: Some(permit),
            partials,
        };
        self.events.send(event).map_err(|_| ApiError::internal("the scheduler has stopped"))?;
        Metrics::inc(&self.shared.metrics.jobs_submitted);
        tracing::debug!(job_id = %job.id, model, "job accepted");
        Ok((job, rx))
    }

    /// How long a request waits for its job's result.
    fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.config.request_timeout_ms)
    }

    /// Waits for the asserter's result (durable before it is returned).
    async fn wait(
        &self,
        job: &JobRow,
        rx: oneshot::Receiver<Result<Asserted, String>>,
    ) -> Result<Asserted, ApiError> {
        match tokio::time::timeout(self.request_timeout(), rx).await {
            Err(_) => Err(ApiError::timeout(&job.id)),
            Ok(received) => Self::outcome(job, received).await,
        }
    }

    /// What the scheduler answered a waiting request: the result once it is durable, or why the
    /// job failed.
    async fn outcome(
        job: &JobRow,
        received: Result<Result<Asserted, String>, oneshot::error::RecvError>,
    ) -> Result<Asserted, ApiError> {
        match received {
            Err(_) => Err(ApiError::internal("the scheduler has stopped")),
            Ok(Err(reason)) => Err(ApiError::job_failed(&job.id, &reason)),
            Ok(Ok(mut a)) => {
                if let Ok(Err(e)) = (&mut a.persisted).await {
                    tracing::error!(job_id = %job.id, error = e, "result not stored");
                }
                Ok(a)
            }
        }
    }
}

/// The settlement task, when a key is configured and the manifest has the job market.
fn settler(
    config: &Config,
    manifest: Option<&Deployment>,
    store: &Store,
    scheduler: mpsc::UnboundedSender<Event>,
    shared: Arc<Shared>,
) -> Result<Option<settlement::Settler>> {
    let (Some(path), Some(rpc_url), Some(manifest)) = (&config.key_file, &config.rpc_url, manifest)
    else {
        return Ok(None);
    };
    if manifest.contract("JobMarket").is_err() {
        tracing::warn!("the manifest has no JobMarket: jobs are not settled on chain");
        return Ok(None);
    }
    let key = assay_chain::key::KeySource::File(path.clone())
        .load()
        .map_err(|e| Error::Config(format!("key_file: {e}")))?;
    let settings = settlement::Settings {
        interval: Duration::from_millis(config.batch_interval_ms),
        max_jobs: config.batch_max_jobs,
        settle_after_ms: 2_000,
        epoch_seeds: config.epoch_seeds,
    };
    let settler =
        settlement::Settler::new(rpc_url, manifest, &key, store.clone(), settings, scheduler)
            .map_err(Error::Chain)?;
    Ok(Some(settler.with_metrics(shared)))
}

/// A running coordinator.
#[derive(Debug)]
pub struct Handle {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<()>,
    tasks: Vec<JoinHandle<()>>,
}

impl Handle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://ADDR/v1/workers`.
    pub fn workers_url(&self) -> String {
        format!("ws://{}/v1/workers", self.addr)
    }

    /// Stops accepting requests, then stops the scheduler.
    pub async fn shutdown(self) {
        self.shutdown.send(true).ok();
        let abort = self.server.abort_handle();
        if tokio::time::timeout(Duration::from_secs(5), self.server).await.is_err() {
            abort.abort();
        }
        for t in self.tasks {
            t.abort();
        }
    }

    /// Waits until the server stops (for the binary).
    pub async fn wait(self) {
        self.server.await.ok();
    }
}

/// Starts the coordinator: opens the database, re-queues open jobs, connects to the chain when
/// configured, and serves HTTP and the worker channel.
///
/// # Errors
/// [`Error::Config`], [`Error::Database`], [`Error::Migrate`], [`Error::Chain`], [`Error::Bind`].
pub async fn spawn(config: Config) -> Result<Handle> {
    config.validate()?;
    let (chain, manifest): (Arc<dyn Chain>, Option<Deployment>) =
        match (&config.rpc_url, &config.deployment) {
            (Some(url), Some(path)) => {
                let manifest = Deployment::load(path)
                    .map_err(|e| Error::Chain(chain::ChainError::Deployment(e)))?;
                (RpcChain::connect(url, &manifest).await?, Some(manifest))
            }
            _ => (Arc::new(AllowAll { chain_id: config.chain_id }), None),
        };
    spawn_with_chain(config, chain, manifest).await
}

/// [`spawn`] with a given chain implementation (tests use their own).
///
/// # Errors
/// As [`spawn`].
pub async fn spawn_with_chain(
    config: Config,
    chain: Arc<dyn Chain>,
    manifest: Option<Deployment>,
) -> Result<Handle> {
    config.validate()?;
    let store = Store::open(&config.database_url).await?;
    let mut names = config.models.clone();
    for m in manifest.iter().flat_map(|m| &m.models) {
        names.entry(m.name.clone()).or_insert(m.model_id);
    }
    let shared = Arc::new(Shared::default());
    let writer = store.writer();
    let (events, rx) = mpsc::unbounded_channel();
    let scheduler =
        Scheduler::new(Params::new(&config, chain.chain_id()), writer.clone(), shared.clone());

    let open = store.open_jobs().await?;
    if !open.is_empty() {
        tracing::info!(jobs = open.len(), "re-queueing open jobs from the store");
    }
    for job in open {
        let event =
            Event::Submit { job: Box::new(job), waiter: None, permit: None, partials: None };
        events.send(event).ok();
    }
    let mut tasks = vec![tokio::spawn(scheduler.run(rx))];
    let ticker = events.clone();
    let period = Duration::from_millis(100).min(config.heartbeat() / 4);
    tasks.push(tokio::spawn(async move {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if ticker.send(Event::Tick).is_err() {
                return;
            }
        }
    }));

    let (shutdown, stop) = watch::channel(false);
    if let Some(settler) =
        settler(&config, manifest.as_ref(), &store, events.clone(), shared.clone())?
    {
        tasks.push(tokio::spawn(settler.run(stop.clone())));
    }

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| Error::Bind { addr: config.listen, source })?;
    let addr =
        listener.local_addr().map_err(|source| Error::Bind { addr: config.listen, source })?;
    let state = AppState {
        api_keys: Arc::new(config.effective_api_keys()),
        permits: Arc::new(Semaphore::new(config.queue_size)),
        config: Arc::new(config),
        store,
        writer,
        events,
        shared,
        models: Arc::new(ModelNames { by_name: names }),
        chain,
        next_conn: Arc::new(AtomicU64::new(1)),
    };
    let app = http::router(state);
    let mut stop = stop;
    let server = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            stop.wait_for(|s| *s).await.ok();
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "HTTP server failed");
        }
    });
    tracing::info!(%addr, "coordinator listening");
    Ok(Handle { addr, shutdown, server, tasks })
}
