//! The library's error type, and its mapping to HTTP statuses with the OpenAI error envelope.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;

/// Errors starting or running the coordinator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be opened, migrated, read or written.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The writer task could not commit a write.
    #[error("job store write: {0}")]
    Write(String),
    /// A migration failed.
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// The configuration is inconsistent or a file it names is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// A chain call failed.
    #[error("chain: {0}")]
    Chain(#[from] crate::chain::ChainError),
    /// A stored row could not be decoded.
    #[error("corrupt row in the job store: {0}")]
    Corrupt(String),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The error code of a job that failed because running it ended the connections of
/// `scheduler::WORKERS_LOST_PER_JOB` workers (killed, out of memory, engine panic): it is not
/// given to further workers. The scheduler's failure reason (stored with the job) starts with
/// this code and `": "`.
pub const JOB_CRASHED_WORKERS: &str = "job_crashed_workers";

/// An error answered to an HTTP client: a status and the OpenAI envelope
/// `{"error": {"message", "type", "param", "code"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Human-readable message.
    pub message: String,
    /// OpenAI error type (`invalid_request_error`, `rate_limit_error`, `server_error`, ...).
    pub kind: &'static str,
    /// Machine-readable code.
    pub code: &'static str,
    /// The request parameter at fault, if any.
    pub param: Option<&'static str>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, code: &'static str, message: String) -> Self {
        Self { status, message, kind, code, param: None }
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "invalid_request",
            message.into(),
        )
    }

    /// 400 naming the parameter at fault.
    pub fn bad_param(param: &'static str, message: impl Into<String>) -> Self {
        Self { param: Some(param), ..Self::bad_request(message) }
    }

    /// 401: missing or unknown API key.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "invalid_api_key",
            "missing or incorrect API key: send `Authorization: Bearer <key>`".into(),
        )
    }

    /// 404: an unknown model.
    pub fn unknown_model(model: &str) -> Self {
        Self {
            param: Some("model"),
            ..Self::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "model_not_found",
                format!("the model `{model}` does not exist (see GET /v1/models)"),
            )
        }
    }

    /// 404: anything else that does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "invalid_request_error", "not_found", message.into())
    }

    /// 409: the job has no asserted result (not yet, or it failed), so nothing to replay.
    pub fn no_result(job_id: &str, status: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "invalid_request_error",
            "job_not_asserted",
            format!("job {job_id} has no asserted result to replay (status {status})"),
        )
    }

    /// 413: the body is over the configured limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "request_too_large",
            format!("the request body is larger than {limit} bytes"),
        )
    }

    /// 429: the pending queue is full.
    pub fn overloaded() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "queue_full",
            "the coordinator's job queue is full, retry later".into(),
        )
    }

    /// 503: no connected worker serves the model.
    pub fn no_worker(model: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "no_worker",
            format!("no connected worker serves `{model}` right now, retry later"),
        )
    }

    /// 502: the job failed on every worker it was given to; `job_crashed_workers` when `why`
    /// starts with `"job_crashed_workers: "` (the scheduler's reason for a job that ended the
    /// connections of the workers that ran it, see [`JOB_CRASHED_WORKERS`]).
    pub fn job_failed(job_id: &str, why: &str) -> Self {
        if let Some(why) =
            why.strip_prefix(JOB_CRASHED_WORKERS).and_then(|rest| rest.strip_prefix(": "))
        {
            return Self::new(
                StatusCode::BAD_GATEWAY,
                "server_error",
                JOB_CRASHED_WORKERS,
                format!("job {job_id} failed: {why}"),
            );
        }
        Self::new(
            StatusCode::BAD_GATEWAY,
            "server_error",
            "job_failed",
            format!("job {job_id} failed: {why}"),
        )
    }

    /// 504: no result within the request timeout (the job stays queued).
    pub fn timeout(job_id: &str) -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "server_error",
            "timeout",
            format!("job {job_id} has no result yet; poll GET /v1/jobs/{job_id}"),
        )
    }

    /// A streamed completion whose final text does not continue the text already streamed
    /// (sent as an event: the response status, 200, is gone by then; 502 if it were not).
    pub fn stream_diverged(job_id: &str) -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            "server_error",
            "stream_diverged",
            format!(
                "job {job_id}: the final output does not continue the text streamed so far (the \
                 job moved to another worker after streaming began); the verified result is at \
                 GET /v1/jobs/{job_id}"
            ),
        )
    }

    /// 500: an internal failure (database).
    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal_error",
            message.to_string(),
        )
    }

    /// The OpenAI error envelope.
    pub fn envelope(&self) -> Envelope<'_> {
        Envelope {
            error: EnvelopeError {
                message: &self.message,
                kind: self.kind,
                param: self.param,
                code: self.code,
            },
        }
    }

    /// The envelope as JSON.
    pub fn body(&self) -> serde_json::Value {
        serde_json::to_value(self.envelope()).expect("an envelope serialises")
    }
}

/// `{"error": {...}}`, the body of every error response.
#[derive(Debug, Serialize)]
pub struct Envelope<'a> {
    /// The error.
    pub error: EnvelopeError<'a>,
}

/// The error inside an [`Envelope`].
#[derive(Debug, Serialize)]
pub struct EnvelopeError<'a> {
    /// Human-readable message.
    pub message: &'a str,
    /// OpenAI error type.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The request parameter at fault (`null` if none).
    pub param: Option<&'static str>,
    /// Machine-readable code.
    pub code: &'static str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.envelope())).into_response()
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self::internal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_has_the_openai_fields() {
        let e = ApiError::unknown_model("nope");
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        let body = e.body();
        assert_eq!(body["error"]["code"], "model_not_found");
        assert_eq!(body["error"]["param"], "model");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(body["error"]["message"].as_str().unwrap().contains("nope"));
        assert!(ApiError::bad_request("x").body()["error"]["param"].is_null());
    }

    #[test]
    fn a_job_that_crashed_its_workers_has_its_own_code() {
        let e = ApiError::job_failed("j1", "job_crashed_workers: it ended 2 workers' connections");
        assert_eq!(e.status, StatusCode::BAD_GATEWAY);
        assert_eq!(e.code, "job_crashed_workers");
        assert_eq!(e.message, "job j1 failed: it ended 2 workers' connections");
        let e = ApiError::job_failed("j2", "asserter timed out");
        assert_eq!(e.code, "job_failed");
        assert_eq!(e.message, "job j2 failed: asserter timed out");
    }
}
