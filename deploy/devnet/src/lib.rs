//! The whole Assay network on one machine: the test node (chain id 412346), the contracts
//! deployed and wired and the coordinator's OpenAI-compatible API in this process, and staked
//! workers serving the bundled models as child processes, each under a memory limit and
//! restarted when it dies ([`network::start`], [`workers`]); [`demo::run`] sends a batch of
//! requests and reports what the network did with them, with the dispute games the workers
//! played ([`games`]). The `devnet` binary wraps both; the
//! end-to-end tests use them directly.

pub mod demo;
pub mod games;
pub mod network;
pub mod workers;

use std::path::PathBuf;

use clap::Parser;

/// Runs a local Assay network: test node, contracts, coordinator and workers.
#[derive(Debug, Parser)]
#[command(name = "devnet", version, about, long_about = None)]
pub struct Options {
    /// Folder for the deployment manifest, the coordinator's SQLite database, converted models,
    /// the workers' key files, their logs (`logs/worker-N.log`) and the job inputs they keep for
    /// dispute games (`state/worker-N/`), and the arbitrator's key, database and log.
    #[arg(long, env = "ASSAY_DEVNET_DIR", default_value = ".devnet")]
    pub data_dir: PathBuf,
    /// all-MiniLM-L6-v2 safetensors folder (from `worker/scripts/fetch-models.sh`).
    #[arg(long, env = "ASSAY_MINILM_DIR")]
    pub minilm: PathBuf,
    /// SmolLM2-135M-Instruct GGUF file (from `worker/scripts/fetch-models.sh`).
    #[arg(long, env = "ASSAY_SMOLLM2_GGUF")]
    pub smollm2: PathBuf,
    /// Folder holding the contracts' release wasm (built from `contracts/` when not given).
    #[arg(long, env = "ASSAY_WASM_DIR")]
    pub wasm_dir: Option<PathBuf>,
    /// Port of the chain's JSON-RPC.
    #[arg(long, default_value_t = 8547)]
    pub rpc_port: u16,
    /// Port of the coordinator's HTTP API.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Workers to start (each a staked miner with its own key, anvil accounts 1..), each a
    /// `worker run` process restarted when it dies.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=9))]
    pub workers: u8,
    /// The `worker` binary the workers run [default: `worker` next to this executable; build
    /// it with `cargo build -p assay-worker --bin worker`].
    #[arg(long, env = "ASSAY_WORKER_BIN")]
    pub worker_bin: Option<PathBuf>,
    /// Address-space limit of each worker process (`RLIMIT_AS`; units KiB, MiB, GiB): a
    /// worker over it fails its allocation and dies alone, and is restarted. A worker serving
    /// the bundled models peaks at about 0.5 GiB.
    #[arg(long, default_value = workers::DEFAULT_MEMORY_LIMIT, value_parser = workers::parse_size)]
    pub worker_memory_limit: u64,
    /// Of those, how many cheat (answer a wrong output under a valid receipt, and reveal wrong
    /// hashes as validators), to watch disputes happen.
    #[arg(long, default_value_t = 0)]
    pub dishonest: u8,
    /// Probability that a job is re-executed by validators.
    #[arg(long, default_value_t = 0.3)]
    pub challenge_probability: f64,
    /// Probability, in parts per million, that the on-chain draw challenges a settled job record
    /// [default: the parameter file's, 20000]. Must keep the honesty condition.
    #[arg(long)]
    pub chain_challenge_ppm: Option<u32>,
    /// Do not start the arbitrator (`verifier arbitrate`, next to the worker binary), which
    /// replays every result opened on chain and claims against wrong ones with a bond.
    #[arg(long = "no-arbitrator", action = clap::ArgAction::SetFalse)]
    pub arbitrator: bool,
    /// Send a batch of chat and embedding requests, print a report and exit.
    #[arg(long)]
    pub demo: bool,
    /// Requests of each kind the demo sends.
    #[arg(long, default_value_t = 6)]
    pub demo_jobs: usize,
}
