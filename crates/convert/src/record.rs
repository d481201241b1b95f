//! The job record: what `worker infer --json` prints and `verifier replay` reads.

use assay_engine::{
    chat::Message,
    job::{JobInput, JobOutput},
};
use serde::{Deserialize, Serialize};

use crate::{
    Error, Result,
    dir::{hex32, parse_hex32},
};

/// The job's input as JSON.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "task", rename_all = "snake_case")]
pub enum InputRecord {
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

impl InputRecord {
    /// A generation answering one user message.
    pub fn user(prompt: impl Into<String>, max_tokens: u32, seed: u64) -> Self {
        Self::Generate { messages: vec![Message::user(prompt)], max_tokens, seed }
    }

    /// The input commitment (`JobInput::input_root`).
    pub fn input_root(&self) -> [u8; 32] {
        self.to_input().input_root()
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

/// The job's output as JSON.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutputRecord {
    /// Token ids (input tokens of an embedding, generated tokens of a generation).
    pub tokens: Vec<u32>,
    /// Normalised embedding in Q15 (divide by 32768), empty for generation.
    pub embedding: Vec<i16>,
    /// Generated text, decoded from `tokens` (not hashed: the tokens are).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
}

/// A complete job record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct JobRecord {
    /// Keccak hash of the engine's WASM module the result is defined by, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// Model id (Merkle root of the model's chunks).
    pub model_id: String,
    /// Where the model directory was on the machine that ran the job (a hint for replays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_dir: Option<String>,
    /// Input.
    pub input: InputRecord,
    /// Output.
    pub output: OutputRecord,
    /// Hash of the output.
    pub output_hash: String,
    /// Root of the execution trace.
    pub trace_root: String,
}

impl JobRecord {
    /// Builds a record from a run.
    pub fn new(model_id: &[u8; 32], input: InputRecord, out: &JobOutput) -> Self {
        Self {
            engine: None,
            model_id: hex32(model_id),
            model_dir: None,
            input,
            output: OutputRecord {
                tokens: out.tokens.clone(),
                embedding: out.embedding.clone(),
                text: String::new(),
            },
            output_hash: hex32(&out.output_hash),
            trace_root: hex32(&out.trace_root),
        }
    }

    /// The model id as bytes.
    ///
    /// # Errors
    /// [`Error::Source`] when it is not 32 bytes of hex.
    pub fn model_id(&self) -> Result<[u8; 32]> {
        parse_hex32(&self.model_id)
    }

    /// Parses a record from JSON.
    ///
    /// # Errors
    /// [`Error::Source`] for invalid JSON.
    pub fn from_json(s: &str) -> Result<Self> {
        serde_json::from_str(s).map_err(|e| Error::Source(format!("job record: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use assay_engine::chat::Role;

    use super::*;

    #[test]
    fn conversations_read_and_write_as_openai_messages() {
        let json = r#"{"task":"generate","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi <|im_start|>"}],"max_tokens":4,"seed":0}"#;
        let rec: InputRecord = serde_json::from_str(json).expect("parses");
        let InputRecord::Generate { messages, .. } = &rec else { panic!("generate") };
        assert_eq!(messages[0], Message::new(Role::System, "be brief"));
        assert_eq!(messages[1], Message::user("hi <|im_start|>"));
        assert_eq!(serde_json::to_string(&rec).expect("writes"), json);
        let tool = json.replace("\"system\"", "\"tool\"");
        let err = serde_json::from_str::<InputRecord>(&tool).expect_err("unknown role");
        assert!(err.to_string().contains("unknown role \"tool\""), "{err}");
        assert_eq!(
            InputRecord::user("hi", 4, 0).to_input(),
            JobInput::Generate { messages: vec![Message::user("hi")], max_tokens: 4, seed: 0 }
        );
    }
}
