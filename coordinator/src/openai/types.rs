//! The OpenAI request and response shapes this API speaks, with the `assay` extension every
//! response carries (job, receipt, hashes). Typed, so a field cannot be misspelt or forgotten;
//! the tests pin each shape's JSON.

use alloy_primitives::{Address, B256};
use assay_protocol::wire::SignedReceipt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{job::JobRow, scheduler::Asserted};

/// `POST /v1/chat/completions` body (the fields this API reads; others are ignored).
#[derive(Debug, Deserialize)]
pub(crate) struct ChatRequest {
    pub(crate) model: String,
    pub(crate) messages: Vec<ChatMessage>,
    pub(crate) max_tokens: Option<u32>,
    pub(crate) max_completion_tokens: Option<u32>,
    pub(crate) seed: Option<u64>,
    pub(crate) stream: Option<bool>,
}

/// One message of a chat request; `content` is checked by the handler (a string or text parts).
#[derive(Debug, Deserialize)]
pub(crate) struct ChatMessage {
    pub(crate) role: String,
    pub(crate) content: Option<Value>,
}

/// `POST /v1/embeddings` body; `input` is a string or an array of strings.
#[derive(Debug, Deserialize)]
pub(crate) struct EmbeddingRequest {
    pub(crate) model: String,
    pub(crate) input: Value,
    pub(crate) encoding_format: Option<String>,
}

/// Why a generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FinishReason {
    /// The model ended its turn.
    Stop,
    /// It used every token it was allowed.
    Length,
}

impl FinishReason {
    /// `Length` when the generation used every token it was allowed, else `Stop`.
    pub(crate) fn of(a: &Asserted, max_tokens: u32) -> Self {
        if a.output.tokens.len() >= max_tokens as usize { Self::Length } else { Self::Stop }
    }
}

/// The `assay` object: the job, its signed receipt and where to follow it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct AssayJob {
    pub(crate) job_id: String,
    pub(crate) job_key: B256,
    pub(crate) model_id: B256,
    pub(crate) input_root: B256,
    pub(crate) output_hash: B256,
    pub(crate) trace_root: B256,
    pub(crate) worker: Address,
    pub(crate) receipt: SignedReceipt,
    pub(crate) status_url: String,
}

impl AssayJob {
    /// The extension of `job`'s asserted result.
    pub(crate) fn new(job: &JobRow, a: &Asserted) -> Self {
        let r = &a.receipt.receipt;
        Self {
            job_id: job.id.clone(),
            job_key: job.job_key,
            model_id: job.model_id,
            input_root: r.input_root,
            output_hash: r.output_hash,
            trace_root: r.trace_root,
            worker: r.worker,
            receipt: a.receipt.clone(),
            status_url: format!("/v1/jobs/{}", job.id),
        }
    }
}

/// Token counts (`completion_tokens` is absent for embeddings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Usage {
    pub(crate) prompt_tokens: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) completion_tokens: Option<usize>,
    pub(crate) total_tokens: usize,
}

/// `chat.completion`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ChatCompletion {
    pub(crate) id: String,
    pub(crate) object: &'static str,
    pub(crate) created: i64,
    pub(crate) model: String,
    pub(crate) choices: [ChatChoice; 1],
    pub(crate) usage: Usage,
    pub(crate) assay: AssayJob,
}

/// The one choice of a completion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ChatChoice {
    pub(crate) index: u32,
    pub(crate) message: AssistantMessage,
    pub(crate) finish_reason: FinishReason,
}

/// The assistant's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct AssistantMessage {
    pub(crate) role: &'static str,
    pub(crate) content: String,
}

