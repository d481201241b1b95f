//! `verifier arbitrate`'s options: flags, environment variables and a TOML file (`--config`),
//! in that order of precedence, then the defaults.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use assay_chain::key::{KeySource, Password};
use assay_protocol::deployment::Deployment;
use clap::Args;
use serde::Deserialize;

use super::{Config, Records};
use crate::{Error, Result, runtime::LimitArgs};

/// Default database file.
const DEFAULT_DB: &str = "assay-arbitrator.sqlite";
/// Default `/metrics` address.
const DEFAULT_METRICS: &str = "127.0.0.1:9464";
/// Default poll interval in milliseconds.
const DEFAULT_POLL_MS: u64 = 1_000;
/// Default share of unflagged batch records replayed, in parts per million.
const DEFAULT_SAMPLE_PPM: u32 = 50_000;

/// Options of `verifier arbitrate`. Each but the replay limits can also be set in the
/// `--config` file under its name with underscores (`rpc_url`, `key_file`, `models`, …); a flag
/// or its environment variable wins over the file.
#[derive(Debug, Clone, Args)]
pub struct ArbitrateArgs {
    /// TOML file with any of these options (e.g. `rpc_url = "http://…"`, `models = ["…"]`).
    #[arg(long, env = "ASSAY_ARBITRATOR_CONFIG")]
    pub config: Option<PathBuf>,
    /// JSON-RPC endpoint of the chain (required here or in the file).
    #[arg(long, env = "ETH_RPC_URL")]
    pub rpc_url: Option<String>,
    /// Deployment manifest written by `deploy` (required here or in the file).
    #[arg(long, visible_alias = "manifest", env = "ASSAY_DEPLOYMENT")]
    pub deployment: Option<PathBuf>,
    /// File holding the arbitrator's hex private key (it signs claims and moves, and pays the
    /// bonds).
    #[arg(long, env = "ASSAY_ARBITRATOR_KEY_FILE", help_heading = "Key")]
    pub key_file: Option<PathBuf>,
    /// Encrypted JSON keystore (as `cast wallet new` writes), instead of `--key-file`.
    #[arg(long, conflicts_with = "key_file", help_heading = "Key")]
    pub keystore: Option<PathBuf>,
    /// File holding the keystore's password.
    #[arg(long, help_heading = "Key")]
    pub password_file: Option<PathBuf>,
    /// SQLite database of the arbitrator's progress, created if missing [default:
    /// assay-arbitrator.sqlite].
    #[arg(long, env = "ASSAY_ARBITRATOR_DB")]
    pub db: Option<PathBuf>,
    /// Model directory it can replay; repeat for several (at least one, here or in the file).
    /// Each must be registered under this verifier's engine.
    #[arg(long = "model", env = "ASSAY_MODEL_DIRS", value_delimiter = ',')]
    pub models: Vec<PathBuf>,
    /// Directory of job records named `<job key>.json` (a batch record's key, or an on-chain
    /// job's id as 0x-prefixed bytes32).
    #[arg(long, env = "ASSAY_RECORDS_DIR")]
    pub records: Option<PathBuf>,
    /// Coordinator whose API serves its records (`GET /v1/jobs/{id}/record`), its disputes
    /// (`GET /v1/disputes`) and its batches (`GET /v1/batches/{id}`).
    #[arg(long, env = "ASSAY_COORDINATOR_API")]
    pub coordinator: Option<String>,
    /// Parts per million of a committed batch's records the coordinator did not flag as
    /// disputed that are replayed anyway (so a coordinator that hides a mismatch is caught this
    /// often); the flagged ones are always replayed [default: 50000].
    #[arg(long, env = "ASSAY_ARBITRATOR_SAMPLE_PPM", value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub sample_ppm: Option<u32>,
    /// API key for `--coordinator`.
    #[arg(long, env = "ASSAY_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Where to serve `/metrics` (Prometheus text) [default: 127.0.0.1:9464].
    #[arg(long, env = "ASSAY_ARBITRATOR_METRICS")]
    pub metrics_addr: Option<SocketAddr>,
    /// How often the chain is read, in milliseconds [default: 1000].
    #[arg(long, env = "ASSAY_ARBITRATOR_POLL_MS")]
    pub poll_ms: Option<u64>,
    /// Limits.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// The `--config` file: every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    rpc_url: Option<String>,
    deployment: Option<PathBuf>,
    key_file: Option<PathBuf>,
    keystore: Option<PathBuf>,
    password_file: Option<PathBuf>,
    db: Option<PathBuf>,
    #[serde(default)]
    models: Vec<PathBuf>,
    records: Option<PathBuf>,
    coordinator: Option<String>,
    sample_ppm: Option<u32>,
    api_key: Option<String>,
    metrics_addr: Option<SocketAddr>,
    poll_ms: Option<u64>,
}

