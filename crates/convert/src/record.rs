//! The job record: what `worker infer --json` prints and `verifier replay` reads.

use assay_engine::job::{JobInput, JobOutput, Task};
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
    /// Text generation.
    Generate {
        /// Prompt text.
        prompt: String,
        /// Most tokens to generate.
        max_tokens: u32,
        /// Sampling seed (0 = greedy).
        seed: u64,
    },
}

impl InputRecord {
    /// The input commitment (`JobInput::input_root`).
    pub fn input_root(&self) -> [u8; 32] {
        self.to_input().input_root()
    }

    /// The engine's job input.
    pub fn to_input(&self) -> JobInput {
        match self {
            Self::Embed { prompt } => JobInput { task: Task::Embed, prompt: prompt.clone() },
            Self::Generate { prompt, max_tokens, seed } => JobInput {
                task: Task::Generate { max_tokens: *max_tokens, seed: *seed },
                prompt: prompt.clone(),
            },
        }
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