impl ChatCompletion {
    /// The completion of `job`, generated with at most `max_tokens` tokens, named `model` as
    /// the request named it.
    pub(crate) fn new(job: &JobRow, a: &Asserted, model: String, max_tokens: u32) -> Self {
        let completion = a.output.tokens.len();
        // Workers older than the prompt token count report none: 0.
        let prompt = a.output.prompt_tokens.map_or(0, |n| n as usize);
        Self {
            id: format!("chatcmpl-{}", job.id),
            object: "chat.completion",
            created: job.created_ms / 1000,
            model,
            choices: [ChatChoice {
                index: 0,
                message: AssistantMessage { role: "assistant", content: a.output.text.clone() },
                finish_reason: FinishReason::of(a, max_tokens),
            }],
            usage: Usage {
                prompt_tokens: prompt,
                completion_tokens: Some(completion),
                total_tokens: prompt + completion,
            },
            assay: AssayJob::new(job, a),
        }
    }
}

/// `chat.completion.chunk`: one event of a streamed completion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ChatChunk {
    pub(crate) id: String,
    pub(crate) object: &'static str,
    pub(crate) created: i64,
    pub(crate) model: String,
    pub(crate) choices: [ChunkChoice; 1],
    /// On the last chunk only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) assay: Option<AssayJob>,
}

/// The one choice of a chunk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ChunkChoice {
    pub(crate) index: u32,
    pub(crate) delta: Delta,
    /// `null` until the last chunk.
    pub(crate) finish_reason: Option<FinishReason>,
}

/// What a chunk adds: the role (first chunk), text, or nothing (last chunk).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Delta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) content: Option<String>,
}

impl ChatChunk {
    /// A chunk of `job`'s stream.
    pub(crate) fn new(job: &JobRow, model: &str, delta: Delta) -> Self {
        Self {
            id: format!("chatcmpl-{}", job.id),
            object: "chat.completion.chunk",
            created: job.created_ms / 1000,
            model: model.to_owned(),
            choices: [ChunkChoice { index: 0, delta, finish_reason: None }],
            assay: None,
        }
    }
}

/// The `list` of embeddings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct EmbeddingList {
    pub(crate) object: &'static str,
    pub(crate) data: Vec<EmbeddingData>,
    pub(crate) model: String,
    pub(crate) usage: Usage,
    pub(crate) assay: AssayJobs,
}

/// One embedding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct EmbeddingData {
    pub(crate) object: &'static str,
    pub(crate) index: usize,
    pub(crate) embedding: EmbeddingVector,
}

/// An embedding as the request's `encoding_format` asked.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub(crate) enum EmbeddingVector {
    /// `float`: the values.
    Float(Vec<f64>),
    /// `base64`: little-endian f32 bytes, base64.
    Base64(String),
}

/// The `assay` object of a response with several jobs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct AssayJobs {
    pub(crate) jobs: Vec<AssayJob>,
}

/// The `list` of models.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ModelList {
    pub(crate) object: &'static str,
    pub(crate) data: Vec<ModelEntry>,
}

/// One model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ModelEntry {
    pub(crate) id: String,
    pub(crate) object: &'static str,
    pub(crate) created: u64,
    pub(crate) owned_by: &'static str,
    pub(crate) assay: ModelAssay,
}

