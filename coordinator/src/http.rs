//! The HTTP surface: routes, bearer-key auth, errors in the OpenAI envelope, and
//! the small endpoints (`/health`, `/metrics`, `/v1/models`, `/v1/jobs/{id}`,
//! `/v1/jobs/{id}/record`, `/v1/flags`), and what arbitrators read to check the coordinator's
//! work on chain (`/v1/disputes`, `/v1/batches/{id}`, [`assay_protocol::published`]).

use alloy_primitives::Address;
use alloy_primitives::B256;
use assay_protocol::{
    batch::Batch,
    job::{JobFile, Output},
    published::{DisputeList, DisputedJob, PublishedBatch, PublishedRecord, Sampled},
    wire::SignedReceipt,
};
use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, Path, RawQuery, Request, State},
    http::header,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Serialize;

use crate::{
    error::ApiError,
    job::{Kind, Settlement, Status, ValidationState},
    openai,
    state::AppState,
    store::Flag,
    ws,
};

/// The router of the whole service.
pub(crate) fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/chat/completions", post(openai::chat))
        .route("/embeddings", post(openai::embeddings))
        .route("/models", get(openai::models))
        .route("/jobs/{id}", get(job))
        .route("/jobs/{id}/record", get(record))
        .route("/flags", get(flags))
        .route("/disputes", get(disputes))
        .route("/batches/{id}", get(batch))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth))
        // Workers authenticate by signature in the handshake, not by API key.
        .route("/workers", get(ws::upgrade));
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .nest("/v1", api)
        .fallback(|| async { ApiError::not_found("no such route") })
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .with_state(state)
}

async fn auth(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let key = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    // Compared as digests, every key without an early exit: the time taken tells nothing of
    // how much of a key was right.
    let known = key.is_some_and(|k| {
        let digest = alloy_primitives::keccak256(k);
        state.api_keys.iter().fold(false, |found, accepted| found | (*accepted == digest))
    });
    if known { next.run(req).await } else { ApiError::unauthorized().into_response() }
}

/// `GET /health`.
#[derive(Serialize)]
struct Health {
    status: &'static str,
    workers: u64,
    queued: u64,
    chain_id: u64,
}

async fn health(State(state): State<AppState>) -> Json<Health> {
    let m = &state.shared.metrics;
    Json(Health {
        status: "ok",
        workers: m.workers.load(std::sync::atomic::Ordering::Relaxed),
        queued: m.queued.load(std::sync::atomic::Ordering::Relaxed),
        chain_id: state.chain.chain_id(),
    })
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        state.shared.metrics.render(),
    )
}

/// `GET /v1/jobs/{id}/record`: the job file `verifier replay` reads (input, output and the
/// asserter's claimed output hash and trace root); 409 until the job has an asserted result.
async fn record(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<JobFile>, ApiError> {
    let job =
        state.store.job(&id).await?.ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
    let (Some(output), Some(receipt)) = (&job.output, &job.receipt) else {
        return Err(ApiError::no_result(&id, job.status.as_str()));
    };
    Ok(Json(JobFile {
        engine: None,
        model_id: job.model_id,
        model_dir: None,
        input: job.spec.clone(),
        output: output.clone(),
        output_hash: receipt.receipt.output_hash,
        trace_root: receipt.receipt.trace_root,
    }))
}

/// `GET /v1/jobs/{id}`: the job, its receipt, its sampling status and validators.
async fn job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    let job =
        state.store.job(&id).await?.ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
    let validators = state.store.validations(&id).await?;
    let batch = match &job.batch_id {
        Some(root) => state.store.batch(root).await?,
        None => None,
    };
    let receipt = job.receipt.as_ref().map(|r| r.receipt);
    Ok(Json(JobView {
        object: "assay.job",
        kind: job.kind,
        model: state.models.name_of(job.model_id),
        model_id: job.model_id,
        status: job.status,
        job_key: job.job_key,
        input_root: job.spec.input_root(),
        attempts: job.attempts,
        asserter: job.asserter,
        output_hash: receipt.map(|r| r.output_hash),
        trace_root: receipt.map(|r| r.trace_root),
        error: job.error,
        validators: validators
            .into_iter()
            .map(|v| ValidatorView {
                address: v.validator,
                state: v.state,
                commitment: v.commitment,
                output_hash: v.output_hash,
                salt: v.salt,
                receipt: v.receipt,
            })
            .collect(),
        suspects: job.suspects,
        fee: job.fee.map(|f| f.to_string()),
        settlement: job.settlement,
        transactions: Transactions {
            batch_root: job.batch_id,
            batch_id: batch.as_ref().and_then(|b| b.chain_batch_id).map(|id| id.to_string()),
            commit_batch: batch.as_ref().and_then(|b| b.commit_tx),
            seal_batch: batch.as_ref().and_then(|b| b.seal_tx),
            settle: job.settle_tx,
            chain_job_id: job.chain_job_id,
        },
        created: job.created_ms / 1000,
        id: job.id,
        receipt: job.receipt,
        output: job.output,
    }))
}

