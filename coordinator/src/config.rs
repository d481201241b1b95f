//! Configuration: a [`Config`] with defaults and `with_*` builders, read by the binary from a TOML
//! file (`--config`), then `ASSAY_COORDINATOR_*` environment variables and flags
//! (flags > env > file > defaults; see [`crate::cli`]).

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use alloy_primitives::B256;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The API key accepted when none is configured (local networks only).
pub const DEV_API_KEY: &str = "sk-assay-dev";

/// Everything the coordinator needs to run. Field names are the TOML file's keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// HTTP and WebSocket listen address.
    pub listen: SocketAddr,
    /// `sqlite://FILE?mode=rwc` or `postgres://...`.
    pub database_url: String,
    /// Accepted bearer API keys; empty accepts only [`DEV_API_KEY`].
    pub api_keys: Vec<String>,
    /// Probability that an asserted job is challenged, in [0, 1].
    pub challenge_probability: f64,
    /// Validators drawn per challenge (fewer when fewer other workers serve the model).
    pub validators: usize,
    /// Probability, after a matched job, of sending one worker a known-answer canary, in [0, 1].
    pub canary_rate: f64,
    /// Seconds between worker heartbeats; a worker silent for 3 intervals is dropped.
    pub heartbeat_secs: u64,
    /// Seconds between re-reads of a connected worker's selection weight on chain (stake ×
    /// reputation; zero once it is frozen or under-staked, and then it gets no work).
    pub weights_refresh_secs: u64,
    /// Milliseconds an asserter has to return a result before the job is reassigned.
    pub assert_timeout_ms: u64,
    /// Milliseconds validators have to commit, and then again to reveal.
    pub validation_timeout_ms: u64,
    /// Milliseconds an HTTP request waits for its result (the job itself stays queued).
    pub request_timeout_ms: u64,
    /// Attempts (asserters tried) before a job is failed.
    pub max_attempts: u32,
    /// Largest accepted request body, in bytes (413 above).
    pub max_body_bytes: usize,
    /// Jobs waiting for an asserter at once (429 above).
    pub queue_size: usize,
    /// Default `max_tokens` of a chat completion.
    pub default_max_tokens: u32,
    /// Largest `max_tokens` a request may ask for.
    pub max_tokens_limit: u32,
    /// Chain id the worker signatures are bound to when no chain is configured.
    pub chain_id: u64,
    /// JSON-RPC URL of the chain (with `deployment`): stake checks, weights, settlement.
    pub rpc_url: Option<String>,
    /// Deployment file written by `deploy` (`manifest` is an older name of the key).
    #[serde(alias = "manifest")]
    pub deployment: Option<PathBuf>,
    /// Readable model names: `name = "0x<model id>"`.
    pub models: std::collections::BTreeMap<String, B256>,
    /// Seed of the deterministic draws (random per start when unset).
    pub seed: Option<B256>,
    /// File holding the coordinator's hex private key: with a chain whose manifest has the job
    /// market, served jobs are settled on chain from this account (a staked coordinator with
    /// ETH for the fees it escrows). Without it nothing is sent on chain.
    pub key_file: Option<PathBuf>,
    /// Milliseconds between settlement rounds (batch, seal, open or claim, finalize).
    pub batch_interval_ms: u64,
    /// Most job records per settlement batch.
    pub batch_max_jobs: usize,
    /// Milliseconds a job its own sampling found disputed waits for a bonded claim on chain
    /// before its record is batched anyway (a claim that waits batches it at once, and its
    /// record is then opened for the claim).
    pub escalation_wait_ms: u64,
    /// With `key_file`: commit the next epoch's seed to the job market and reveal it once the
    /// epoch starts (DESIGN 3.3), so the market's draws mix in a seed nobody knew in advance.
    pub epoch_seeds: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "sqlite://assay-coordinator.db?mode=rwc".into(),
            api_keys: Vec::new(),
            challenge_probability: 0.1,
            validators: 2,
            canary_rate: 0.02,
            heartbeat_secs: 5,
            weights_refresh_secs: 30,
            assert_timeout_ms: 120_000,
            validation_timeout_ms: 120_000,
            request_timeout_ms: 300_000,
            max_attempts: 3,
            max_body_bytes: 1 << 20,
            queue_size: 1024,
            default_max_tokens: 64,
            max_tokens_limit: 2048,
            chain_id: 412_346,
            rpc_url: None,
            deployment: None,
            models: Default::default(),
            seed: None,
            key_file: None,
            batch_interval_ms: 10_000,
            batch_max_jobs: 256,
            escalation_wait_ms: 60_000,
            epoch_seeds: true,
        }
    }
}

