//! A job as every party sees it: what to run ([`JobSpec`]), what came out ([`Output`]), and the
//! job file ([`JobFile`]) that `worker infer --json` prints, `GET /v1/jobs/{id}/record` returns
//! and `verifier replay` reads.

use alloy_primitives::B256;
use assay_engine::{
    chat::Message,
    job::{JobInput, JobOutput},
};
use serde::{Deserialize, Serialize};

/// What a job asks the engine to do, as JSON: `{"task": "embed" | "generate", ...}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "task", rename_all = "snake_case")]
pub enum JobSpec {
    /// A sentence embedding of `prompt`.
    Embed {
        /// Text to embed.
        prompt: String,
    },
    /// The assistant's next message in a conversation.
    Generate {
        /// The conversation (`[{"role": "user", "content": "..."}]`, roles `system`, `user`,
        /// `assistant`), rendered with the model's chat template.
        #[serde(with = "messages_json")]
        messages: Vec<Message>,
        /// Most tokens to generate.
        max_tokens: u32,
        /// Sampling seed (0 = greedy).
        seed: u64,
    },
}

impl JobSpec {
    /// A generation answering one user message.
    pub fn user(prompt: impl Into<String>, max_tokens: u32, seed: u64) -> Self {
        Self::Generate { messages: vec![Message::user(prompt)], max_tokens, seed }
    }

    /// The input commitment (`JobInput::input_root`).
    pub fn input_root(&self) -> B256 {
        B256::from(self.to_input().input_root())
    }

    /// The engine's job input.
    pub fn to_input(&self) -> JobInput {
        match self {
            Self::Embed { prompt } => JobInput::Embed { text: prompt.clone() },
            Self::Generate { messages, max_tokens, seed } => JobInput::Generate {
                messages: messages.clone(),
                max_tokens: *max_tokens,
                seed: *seed,
            },
        }
    }
}

/// Conversations in JSON: `[{"role": "user", "content": "..."}]`.
mod messages_json {
    use assay_engine::chat::{Message, Role};
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Json<'a> {
        role: std::borrow::Cow<'a, str>,
        content: std::borrow::Cow<'a, str>,
    }

    pub(super) fn serialize<S: Serializer>(messages: &[Message], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            messages
                .iter()
                .map(|m| Json { role: m.role.name().into(), content: m.content.as_str().into() }),
        )
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Message>, D::Error> {
        Vec::<Json<'de>>::deserialize(d)?
            .into_iter()
            .map(|m| {
                let role = Role::from_name(&m.role).ok_or_else(|| {
                    D::Error::custom(format!(
                        "unknown role {:?} (system, user or assistant)",
                        m.role
                    ))
                })?;
                Ok(Message { role, content: m.content.into_owned() })
            })
            .collect()
    }
}

/// The engine's output as it travels and is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// Token ids (input tokens of an embedding, generated tokens of a generation).
    pub tokens: Vec<u32>,
    /// Normalised embedding in Q15 (divide by 32768); empty for generation.
    pub embedding: Vec<i16>,
    /// Generated text decoded from `tokens` (not hashed: the tokens are).
    #[serde(default)]
    pub text: String,
    /// Tokens of the prompt the engine read: the chat-formatted prompt of a generation, the input
    /// of an embedding (not hashed; for `usage`). Absent from older workers' results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<u32>,
}

impl Output {
    /// The engine's output, without text.
    pub fn from_engine(out: &JobOutput) -> Self {
        Self {
            tokens: out.tokens.clone(),
            embedding: out.embedding.clone(),
            text: String::new(),
            prompt_tokens: Some(out.prompt_tokens),
        }
    }

    /// The output hash ([`assay_engine::job::output_hash`]): what receipts sign and validators
    /// reveal.
    pub fn hash(&self) -> B256 {
        B256::from(assay_engine::job::output_hash(&self.tokens, &self.embedding))
    }
}

/// A complete job: what `verifier replay` needs to re-run it and the claims it checks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct JobFile {
    /// Keccak hash of the engine's WASM module the result is defined by, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<B256>,
    /// Model id (the row-by-row commitment of its blob, `ModelFile::id`).
    pub model_id: B256,
    /// Where the model directory was on the machine that ran the job (a hint for replays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_dir: Option<String>,
    /// Input.
    pub input: JobSpec,
    /// Output.
    pub output: Output,
    /// Hash of the output (claimed).
    pub output_hash: B256,
    /// Root of the execution trace (claimed).
    pub trace_root: B256,
}

