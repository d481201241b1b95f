//! The binary's flags. Each has an `ASSAY_COORDINATOR_*` variable; precedence is flags > env >
//! the `--config` TOML file > defaults.

use std::{net::SocketAddr, path::PathBuf};

use alloy_primitives::B256;
use clap::Parser;

use crate::{Config, Result};

/// Assay coordinator: OpenAI-compatible inference API in front of staked workers, with Proof of
/// Sampling (sampled re-execution by validators that commit, then reveal).
///
/// Serves `POST /v1/chat/completions` (with `stream: true` as SSE), `POST /v1/embeddings`,
/// `GET /v1/models`, `GET /v1/jobs/{id}` (receipt, sampling status: pending, assigned, asserted,
/// challenged, matched, disputed, failed), `GET /v1/flags`, `/health`, `/metrics` (Prometheus),
/// and the worker WebSocket at `/v1/workers`. Requests need `Authorization: Bearer <key>`; with
/// no key configured the dev key `sk-assay-dev` is accepted. Without `--rpc-url` and
/// `--deployment` it runs chain-less: every worker that signs its hello is admitted with equal
/// weight.
#[derive(Debug, Parser)]
#[command(name = "coordinator", version)]
pub struct Args {
    /// TOML file with any of the settings below (keys are the long flag names with `_`).
    #[arg(long, env = "ASSAY_COORDINATOR_CONFIG")]
    pub config: Option<PathBuf>,

    /// HTTP and WebSocket listen address [default: 127.0.0.1:8080].
    #[arg(long, env = "ASSAY_COORDINATOR_LISTEN", help_heading = "Server")]
    pub listen: Option<SocketAddr>,
    /// Accepted API key (repeat, or comma-separate in the variable) [default: sk-assay-dev].
    #[arg(
        long = "api-key",
        env = "ASSAY_COORDINATOR_API_KEYS",
        hide_env_values = true,
        value_delimiter = ',',
        help_heading = "Server"
    )]
    pub api_keys: Vec<String>,
    /// Largest request body in bytes; larger ones get 413 [default: 1048576].
    #[arg(long, env = "ASSAY_COORDINATOR_MAX_BODY_BYTES", help_heading = "Server")]
    pub max_body_bytes: Option<usize>,
    /// Jobs waiting for a worker at once; more get 429 [default: 1024].
    #[arg(long, env = "ASSAY_COORDINATOR_QUEUE_SIZE", help_heading = "Server")]
    pub queue_size: Option<usize>,
    /// Milliseconds a request waits for its result before 504 (the job stays queued) [default: 300000].
    #[arg(long, env = "ASSAY_COORDINATOR_REQUEST_TIMEOUT_MS", help_heading = "Server")]
    pub request_timeout_ms: Option<u64>,
    /// Default `max_tokens` of chat completions [default: 64].
    #[arg(long, env = "ASSAY_COORDINATOR_DEFAULT_MAX_TOKENS", help_heading = "Server")]
    pub default_max_tokens: Option<u32>,
    /// Readable model name for the API: `NAME=0x<model id>` (repeatable).
    #[arg(long = "model", env = "ASSAY_COORDINATOR_MODELS", value_delimiter = ',', value_parser = parse_model, help_heading = "Server")]
    pub models: Vec<(String, B256)>,

    /// Database: `sqlite://FILE?mode=rwc` or `postgres://USER@HOST/DB` [default: sqlite://assay-coordinator.db?mode=rwc].
    #[arg(long, env = "ASSAY_COORDINATOR_DATABASE_URL", help_heading = "Storage")]
    pub database_url: Option<String>,

    /// Probability that a job is challenged, 0..=1 [default: 0.1].
    #[arg(long, env = "ASSAY_COORDINATOR_CHALLENGE_PROBABILITY", help_heading = "Sampling")]
    pub challenge_probability: Option<f64>,
    /// Validators per challenge [default: 2].
    #[arg(long, env = "ASSAY_COORDINATOR_VALIDATORS", help_heading = "Sampling")]
    pub validators: Option<usize>,
    /// Probability of a known-answer canary after a matched job, 0..=1 [default: 0.02].
    #[arg(long, env = "ASSAY_COORDINATOR_CANARY_RATE", help_heading = "Sampling")]
    pub canary_rate: Option<f64>,
    /// Seed of the deterministic draws, 32 bytes hex [default: random per start].
    #[arg(long, env = "ASSAY_COORDINATOR_SEED", help_heading = "Sampling")]
    pub seed: Option<B256>,

    /// Seconds between worker heartbeats; 3 missed drop the worker [default: 5].
    #[arg(long, env = "ASSAY_COORDINATOR_HEARTBEAT_SECS", help_heading = "Workers")]
    pub heartbeat_secs: Option<u64>,
    /// Seconds between re-reads of each worker's on-chain selection weight [default: 30].
    #[arg(long, env = "ASSAY_COORDINATOR_WEIGHTS_REFRESH_SECS", help_heading = "Workers")]
    pub weights_refresh_secs: Option<u64>,
    /// Milliseconds an asserter has before its job is reassigned [default: 120000].
    #[arg(long, env = "ASSAY_COORDINATOR_ASSERT_TIMEOUT_MS", help_heading = "Workers")]
    pub assert_timeout_ms: Option<u64>,
    /// Milliseconds validators have to commit, and again to reveal [default: 120000].
    #[arg(long, env = "ASSAY_COORDINATOR_VALIDATION_TIMEOUT_MS", help_heading = "Workers")]
    pub validation_timeout_ms: Option<u64>,
    /// Asserters tried before a job fails [default: 3].
    #[arg(long, env = "ASSAY_COORDINATOR_MAX_ATTEMPTS", help_heading = "Workers")]
    pub max_attempts: Option<u32>,

    /// JSON-RPC URL of the chain (needs --deployment); without it the coordinator runs chain-less.
    #[arg(long, env = "ETH_RPC_URL", help_heading = "Chain")]
    pub rpc_url: Option<String>,
    /// Deployment file written by `deploy` (contract addresses, models); `--manifest` is an
    /// older name.
    #[arg(long, alias = "manifest", env = "ASSAY_DEPLOYMENT", help_heading = "Chain")]
    pub deployment: Option<PathBuf>,
    /// Chain id signatures are bound to when running chain-less [default: 412346].
    #[arg(long, env = "ASSAY_COORDINATOR_CHAIN_ID", help_heading = "Chain")]
    pub chain_id: Option<u64>,

    /// File holding the coordinator's hex private key. With a chain whose manifest has the job
    /// market, served jobs are settled on chain from this account: batches of job records with
    /// their fees in escrow, sealed, challenged records opened for on-chain validators, the rest
    /// claimed for their miners. It must be a staked coordinator holding ETH for the fees.
    #[arg(long, env = "ASSAY_COORDINATOR_KEY_FILE", help_heading = "Settlement")]
    pub key_file: Option<PathBuf>,
    /// Milliseconds between settlement rounds [default: 10000].
    #[arg(long, env = "ASSAY_COORDINATOR_BATCH_INTERVAL_MS", help_heading = "Settlement")]
    pub batch_interval_ms: Option<u64>,
    /// Most job records per settlement batch [default: 256].
    #[arg(long, env = "ASSAY_COORDINATOR_BATCH_MAX_JOBS", help_heading = "Settlement")]
    pub batch_max_jobs: Option<usize>,
    /// Milliseconds a job this coordinator's sampling found disputed waits for a bonded claim
    /// against its asserter (an arbitrator's, from `GET /v1/disputes`) before its record is
    /// batched anyway; a claim that waits batches it at once and its record is opened for the
    /// claim's dispute game [default: 60000].
    #[arg(long, env = "ASSAY_COORDINATOR_ESCALATION_WAIT_MS", help_heading = "Settlement")]
    pub escalation_wait_ms: Option<u64>,
    /// With --key-file: commit the next epoch's seed to the job market and reveal it once the
    /// epoch starts, so on-chain challenge draws mix in a seed fixed in advance and unknown to
    /// others (a committed seed left unrevealed is slashed) [default: true].
    #[arg(
        long,
        env = "ASSAY_COORDINATOR_EPOCH_SEEDS",
        value_name = "BOOL",
        help_heading = "Settlement"
    )]
    pub epoch_seeds: Option<bool>,
}