impl Config {
    /// A configuration for tests: port 0, SQLite at `db`, every job challenged, short timeouts.
    pub fn test(db: &std::path::Path) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: format!("sqlite://{}?mode=rwc", db.display()),
            challenge_probability: 1.0,
            canary_rate: 0.0,
            heartbeat_secs: 1,
            assert_timeout_ms: 5_000,
            validation_timeout_ms: 5_000,
            request_timeout_ms: 20_000,
            seed: Some(B256::repeat_byte(0x5e)),
            ..Self::default()
        }
    }

    /// Reads a TOML file (every key optional).
    ///
    /// # Errors
    /// [`Error::Config`] when the file cannot be read or parsed.
    pub fn from_toml_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }

    /// Sets the listen address.
    pub fn with_listen(mut self, listen: SocketAddr) -> Self {
        self.listen = listen;
        self
    }

    /// Sets the database URL.
    pub fn with_database_url(mut self, url: impl Into<String>) -> Self {
        self.database_url = url.into();
        self
    }

    /// Sets the accepted API keys.
    pub fn with_api_keys(mut self, keys: Vec<String>) -> Self {
        self.api_keys = keys;
        self
    }

    /// Sets the challenge probability and the validators per challenge.
    pub fn with_sampling(mut self, probability: f64, validators: usize) -> Self {
        self.challenge_probability = probability;
        self.validators = validators;
        self
    }

    /// Sets the canary rate.
    pub fn with_canary_rate(mut self, rate: f64) -> Self {
        self.canary_rate = rate;
        self
    }

    /// Sets the queue size.
    pub fn with_queue_size(mut self, size: usize) -> Self {
        self.queue_size = size;
        self
    }

    /// Sets the body limit.
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Names a model.
    pub fn with_model(mut self, name: impl Into<String>, id: B256) -> Self {
        self.models.insert(name.into(), id);
        self
    }

    /// The accepted keys: the configured ones, or the dev key.
    pub fn effective_api_keys(&self) -> Vec<String> {
        if self.api_keys.is_empty() { vec![DEV_API_KEY.into()] } else { self.api_keys.clone() }
    }

    /// Probability in parts per million, as the contracts' draw takes it.
    pub(crate) fn ppm(probability: f64) -> u32 {
        (probability.clamp(0.0, 1.0) * f64::from(assay_protocol::math::PPM)).round() as u32
    }

    pub(crate) fn heartbeat(&self) -> Duration {
        Duration::from_secs(self.heartbeat_secs.max(1))
    }

    pub(crate) fn weights_refresh(&self) -> Duration {
        Duration::from_secs(self.weights_refresh_secs.max(1))
    }

    /// Checks ranges and that chain settings come together.
    ///
    /// # Errors
    /// [`Error::Config`] naming the bad setting.
    pub fn validate(&self) -> Result<()> {
        let unit = |name: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(Error::Config(format!("{name} must be within [0, 1], got {v}")))
            }
        };
        unit("challenge_probability", self.challenge_probability)?;
        unit("canary_rate", self.canary_rate)?;
        if self.queue_size == 0 || self.max_attempts == 0 {
            return Err(Error::Config("queue_size and max_attempts must be at least 1".into()));
        }
        if self.rpc_url.is_some() != self.deployment.is_some() {
            return Err(Error::Config("rpc_url and deployment go together (or neither)".into()));
        }
        if self.key_file.is_some() && self.rpc_url.is_none() {
            return Err(Error::Config(
                "key_file settles on chain: it needs rpc_url and deployment".into(),
            ));
        }
        if self.batch_interval_ms == 0 || self.batch_max_jobs == 0 {
            return Err(Error::Config(
                "batch_interval_ms and batch_max_jobs must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_overrides_defaults_and_rejects_unknown_keys() {
        let c: Config = toml::from_str(
            "listen = \"0.0.0.0:9000\"\nchallenge_probability = 0.5\n\
             [models]\nminilm = \"0x0101010101010101010101010101010101010101010101010101010101010101\"\n",
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.challenge_probability, 0.5);
        assert_eq!(c.validators, 2);
        assert_eq!(c.models["minilm"], B256::repeat_byte(1));
        assert!(c.epoch_seeds, "on by default");
        assert!(!toml::from_str::<Config>("epoch_seeds = false").unwrap().epoch_seeds);
        assert!(toml::from_str::<Config>("nope = 1").is_err());
    }

    #[test]
    fn validation_and_dev_key() {
        assert!(Config::default().validate().is_ok());
        assert!(Config::default().with_sampling(1.5, 2).validate().is_err());
        let c = Config { rpc_url: Some("http://x".into()), ..Config::default() };
        assert!(c.validate().is_err());
        assert_eq!(Config::default().effective_api_keys(), vec![DEV_API_KEY.to_string()]);
        assert_eq!(Config::ppm(0.1), 100_000);
        assert_eq!(Config::ppm(1.0), 1_000_000);
    }
}
