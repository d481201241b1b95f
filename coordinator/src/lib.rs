//! The Assay coordinator: accepts inference requests over an OpenAI-compatible HTTP API, assigns
//! them to staked workers connected over WebSocket, samples challenges with commit-reveal
//! validators (Proof of Sampling, DESIGN 3.1-3.4), and keeps every job durable in SQL.
//!
//! Layout:
//! - [`config`]: settings (TOML, env, flags) and [`cli`]: the binary's flags.
//! - `http` routes and auth (`extract`: JSON bodies); `openai` chat/embeddings/models; `ws`
//!   the worker channel (private: the HTTP API is the interface).
//! - `scheduler`: assignment, challenges, canaries, timeouts (one task owns the state).
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
mod http;
pub mod job;
pub mod metrics;
mod openai;
mod scheduler;
pub mod settlement;
pub mod shared;
mod state;
pub mod store;
mod ws;

use std::{
    net::SocketAddr,
    sync::{Arc, atomic::AtomicU64},
    time::Duration,
};

use assay_protocol::deployment::Deployment;
use tokio::{
    sync::{Semaphore, mpsc, watch},
    task::JoinHandle,
};

pub use crate::{
    chain::{AllowAll, Chain, RpcChain},
    config::{Config, DEV_API_KEY},
    error::{ApiError, Error, Result},
};
use crate::{
    scheduler::{Event, Params, Scheduler},
    shared::{ModelNames, Shared},
    state::AppState,
    store::Store,
};

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
        escalation_wait_ms: i64::try_from(config.escalation_wait_ms).unwrap_or(i64::MAX),
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
        api_keys: Arc::new(
            config.effective_api_keys().iter().map(alloy_primitives::keccak256).collect(),
        ),
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