fn parse_model(s: &str) -> Result<(String, B256), String> {
    let (name, id) = s.split_once('=').ok_or("expected NAME=0x<model id>")?;
    Ok((name.trim().to_owned(), id.trim().parse().map_err(|e| format!("model id {id}: {e}"))?))
}

impl Args {
    /// The configuration: the file (if any) under these flags and variables.
    ///
    /// # Errors
    /// [`crate::Error::Config`] for an unreadable file or an inconsistent result.
    pub fn into_config(self) -> Result<Config> {
        let mut c = match &self.config {
            Some(path) => Config::from_toml_file(path)?,
            None => Config::default(),
        };
        macro_rules! set {
            ($($field:ident),*) => { $(if let Some(v) = self.$field { c.$field = v; })* };
        }
        set!(
            listen,
            max_body_bytes,
            queue_size,
            request_timeout_ms,
            default_max_tokens,
            database_url,
            challenge_probability,
            validators,
            canary_rate,
            heartbeat_secs,
            weights_refresh_secs,
            assert_timeout_ms,
            validation_timeout_ms,
            max_attempts,
            chain_id,
            batch_interval_ms,
            batch_max_jobs,
            escalation_wait_ms,
            epoch_seeds
        );
        if self.key_file.is_some() {
            c.key_file = self.key_file;
        }
        if self.seed.is_some() {
            c.seed = self.seed;
        }
        if self.rpc_url.is_some() {
            c.rpc_url = self.rpc_url;
        }
        if self.deployment.is_some() {
            c.deployment = self.deployment;
        }
        if !self.api_keys.is_empty() {
            c.api_keys = self.api_keys;
        }
        c.models.extend(self.models);
        c.validate()?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "validators = 5\nqueue_size = 7\n").unwrap();
        let args = Args::try_parse_from([
            "coordinator",
            "--config",
            file.to_str().unwrap(),
            "--queue-size",
            "9",
            "--model",
            "minilm=0x0101010101010101010101010101010101010101010101010101010101010101",
        ])
        .unwrap();
        let c = args.into_config().unwrap();
        assert_eq!((c.validators, c.queue_size), (5, 9));
        assert_eq!(c.models["minilm"], B256::repeat_byte(1));
        assert!(c.epoch_seeds);
        let off = Args::try_parse_from(["coordinator", "--epoch-seeds", "false"]).unwrap();
        assert!(!off.into_config().unwrap().epoch_seeds);
        Args::command().debug_assert();
    }

    /// `--help` names the variables that carry secrets but never prints their values.
    #[test]
    fn help_hides_the_api_keys_value() {
        let command = Args::command();
        let keys = command.get_arguments().find(|a| a.get_id() == "api_keys").expect("--api-key");
        assert_eq!(keys.get_env(), Some(std::ffi::OsStr::new("ASSAY_COORDINATOR_API_KEYS")));
        assert!(keys.is_hide_env_values_set());
    }
}
