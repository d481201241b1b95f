//! The state every HTTP handler shares, and the request path's steps on it: submit a job,
//! wait for its result.

use std::{
    sync::{Arc, atomic::AtomicU64},
    time::Duration,
};

use alloy_primitives::B256;
use assay_protocol::job::JobSpec;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::{
    chain::Chain,
    config::Config,
    error::ApiError,
    job::{JobRow, Kind},
    metrics::Metrics,
    scheduler::{Asserted, Event, Partials},
    shared::{ModelNames, Shared},
    store::{self, Store},
};

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) config: Arc<Config>,
    /// Keccak-256 digests of the accepted API keys (the keys themselves are not kept here).
    pub(crate) api_keys: Arc<Vec<B256>>,
    pub(crate) store: Store,
    pub(crate) writer: store::Writer,
    pub(crate) events: mpsc::UnboundedSender<Event>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) models: Arc<ModelNames>,
    pub(crate) chain: Arc<dyn Chain>,
    pub(crate) next_conn: Arc<AtomicU64>,
}

impl AppState {
    /// Stores a new job (durable before anything else happens) and hands it to the scheduler;
    /// with `partials`, the text its asserter streams is forwarded there as it comes.
    #[tracing::instrument(skip_all, fields(job_id = tracing::field::Empty))]
    pub(crate) async fn submit(
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
        tracing::Span::current().record("job_id", job.id.as_str());
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
        tracing::debug!(model, "job accepted");
        Ok((job, rx))
    }

    /// How long a request waits for its job's result.
    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.config.request_timeout_ms)
    }

    /// Waits for the asserter's result (durable before it is returned).
    #[tracing::instrument(skip_all, fields(job_id = %job.id))]
    pub(crate) async fn wait(
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
    pub(crate) async fn outcome(
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
