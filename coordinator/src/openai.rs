//! The OpenAI-compatible endpoints: chat completions (plain and SSE), embeddings, models.
//! Every response carries an `assay` object: job id, output hash, trace root and the worker's
//! signed receipt.
//!
//! `stream`: the server-sent events of a streamed chat completion.

use std::convert::Infallible;

use assay_engine::chat::{Message, Role};
use assay_protocol::job::JobSpec;
use axum::{
    Json,
    extract::State,
    response::{
        IntoResponse, Response,
        sse::{KeepAlive, Sse},
    },
};
use futures::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::{error::ApiError, extract::JsonBody, job::Kind, state::AppState};

mod stream;
mod types;

use self::types::{
    AssayJob, AssayJobs, ChatCompletion, ChatMessage, ChatRequest, EmbeddingData, EmbeddingList,
    EmbeddingRequest, EmbeddingVector, ModelAssay, ModelEntry, ModelList, Usage,
};

/// The text of a message: a string, or an array of `{"type": "text", "text": ...}` parts
/// (concatenated); `None` for anything else.
fn content_text(content: Option<&Value>) -> Option<String> {
    match content? {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => parts
            .iter()
            .map(|p| match (p.get("type"), p.get("text")) {
                (Some(t), Some(Value::String(text))) if t == "text" => Some(text.as_str()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// The conversation of a chat request, every message kept in order (`developer` is the newer
/// name of `system`). Contents are plain text: the chat template marks turns by token id, so a
/// message can never open or close a turn.
fn conversation(messages: &[ChatMessage]) -> Result<Vec<Message>, ApiError> {
    if messages.is_empty() {
        return Err(ApiError::bad_param("messages", "messages must not be empty"));
    }
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let role = match m.role.as_str() {
                "developer" => Role::System,
                name => Role::from_name(name).ok_or_else(|| {
                    ApiError::bad_param(
                        "messages",
                        format!(
                            "messages[{i}].role {name:?} is not supported: use system, developer, \
                             user or assistant"
                        ),
                    )
                })?,
            };
            let content = content_text(m.content.as_ref()).ok_or_else(|| {
                ApiError::bad_param(
                    "messages",
                    format!("messages[{i}].content must be a string or an array of text parts"),
                )
            })?;
            Ok(Message { role, content })
        })
        .collect()
}

/// `POST /v1/chat/completions`.
#[tracing::instrument(skip_all, fields(job_id = tracing::field::Empty))]
pub(crate) async fn chat(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<ChatRequest>,
) -> Result<Response, ApiError> {
    let messages = conversation(&req.messages)?;
    let max_tokens =
        req.max_completion_tokens.or(req.max_tokens).unwrap_or(state.config.default_max_tokens);
    if max_tokens == 0 || max_tokens > state.config.max_tokens_limit {
        return Err(ApiError::bad_param(
            "max_tokens",
            format!("max_tokens must be within 1..={}", state.config.max_tokens_limit),
        ));
    }
    let spec = JobSpec::Generate { messages, max_tokens, seed: req.seed.unwrap_or(0) };
    if req.stream.unwrap_or(false) {
        let (partials, deltas) = mpsc::unbounded_channel();
        let (job, rx) = state.submit(Kind::Chat, &req.model, spec, Some(partials)).await?;
        tracing::Span::current().record("job_id", job.id.as_str());
        let chat = stream::ChatStream::new(&state, job, req.model, max_tokens, rx, deltas);
        let events = chat.into_events().map(Ok::<_, Infallible>);
        return Ok(Sse::new(events).keep_alive(KeepAlive::default()).into_response());
    }
    let (job, rx) = state.submit(Kind::Chat, &req.model, spec, None).await?;
    tracing::Span::current().record("job_id", job.id.as_str());
    let a = state.wait(&job, rx).await?;
    Ok(Json(ChatCompletion::new(&job, &a, req.model, max_tokens)).into_response())
}

/// `POST /v1/embeddings`: one job per input string.
pub(crate) async fn embeddings(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<EmbeddingRequest>,
) -> Result<Json<EmbeddingList>, ApiError> {
    let bad_input =
        || ApiError::bad_param("input", "input must be a string or an array of strings");
    let inputs: Vec<String> = match &req.input {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(bad_input))
            .collect::<Result<_, _>>()?,
        _ => return Err(bad_input()),
    };
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::bad_param(
                "encoding_format",
                format!("encoding_format must be float or base64, not {other}"),
            ));
        }
    };
    // More inputs than the whole queue holds can never be served: retrying would not help.
    if inputs.len() > state.config.queue_size {
        return Err(ApiError::bad_param(
            "input",
            format!(
                "{} inputs in one request, at most {} (the coordinator's queue size): split it",
                inputs.len(),
                state.config.queue_size
            ),
        ));
    }
    if state.permits.available_permits() < inputs.len() {
        return Err(ApiError::overloaded());
    }
    let mut pending = Vec::with_capacity(inputs.len());
    for prompt in inputs {
        let spec = JobSpec::Embed { prompt };
        pending.push(state.submit(Kind::Embedding, &req.model, spec, None).await?);
    }
    let mut data = Vec::with_capacity(pending.len());
    let mut jobs = Vec::with_capacity(pending.len());
    let mut tokens = 0;
    for (index, (job, rx)) in pending.into_iter().enumerate() {
        let a = state.wait(&job, rx).await?;
        tokens += a.output.tokens.len();
        // Q15 values: exact in f32 (the base64 bytes) and in f64 (the JSON numbers).
        let q15 = &a.output.embedding;
        let embedding = if base64 {
            let bytes: Vec<u8> =
                q15.iter().flat_map(|q| (f32::from(*q) / 32768.0).to_le_bytes()).collect();
            EmbeddingVector::Base64(base64_encode(&bytes))
        } else {
            EmbeddingVector::Float(q15.iter().map(|q| f64::from(*q) / 32768.0).collect())
        };
        data.push(EmbeddingData { object: "embedding", index, embedding });
        jobs.push(AssayJob::new(&job, &a));
    }
    Ok(Json(EmbeddingList {
        object: "list",
        data,
        model: req.model,
        usage: Usage { prompt_tokens: tokens, completion_tokens: None, total_tokens: tokens },
        assay: AssayJobs { jobs },
    }))
}

/// Standard base64 with padding.
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `GET /v1/models`: models the connected workers serve, and the registered ones.
pub(crate) async fn models(State(state): State<AppState>) -> Json<ModelList> {
    let served = state.shared.served.read().expect("served lock").clone();
    let mut ids: Vec<_> = served.keys().copied().chain(state.models.ids()).collect();
    ids.sort();
    ids.dedup();
    let data = ids
        .into_iter()
        .map(|id| ModelEntry {
            id: state.models.name_of(id),
            object: "model",
            created: 0,
            owned_by: "assay",
            assay: ModelAssay { model_id: id, workers: served.get(&id).copied().unwrap_or(0) },
        })
        .collect();
    Json(ModelList { object: "list", data })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (input, want) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")]
        {
            assert_eq!(base64_encode(input.as_bytes()), want);
        }
    }

    #[test]
    fn message_text_from_strings_and_parts() {
        assert_eq!(content_text(Some(&json!("hi"))).as_deref(), Some("hi"));
        let parts = json!([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]);
        assert_eq!(content_text(Some(&parts)).as_deref(), Some("ab"));
        assert_eq!(content_text(Some(&json!(3))), None);
    }
}