impl ArbitrateArgs {
    /// These options over the `--config` file's, with the defaults filled in.
    ///
    /// # Errors
    /// [`Error::BadOp`] for an unreadable or invalid file, or a required option set nowhere.
    pub fn merged(&self) -> Result<Self> {
        let file = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| Error::BadOp(format!("config {}: {e}", path.display())))?;
                toml::from_str::<ConfigFile>(&text)
                    .map_err(|e| Error::BadOp(format!("config {}: {e}", path.display())))?
            }
            None => ConfigFile::default(),
        };
        let sample_ppm = self.sample_ppm.or(file.sample_ppm).unwrap_or(DEFAULT_SAMPLE_PPM);
        if sample_ppm > 1_000_000 {
            return Err(Error::BadOp(format!("sample_ppm {sample_ppm} is over 1000000")));
        }
        let merged =
            Self {
                config: self.config.clone(),
                rpc_url: self.rpc_url.clone().or(file.rpc_url),
                deployment: self.deployment.clone().or(file.deployment),
                key_file: self.key_file.clone().or(file.key_file),
                keystore: self.keystore.clone().or(file.keystore),
                password_file: self.password_file.clone().or(file.password_file),
                db: Some(self.db.clone().or(file.db).unwrap_or_else(|| DEFAULT_DB.into())),
                models: if self.models.is_empty() { file.models } else { self.models.clone() },
                records: self.records.clone().or(file.records),
                coordinator: self.coordinator.clone().or(file.coordinator),
                sample_ppm: Some(sample_ppm),
                api_key: self.api_key.clone().or(file.api_key),
                metrics_addr: Some(self.metrics_addr.or(file.metrics_addr).unwrap_or_else(|| {
                    DEFAULT_METRICS.parse().expect("the default address parses")
                })),
                poll_ms: Some(self.poll_ms.or(file.poll_ms).unwrap_or(DEFAULT_POLL_MS)),
                limits: self.limits.clone(),
            };
        if merged.rpc_url.is_none() {
            return Err(Error::BadOp("no chain: give --rpc-url (or rpc_url in --config)".into()));
        }
        if merged.deployment.is_none() {
            return Err(Error::BadOp(
                "no deployment: give --deployment (or deployment in --config)".into(),
            ));
        }
        if merged.models.is_empty() {
            return Err(Error::BadOp("no model: give --model (or models in --config)".into()));
        }
        Ok(merged)
    }

    /// The arbitrator's configuration: the options merged, the key and the deployment loaded.
    ///
    /// # Errors
    /// As [`Self::merged`]; [`Error::BadOp`] without a key, [`Error::Key`] when it cannot be
    /// read, [`Error::Deployment`].
    pub fn config(&self) -> Result<Config> {
        let o = self.merged()?;
        let source = match (&o.key_file, &o.keystore, &o.password_file) {
            (Some(_), Some(_), _) => {
                return Err(Error::BadOp("give one of --key-file and --keystore".into()));
            }
            (Some(file), None, _) => KeySource::File(file.clone()),
            (None, Some(path), Some(password)) => KeySource::Keystore {
                path: path.clone(),
                password: Password::File(password.clone()),
            },
            (None, Some(_), None) => {
                return Err(Error::BadOp("--keystore needs --password-file".into()));
            }
            (None, None, _) => {
                return Err(Error::BadOp(
                    "no key: give --key-file (or ASSAY_ARBITRATOR_KEY_FILE) or --keystore".into(),
                ));
            }
        };
        let key = source.load()?;
        let (Some(rpc_url), Some(deployment)) = (o.rpc_url, o.deployment) else {
            unreachable!("merged checks both");
        };
        Ok(Config {
            rpc_url,
            deployment: Deployment::load(&deployment)?,
            key,
            db: o.db.unwrap_or_else(|| DEFAULT_DB.into()),
            records: Records {
                dir: o.records,
                coordinator: o.coordinator.map(|url| (url, o.api_key)),
            },
            models: o.models,
            metrics: o.metrics_addr,
            poll: Duration::from_millis(o.poll_ms.unwrap_or(DEFAULT_POLL_MS)),
            limits: o.limits.limits(),
            sample_ppm: o.sample_ppm.unwrap_or(DEFAULT_SAMPLE_PPM),
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    fn args(argv: &[&str]) -> super::ArbitrateArgs {
        let mut all = vec!["verifier", "arbitrate"];
        all.extend_from_slice(argv);
        match Cli::parse_from(all).command {
            Command::Arbitrate(args) => *args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_file_fills_what_flags_leave_out_and_flags_win() {
        let dir = tempfile::tempdir().expect("a directory");
        let file = dir.path().join("arbitrator.toml");
        std::fs::write(
            &file,
            "rpc_url = \"http://file:8547\"\ndeployment = \"file.json\"\nmodels = [\"a\", \"b\"]\n\
             sample_ppm = 7\npoll_ms = 250\ncoordinator = \"http://c:8080\"\n",
        )
        .unwrap();
        let path = file.to_str().unwrap();
        let m = args(&["--config", path, "--rpc-url", "http://flag:8547"]).merged().unwrap();
        assert_eq!(m.rpc_url.as_deref(), Some("http://flag:8547"), "the flag wins");
        assert_eq!(m.deployment, Some("file.json".into()));
        assert_eq!(m.models, vec![std::path::PathBuf::from("a"), "b".into()]);
        assert_eq!((m.sample_ppm, m.poll_ms), (Some(7), Some(250)));
        assert_eq!(m.coordinator.as_deref(), Some("http://c:8080"));
        assert_eq!(m.db, Some("assay-arbitrator.sqlite".into()), "the default");
        assert_eq!(m.metrics_addr, Some("127.0.0.1:9464".parse().unwrap()));
        let m = args(&["--config", path, "--model", "c", "--sample-ppm", "9"]).merged().unwrap();
        assert_eq!((m.models, m.sample_ppm), (vec!["c".into()], Some(9)));
        // `--manifest` names the deployment too.
        let m = args(&["--config", path, "--manifest", "flag.json"]).merged().unwrap();
        assert_eq!(m.deployment, Some("flag.json".into()));

        std::fs::write(&file, "rpc_urll = \"typo\"\n").unwrap();
        let typo = args(&["--config", path]).merged().unwrap_err().to_string();
        assert!(typo.contains("unknown field `rpc_urll`"), "{typo}");
        std::fs::write(&file, "sample_ppm = 2000000\n").unwrap();
        let over = args(&["--config", path, "--rpc-url", "u", "--deployment", "d", "--model", "m"]);
        assert!(over.merged().unwrap_err().to_string().contains("is over 1000000"));
        let none = args(&["--model", "m", "--deployment", "d"]).merged().unwrap_err().to_string();
        assert!(none.contains("no chain: give --rpc-url"), "{none}");
    }
}