/// `GET /v1/jobs/{id}`.
#[derive(Serialize)]
struct JobView {
    id: String,
    object: &'static str,
    kind: Kind,
    model: String,
    model_id: B256,
    status: Status,
    job_key: B256,
    input_root: B256,
    attempts: u32,
    asserter: Option<Address>,
    output_hash: Option<B256>,
    trace_root: Option<B256>,
    receipt: Option<SignedReceipt>,
    output: Option<Output>,
    error: Option<String>,
    validators: Vec<ValidatorView>,
    suspects: Vec<Address>,
    /// Wei, decimal.
    fee: Option<String>,
    settlement: Option<Settlement>,
    transactions: Transactions,
    created: i64,
}

/// A validator of an off-chain challenge.
#[derive(Serialize)]
struct ValidatorView {
    address: Address,
    state: ValidationState,
    commitment: Option<B256>,
    output_hash: Option<B256>,
    salt: Option<B256>,
    receipt: Option<SignedReceipt>,
}

/// Where a job's record is on chain.
#[derive(Serialize)]
struct Transactions {
    batch_root: Option<String>,
    /// Decimal.
    batch_id: Option<String>,
    commit_batch: Option<B256>,
    seal_batch: Option<B256>,
    settle: Option<String>,
    chain_job_id: Option<String>,
}

/// `GET /v1/flags`.
#[derive(Serialize)]
struct FlagList {
    object: &'static str,
    data: Vec<Flag>,
}

/// `GET /v1/flags[?worker=0x...]`: flags raised against workers (invalid receipts, minority
/// hashes in disputes, failed canaries).
async fn flags(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<FlagList>, ApiError> {
    let worker =
        match query.as_deref().and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("worker=")))
        {
            Some(w) => Some(
                w.parse::<Address>()
                    .map_err(|e| ApiError::bad_param("worker", format!("worker {w}: {e}")))?,
            ),
            None => None,
        };
    let flags = state.store.flags(worker).await?;
    Ok(Json(FlagList { object: "list", data: flags }))
}

/// Most disputes `GET /v1/disputes` lists.
const DISPUTES_LISTED: usize = 256;

/// `GET /v1/disputes`: the jobs this coordinator's sampling found disputed whose records are not
/// settled on chain yet, with their asserters' signed receipts, for arbitrators to check and
/// claim against (the settler opens a disputed record for the claims waiting against it).
async fn disputes(State(state): State<AppState>) -> Result<Json<DisputeList>, ApiError> {
    let jobs = state.store.unsettled_disputes(DISPUTES_LISTED).await?;
    let data = jobs
        .into_iter()
        .filter_map(|job| {
            let receipt = job.receipt?;
            Some(DisputedJob { id: job.id, receipt, suspects: job.suspects })
        })
        .collect();
    Ok(Json(DisputeList { object: "list".into(), data }))
}

/// `GET /v1/batches/{id}`: a committed batch (by its `JobMarket` id, decimal) with every record
/// and its Merkle proof, so anyone can check a record, claim against it and open it.
async fn batch(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PublishedBatch>, ApiError> {
    let batch_id: alloy_primitives::U256 = id.parse().map_err(|_| {
        ApiError::bad_param("id", format!("batch id {id:?} is not a decimal number"))
    })?;
    let row = state
        .store
        .batch_by_chain_id(batch_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no committed batch {batch_id}")))?;
    let jobs = state.store.batch_jobs(row.root).await?;
    let mut records = Vec::with_capacity(jobs.len());
    for job in &jobs {
        let (Some(signed), Some(fee)) = (&job.receipt, job.fee) else {
            return Err(ApiError::internal(format!(
                "batched job {} has no receipt or fee",
                job.id
            )));
        };
        let sampled = match job.status {
            Status::Matched => Sampled::Matched,
            Status::Disputed => Sampled::Disputed,
            _ => Sampled::No,
        };
        let record = signed.receipt.record(fee);
        records.push(PublishedRecord::new(job.id.clone(), sampled, &record, Vec::new()));
    }
    let tree = Batch::new(records.iter().map(PublishedRecord::record).collect())
        .map_err(|e| ApiError::internal(e.to_string()))?;
    if tree.root() != row.root {
        return Err(ApiError::internal(format!(
            "batch {batch_id}: stored records do not rebuild its root"
        )));
    }
    for record in &mut records {
        record.proof = tree.proof(record.job_key).map_err(|e| ApiError::internal(e.to_string()))?.1;
    }
    Ok(Json(PublishedBatch { object: "assay.batch".into(), batch_id, root: row.root, records }))
}