/// What a model entry adds: its id and how many connected workers serve it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ModelAssay {
    pub(crate) model_id: B256,
    pub(crate) workers: usize,
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{Signature, U256};
    use assay_protocol::{
        job::{JobSpec, Output},
        wire::Receipt,
    };

    use super::*;
    use crate::job::Kind;

    fn asserted(tokens: Vec<u32>) -> (JobRow, Asserted) {
        let mut job = JobRow::new(Kind::Chat, B256::repeat_byte(2), JobSpec::user("hi", 2, 0));
        job.id = "job_1".into();
        job.job_key = B256::repeat_byte(1);
        job.created_ms = 1_700_000_000_123;
        let receipt = SignedReceipt {
            receipt: Receipt {
                job_key: job.job_key,
                model_id: job.model_id,
                input_root: B256::repeat_byte(3),
                output_hash: B256::repeat_byte(4),
                trace_root: B256::repeat_byte(5),
                worker: Address::repeat_byte(6),
            },
            signature: Signature::new(U256::from(7), U256::from(8), false),
        };
        let output =
            Output { tokens, embedding: vec![], text: "Hi!".into(), prompt_tokens: Some(9) };
        let persisted = tokio::sync::oneshot::channel().1;
        (job, Asserted { output, receipt, persisted })
    }

    fn hex(byte: u8, bytes: usize) -> String {
        format!("0x{}", format!("{byte:02x}").repeat(bytes))
    }

    #[test]
    fn chat_completions_keep_the_openai_shape() {
        let (job, a) = asserted(vec![10, 11]);
        let json = serde_json::to_value(ChatCompletion::new(&job, &a, "smollm2".into(), 2))
            .expect("serialises");
        let assay = serde_json::json!({
            "job_id": "job_1",
            "job_key": hex(1, 32),
            "model_id": hex(2, 32),
            "input_root": hex(3, 32),
            "output_hash": hex(4, 32),
            "trace_root": hex(5, 32),
            "worker": alloy_primitives::Address::repeat_byte(6),
            "receipt": a.receipt,
            "status_url": "/v1/jobs/job_1",
        });
        assert_eq!(
            json,
            serde_json::json!({
                "id": "chatcmpl-job_1",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": "smollm2",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hi!"},
                    "finish_reason": "length",
                }],
                "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
                "assay": assay,
            })
        );
        let (job, a) = asserted(vec![10]);
        assert_eq!(
            ChatCompletion::new(&job, &a, "m".into(), 2).choices[0].finish_reason,
            FinishReason::Stop
        );
    }

    #[test]
    fn chunks_carry_role_then_text_then_the_finish() {
        let (job, a) = asserted(vec![10]);
        let opening = Delta { role: Some("assistant"), content: Some(String::new()) };
        assert_eq!(
            serde_json::to_value(ChatChunk::new(&job, "m", opening)).expect("json"),
            serde_json::json!({
                "id": "chatcmpl-job_1",
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": "m",
                "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}],
            })
        );
        let text = Delta { content: Some("Hi".into()), ..Delta::default() };
        let json = serde_json::to_value(ChatChunk::new(&job, "m", text)).expect("json");
        assert_eq!(json["choices"][0]["delta"], serde_json::json!({"content": "Hi"}));
        let mut last = ChatChunk::new(&job, "m", Delta::default());
        last.choices[0].finish_reason = Some(FinishReason::Stop);
        last.assay = Some(AssayJob::new(&job, &a));
        let json = serde_json::to_value(last).expect("json");
        assert_eq!(json["choices"][0]["delta"], serde_json::json!({}));
        assert_eq!(json["choices"][0]["finish_reason"], "stop");
        assert_eq!(json["assay"]["status_url"], "/v1/jobs/job_1");
    }

    #[test]
    fn embeddings_and_models_keep_the_openai_shape() {
        let list = EmbeddingList {
            object: "list",
            data: vec![
                EmbeddingData {
                    object: "embedding",
                    index: 0,
                    embedding: EmbeddingVector::Float(vec![0.5, -0.25, 1.0 / 32768.0]),
                },
                EmbeddingData {
                    object: "embedding",
                    index: 1,
                    embedding: EmbeddingVector::Base64("AAAAPw==".into()),
                },
            ],
            model: "minilm".into(),
            usage: Usage { prompt_tokens: 4, completion_tokens: None, total_tokens: 4 },
            assay: AssayJobs { jobs: vec![] },
        };
        assert_eq!(
            serde_json::to_string(&list).expect("json"),
            r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,-0.25,0.000030517578125]},{"object":"embedding","index":1,"embedding":"AAAAPw=="}],"model":"minilm","usage":{"prompt_tokens":4,"total_tokens":4},"assay":{"jobs":[]}}"#
        );
        let models = ModelList {
            object: "list",
            data: vec![ModelEntry {
                id: "minilm".into(),
                object: "model",
                created: 0,
                owned_by: "assay",
                assay: ModelAssay { model_id: B256::repeat_byte(2), workers: 3 },
            }],
        };
        assert_eq!(
            serde_json::to_value(models).expect("json"),
            serde_json::json!({"object": "list", "data": [{
                "id": "minilm", "object": "model", "created": 0, "owned_by": "assay",
                "assay": {"model_id": hex(2, 32), "workers": 3},
            }]})
        );
    }
}