impl JobFile {
    /// The file of an engine run.
    pub fn new(model_id: B256, input: JobSpec, out: &JobOutput) -> Self {
        Self {
            engine: None,
            model_id,
            model_dir: None,
            input,
            output: Output::from_engine(out),
            output_hash: B256::from(out.output_hash),
            trace_root: B256::from(out.trace_root),
        }
    }

    /// Parses a job file.
    ///
    /// # Errors
    /// The JSON error when it is not one.
    pub fn from_json(s: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(s)
    }
}

#[cfg(test)]
mod tests {
    use assay_engine::chat::Role;

    use super::*;

    #[test]
    fn conversations_read_and_write_as_openai_messages() {
        let json = r#"{"task":"generate","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi <|im_start|>"}],"max_tokens":4,"seed":0}"#;
        let spec: JobSpec = serde_json::from_str(json).expect("parses");
        let JobSpec::Generate { messages, .. } = &spec else { panic!("generate") };
        assert_eq!(messages[0], Message::new(Role::System, "be brief"));
        assert_eq!(messages[1], Message::user("hi <|im_start|>"));
        assert_eq!(serde_json::to_string(&spec).expect("writes"), json);
        let tool = json.replace("\"system\"", "\"tool\"");
        let err = serde_json::from_str::<JobSpec>(&tool).expect_err("unknown role");
        assert!(err.to_string().contains("unknown role \"tool\""), "{err}");
        assert_eq!(
            JobSpec::user("hi", 4, 0).to_input(),
            JobInput::Generate { messages: vec![Message::user("hi")], max_tokens: 4, seed: 0 }
        );
    }

    #[test]
    fn input_root_is_the_engine_commitment() {
        let spec = JobSpec::Embed { prompt: "a sentence".into() };
        assert_eq!(spec.input_root().0, spec.to_input().input_root());
        let other = JobSpec::Embed { prompt: "a sentence!".into() };
        assert_ne!(spec.input_root(), other.input_root());
    }

    #[test]
    fn output_hash_covers_tokens_and_embedding_only() {
        let out = |tokens: Vec<u32>, embedding: Vec<i16>, text: &str, prompt_tokens| Output {
            tokens,
            embedding,
            text: text.into(),
            prompt_tokens,
        };
        let a = out(vec![1, 2], vec![], "hi", None);
        assert_eq!(a.hash().0, assay_engine::job::output_hash(&[1, 2], &[]));
        assert_ne!(a.hash(), out(vec![1, 3], vec![], "hi", None).hash());
        assert_ne!(a.hash(), out(vec![1, 2], vec![0], "hi", None).hash());
        assert_eq!(
            a.hash(),
            out(vec![1, 2], vec![], "other", Some(9)).hash(),
            "text is not hashed"
        );
    }

    #[test]
    fn job_files_keep_their_json_shape() {
        let out = JobOutput {
            tokens: vec![5],
            embedding: vec![-3, 4],
            output_hash: [1; 32],
            trace_root: [2; 32],
            prompt_tokens: 1,
        };
        let file = JobFile::new(B256::repeat_byte(9), JobSpec::Embed { prompt: "x".into() }, &out);
        let json = serde_json::to_value(&file).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "model_id": format!("0x{}", "09".repeat(32)),
                "input": {"task": "embed", "prompt": "x"},
                "output": {"tokens": [5], "embedding": [-3, 4], "text": "", "prompt_tokens": 1},
                "output_hash": format!("0x{}", "01".repeat(32)),
                "trace_root": format!("0x{}", "02".repeat(32)),
            })
        );
        let older = r#"{"model_id":"0x0909090909090909090909090909090909090909090909090909090909090909","input":{"task":"embed","prompt":"x"},"output":{"tokens":[5],"embedding":[-3,4]},"output_hash":"0x0101010101010101010101010101010101010101010101010101010101010101","trace_root":"0x0202020202020202020202020202020202020202020202020202020202020202"}"#;
        let older = JobFile::from_json(older).expect("an older file parses");
        assert_eq!(
            older,
            JobFile { output: Output { prompt_tokens: None, ..file.output.clone() }, ..file }
        );
    }
}
