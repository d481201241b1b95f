//! The `verifier` command line.

use std::path::PathBuf;

use assay_engine_module::engine_hash;
use assay_protocol::job::JobFile;
use clap::{Parser, Subcommand};

use assay_chain::Client;
use assay_protocol::{deployment::Deployment, wire::SignedReceipt};

use crate::{
    Error, Result, arbitrate, check, diff, op,
    replay::{self, ReplayReport},
    runtime::{LimitArgs, Runtime},
};

/// Replays jobs of the Assay deterministic engine in wasmtime, bit for bit.
///
/// The engine's WASM module is embedded in this binary; `verifier engine-hash` prints the hash
/// that identifies it. Replays run with NaN canonicalisation, relaxed SIMD off, fuel metering and
/// a memory cap; model chunks are checked against the model root before the module sees them.
#[derive(Debug, Parser)]
#[command(name = "verifier", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay a whole job from its record (as printed by `worker infer --json`) and print JSON
    /// with the replay's output hash and trace root. Exits with status 3 when they differ from
    /// the record's.
    Replay {
        /// The job record (JSON).
        job: PathBuf,
        /// Also list every trace leaf: index, step, layer, op, dtype, shape and hash (the format
        /// is `crates/engine/TRACE.md`).
        #[arg(long)]
        leaves: bool,
        /// Model directory; defaults to the record's `model_dir`.
        #[arg(long, env = "ASSAY_MODEL_DIR")]
        model: Option<PathBuf>,
        /// Deployment manifest written by `deploy`: with it, the replay first checks that the
        /// record's model is registered in `ModelRegistry` under this verifier's engine, and
        /// refuses it otherwise (its result would not be the one the network checks).
        #[arg(long, env = "ASSAY_DEPLOYMENT")]
        deployment: Option<PathBuf>,
        /// JSON-RPC endpoint of the chain (with `--deployment`).
        #[arg(long, env = "ETH_RPC_URL")]
        rpc_url: Option<String>,
        /// Limits.
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Replay two job records and print where their traces first differ: the first leaf that
    /// differs (step, layer, op, shape) and, when both are the same op and shape, its first
    /// differing element (index, row, column) with both values. Exits with status 3 when they
    /// differ.
    Diff {
        /// The first job record (JSON).
        a: PathBuf,
        /// The second job record (JSON).
        b: PathBuf,
        /// Model directory of both; defaults to each record's `model_dir`.
        #[arg(long, env = "ASSAY_MODEL_DIR")]
        model: Option<PathBuf>,
        /// Limits.
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Re-execute one op from its committed inputs (a JSON op description, see the
    /// `assay_verifier::op` docs) and print its trace leaf and output.
    ReplayOp {
        /// The op description (JSON).
        op: PathBuf,
        /// Limits.
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Check a signed receipt (the `receipt` of `GET /v1/jobs/{id}`, or that whole response)
    /// against the chain: the signature is its worker's for this chain, the worker is a
    /// registered and eligible miner, the model is registered and active under this verifier's
    /// engine, and where its job stands (not settled, claimed, or opened with its status and
    /// the result asserted there). Prints JSON; exits with status 3 when a check fails.
    CheckReceipt {
        /// The receipt (JSON).
        receipt: PathBuf,
        /// JSON-RPC endpoint of the chain.
        #[arg(long, env = "ETH_RPC_URL")]
        rpc_url: String,
        /// Deployment manifest written by `deploy`.
        #[arg(long, env = "ASSAY_DEPLOYMENT")]
        deployment: PathBuf,
    },
    /// Run an unattended arbitrator: watch the chain for asserted results (on-chain jobs and
    /// opened batch records), replay each job whose record it can get and whose model it has,
    /// and against a wrong one file a bonded claim with its own result (`DisputeGame`), draw or
    /// finalize the challenge, play the claim's game to the end and withdraw the bonds it is
    /// owed. With `--coordinator` it also checks jobs before they reach the chain: every job
    /// the coordinator's sampling found disputed (`GET /v1/disputes`) and `--sample-ppm` of
    /// every committed batch's other records (`GET /v1/batches/{id}`); against a wrong one it
    /// claims at once and opens the record for its claim. Progress is kept in `--db`: restarted
    /// after any stop, even SIGKILL, it carries on (half-played games included). Counters on
    /// `--metrics-addr`/metrics; a log line per move.
    Arbitrate(Box<arbitrate::config::ArbitrateArgs>),
    /// Print the keccak-256 hash of the embedded engine module.
    EngineHash,
}

/// Result of a command: the JSON to print and whether the replay matched.
#[derive(Debug)]
pub struct Outcome {
    /// JSON to print.
    pub json: String,
    /// False when a replay disagreed with its record.
    pub matched: bool,
}

/// A signed receipt, alone or as the `receipt` field of a job (`GET /v1/jobs/{id}`).
fn read_receipt(text: &str) -> Result<SignedReceipt> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(Error::BadReceipt)?;
    let receipt = value.get("receipt").cloned().unwrap_or(value);
    serde_json::from_value(receipt).map_err(Error::BadReceipt)
}

fn read(path: &PathBuf) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::BadOp(format!("{}: {e}", path.display())))
}

/// Runs `work` on a runtime of its own (the commands are synchronous).
fn block_on<T>(work: impl std::future::Future<Output = T>) -> Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Runtime(format!("tokio runtime: {e}")))?;
    Ok(runtime.block_on(work))
}

/// Runs a command.
///
/// # Errors
/// Whatever the command fails with.
pub fn run(cli: &Cli) -> Result<Outcome> {
    match &cli.command {
        Command::Replay { job, model, deployment, rpc_url, limits, leaves } => {
            let record = JobFile::from_json(&read(job)?)?;
            if let Some(deployment) = deployment {
                let rpc_url = rpc_url.as_deref().ok_or_else(|| {
                    Error::BadOp("--deployment needs --rpc-url (or ETH_RPC_URL)".into())
                })?;
                let deployment = Deployment::load(deployment)?;
                block_on(async {
                    let chain = Client::connect_to(rpc_url, &deployment, None).await?;
                    check::registered_engine(&chain, &deployment, record.model_id).await?
                })??;
            }
            let dir = model
                .clone()
                .or_else(|| record.model_dir.clone().map(PathBuf::from))
                .ok_or_else(|| Error::BadOp("no model directory: pass --model".into()))?;
            let report: ReplayReport =
                replay::replay(&Runtime::new()?, &record, &dir, limits.limits(), *leaves)?;
            Ok(Outcome {
                matched: report.matches,
                json: serde_json::to_string_pretty(&report).expect("json"),
            })
        }
        Command::Diff { a, b, model, limits } => {
            let records = [JobFile::from_json(&read(a)?)?, JobFile::from_json(&read(b)?)?];
            let [dir_a, dir_b] = [&records[0], &records[1]].map(|r| {
                model
                    .clone()
                    .or_else(|| r.model_dir.clone().map(PathBuf::from))
                    .ok_or_else(|| Error::BadOp("no model directory: pass --model".into()))
            });
            let (dir_a, dir_b) = (dir_a?, dir_b?);
            let report = diff::diff(
                &Runtime::new()?,
                (&records[0], &dir_a),
                (&records[1], &dir_b),
                limits.limits(),
            )?;
            Ok(Outcome {
                matched: report.identical,
                json: serde_json::to_string_pretty(&report).expect("json"),
            })
        }
        Command::ReplayOp { op: path, limits } => {
            let desc: op::OpDesc = serde_json::from_str(&read(path)?)
                .map_err(|e| Error::BadOp(format!("{}: {e}", path.display())))?;
            let report = op::replay_op(&Runtime::new()?, &desc, limits.limits())?;
            Ok(Outcome { matched: true, json: serde_json::to_string(&report).expect("json") })
        }
        Command::CheckReceipt { receipt, rpc_url, deployment } => {
            let signed = read_receipt(&read(receipt)?)?;
            let deployment = Deployment::load(deployment)?;
            let report = block_on(async {
                let chain = Client::connect_to(rpc_url, &deployment, None).await?;
                check::check_receipt(&chain, &deployment, &signed).await
            })??;
            Ok(Outcome {
                matched: report.ok,
                json: serde_json::to_string_pretty(&report).expect("json"),
            })
        }
        Command::Arbitrate(args) => {
            let config = args.config()?;
            let _ = tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| "info".into()),
                )
                .with_writer(std::io::stderr)
                .try_init();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::Runtime(format!("tokio runtime: {e}")))?;
            runtime.block_on(arbitrate::run(config))?;
            Ok(Outcome { matched: true, json: "{}".into() })
        }
        Command::EngineHash => Ok(Outcome {
            matched: true,
            json: serde_json::json!({ "engine": alloy_primitives::B256::from(engine_hash()) })
                .to_string(),
        }),
    }
}
