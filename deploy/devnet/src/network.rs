//! Bringing the network up: models, chain, contracts, miners, coordinator, workers (child
//! processes, see [`crate::workers`]).

use std::{
    ffi::OsString,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use assay_chain::Key;
use assay_deploy::{Funding, ModelArg, WasmSource};
use assay_protocol::{codes::Role, deployment::Deployment};
use assay_test_node::genesis::{ANVIL_ACCOUNTS, DEV_KEY};
use assay_worker::chain::Registration;
use eyre::{Result, WrapErr, bail};
use serde_json::Value;

use crate::{
    Options,
    workers::{self, Spec, Supervisor},
};

/// The API key the local coordinator accepts.
pub const API_KEY: &str = assay_coordinator::DEV_API_KEY;

/// A running local network.
pub struct Network {
    /// The chain.
    pub node: assay_test_node::NodeHandle,
    /// The coordinator.
    pub coordinator: assay_coordinator::Handle,
    /// Where the contracts are.
    pub manifest: Deployment,
    /// Worker addresses and whether each cheats.
    pub workers: Vec<(Address, bool)>,
    /// Readable model names served.
    pub models: Vec<String>,
    /// Each worker process's memory limit in bytes.
    pub worker_memory_limit: u64,
    /// The arbitrator's `/metrics` URL, when one runs.
    pub arbitrator_metrics: Option<String>,
    processes: Supervisor,
}

fn step(text: &str) {
    println!("==> {text}");
}

/// Seconds of the batch window and of the validators' commit and reveal phases on the local
/// chain (the built-in parameters use minutes).
pub const SETTLEMENT_WINDOW_SECS: u64 = 10;

/// How long a job the coordinator's sampling found disputed waits for a bonded claim on the
/// local chain before it is batched anyway (the built-in default is a minute).
pub const ESCALATION_WAIT_MS: u64 = 15_000;

/// Each side's clock in a dispute game on the local chain (the built-in parameters give an
/// hour): the workers play their moves within seconds, and a side that stops loses within two
/// minutes.
pub const DISPUTE_CLOCK_SECS: u64 = 120;

fn deployer_key() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&DEV_KEY).expect("the dev key is valid")
}

/// The local coordinator's key: fixed, so a restarted network reuses the same account.
fn coordinator_key() -> PrivateKeySigner {
    let secret = alloy_primitives::keccak256(b"assay devnet coordinator");
    PrivateKeySigner::from_bytes(&secret).expect("a keccak digest is a valid key")
}

/// The local arbitrator's key: fixed, like the coordinator's.
fn arbitrator_key() -> PrivateKeySigner {
    let secret = alloy_primitives::keccak256(b"assay devnet arbitrator");
    PrivateKeySigner::from_bytes(&secret).expect("a keccak digest is a valid key")
}

/// Port of the arbitrator's `/metrics` when the coordinator's port is fixed (next to it);
/// otherwise a free one.
fn arbitrator_port(api_port: u16) -> Result<u16> {
    if api_port != 0 {
        return Ok(api_port.wrapping_add(1464));
    }
    let socket = std::net::TcpListener::bind("127.0.0.1:0").wrap_err("finding a free port")?;
    Ok(socket.local_addr().wrap_err("finding a free port")?.port())
}

/// The arbitrator's process (`verifier arbitrate`, next to the worker binary), funded with ETH
/// for its bonds, replaying both models and reading the coordinator's records; returns it and
/// its `/metrics` URL.
async fn arbitrator(
    args: &Options,
    worker_bin: &Path,
    (rpc_url, coordinator_url): (&str, String),
    manifest: &Deployment,
    (minilm, smollm2): (&Path, &Path),
) -> Result<(Spec, String)> {
    let bin = worker_bin.with_file_name("verifier");
    if !bin.is_file() {
        bail!(
            "the verifier binary {} is missing: build it with `cargo build -p assay-verifier --bin \
             verifier` (add --release for a release devnet), or start with --no-arbitrator",
            bin.display()
        );
    }
    let key = arbitrator_key();
    let funding = Funding {
        accounts: vec![key.address()],
        eth: U256::from(10u128.pow(19)),
        assay: U256::ZERO,
    };
    assay_deploy::fund(rpc_url, deployer_key(), manifest, &funding, true)
        .await
        .wrap_err("funding the arbitrator")?;
    let key_file = args.data_dir.join("keys/arbitrator.key");
    write_key(&key_file, &key)?;
    let db = args.data_dir.join("arbitrator.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        std::fs::remove_file(format!("{}{suffix}", db.display())).ok();
    }
    let port = arbitrator_port(args.port)?;
    step(&format!(
        "arbitrator {} (verifier arbitrate; metrics on 127.0.0.1:{port})",
        key.address()
    ));
    let mut run: Vec<OsString> = vec!["arbitrate".into()];
    run.extend(["--rpc-url".into(), rpc_url.into()]);
    run.extend(["--deployment".into(), args.data_dir.join("deployment.json").into()]);
    run.extend(["--key-file".into(), key_file.into(), "--db".into(), db.into()]);
    run.extend(["--model".into(), minilm.into(), "--model".into(), smollm2.into()]);
    run.extend(["--coordinator".into(), coordinator_url.into()]);
    run.extend(["--api-key".into(), API_KEY.into()]);
    run.extend(["--metrics-addr".into(), format!("127.0.0.1:{port}").into()]);
    let spec = Spec {
        name: "arbitrator".into(),
        bin,
        args: run,
        // No address-space limit: wasmtime reserves a 4 GiB guard region per instance; the
        // replay's real memory is capped by the verifier's --max-memory-mib.
        memory_limit: libc::RLIM_INFINITY,
        log: args.data_dir.join("logs/arbitrator.log"),
    };
    Ok((spec, format!("http://127.0.0.1:{port}/metrics")))
}

fn write_key(path: &Path, key: &PrivateKeySigner) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    }
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .wrap_err_with(|| format!("writing {}", path.display()))?;
    std::io::Write::write_all(&mut file, alloy_primitives::hex::encode(key.to_bytes()).as_bytes())?;
    Ok(())
}

/// Registers `key` as a coordinator in Staking with `amount` of its own ASSAY.
async fn stake_coordinator(
    rpc_url: &str,
    manifest: &Deployment,
    key: &PrivateKeySigner,
    amount: U256,
) -> Result<()> {
    use alloy_network::{EthereumWallet, TransactionBuilder};
    use alloy_provider::{Provider, ProviderBuilder};
    use alloy_sol_types::SolCall;
    use assay_protocol::bindings::{IAssayToken, IStaking};

    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(key.clone()))
        .connect_http(rpc_url.parse().wrap_err("rpc url")?);
    let staking = manifest.contract("Staking")?;
    let token = manifest.contract("AssayToken")?;
    let calls: [(Address, Vec<u8>); 2] = [
        (token, IAssayToken::approveCall { spender: staking, value: amount }.abi_encode()),
        (
            staking,
            IStaking::registerOperatorCall { role: Role::Coordinator.into(), amount }.abi_encode(),
        ),
    ];
    for (to, input) in calls {
        let tx = alloy_rpc_types_eth::TransactionRequest::default()
            .with_from(key.address())
            .with_to(to)
            .with_input(input);
        let receipt = provider.send_transaction(tx).await?.get_receipt().await?;
        if !receipt.status() {
            bail!("staking the coordinator: transaction {} reverted", receipt.transaction_hash);
        }
    }
    Ok(())
}

/// Interval between blocks once the network runs.
const BLOCK_TIME_MS: u64 = 250;

async fn set_interval_mining(rpc_url: &str, millis: u64) -> Result<()> {
    use alloy_provider::{Provider, ProviderBuilder};
    let provider = ProviderBuilder::new().connect_http(rpc_url.parse().wrap_err("rpc url")?);
    let _: serde_json::Value = provider
        .raw_request("evm_setIntervalMining".into(), (millis,))
        .await
        .wrap_err("switching the test node to interval mining")?;
    Ok(())
}

/// Converts a published model into the engine's format unless that was done before.
fn engine_model(from: &Path, out: &Path) -> Result<()> {
    if assay_protocol::model_dir::ModelDir::open(out).is_ok() {
        println!("    {} (already converted)", out.display());
        return Ok(());
    }
    let m = assay_convert::convert(from, out)
        .wrap_err_with(|| format!("converting {} into {}", from.display(), out.display()))?;
    println!("    {} -> {} (model id {})", from.display(), out.display(), m.model_id);
    Ok(())
}

/// Starts everything, in order, printing progress.
pub async fn start(args: &Options) -> Result<Network> {
    let worker_bin = workers::find_worker_bin(args.worker_bin.as_deref())?;
    std::fs::create_dir_all(&args.data_dir)
        .wrap_err_with(|| format!("creating {}", args.data_dir.display()))?;
    // The workers' logs are per run.
    std::fs::remove_dir_all(args.data_dir.join("logs")).ok();
    step("bundled models in the engine's integer format");
    let minilm = args.data_dir.join("models/minilm");
    let smollm2 = args.data_dir.join("models/smollm2");
    engine_model(&args.minilm, &minilm)?;
    engine_model(&args.smollm2, &smollm2)?;

    step(&format!("test node (chain id 412346) on 127.0.0.1:{}", args.rpc_port));
    let node_config = assay_test_node::Config {
        print_banner: false,
        ..assay_test_node::Config::default().with_port(args.rpc_port)
    };
    let node = assay_test_node::spawn(node_config)
        .await
        .wrap_err_with(|| format!("starting the test node on port {}", args.rpc_port))?;
    let rpc_url = node.url();
    println!("    {rpc_url}");

    step("contracts: deploy, activate, wire, parameters, models");
    // The chain is new on every start, so is the deployment.
    let manifest_path = args.data_dir.join("deployment.json");
    std::fs::remove_file(&manifest_path).ok();
    let deployer = deployer_key();
    let mut deploy = assay_deploy::Config::new(rpc_url.clone(), deployer.clone());
    if let Some(dir) = &args.wasm_dir {
        deploy.wasm = WasmSource::Dir(dir.clone());
    }
    deploy.models = vec![
        ModelArg { name: "minilm".into(), dir: minilm.clone() },
        ModelArg { name: "smollm2".into(), dir: smollm2.clone() },
    ];
    deploy.out = Some(manifest_path.clone());
    // Short on-chain windows so a local demo sees its batches settle within a minute.
    deploy.params.market.batch_window = SETTLEMENT_WINDOW_SECS;
    deploy.params.market.commit_timeout = SETTLEMENT_WINDOW_SECS;
    deploy.params.market.reveal_timeout = SETTLEMENT_WINDOW_SECS;
    deploy.params.dispute.clock = DISPUTE_CLOCK_SECS;
    if let Some(ppm) = args.chain_challenge_ppm {
        deploy.params.market.challenge_ppm = ppm;
    }
    let min_stake = deploy.params.staking.min_miner_stake;
    let coordinator_stake = deploy.params.staking.min_coordinator_stake;
    let report = assay_deploy::run_with_report(&deploy).await.wrap_err("deploying")?;
    for (name, why) in &report.skipped {
        println!("    warning: {name} not deployed: {why}");
    }
    let manifest = report.manifest;

    let keys: Vec<Key> = ANVIL_ACCOUNTS
        .iter()
        .skip(1)
        .take(usize::from(args.workers))
        .map(|(_, key)| Key::from_hex(&key.to_string(), "anvil account").expect("valid"))
        .collect();
    step(&format!("{} miners: fund, stake, serve both models", keys.len()));
    let stake = min_stake.saturating_mul(U256::from(2));
    let funding = Funding {
        accounts: keys.iter().map(Key::address).collect(),
        eth: U256::from(10u128.pow(19)),
        assay: stake,
    };
    assay_deploy::fund(&rpc_url, deployer, &manifest, &funding, true).await.wrap_err("funding")?;
    let model_ids: Vec<_> = manifest.models.iter().map(|m| m.model_id).collect();
    for key in &keys {
        let reg = Registration {
            rpc_url: rpc_url.clone(),
            manifest: manifest.clone(),
            key: key.clone(),
            models: model_ids.clone(),
            stake: Some(stake),
        };
        assay_worker::chain::register(&reg, |line| println!("    {line}"))
            .await
            .wrap_err_with(|| format!("registering miner {}", key.address()))?;
    }

    step("coordinator account: fund, stake (it escrows the fees of the batches it settles)");
    let coordinator_key = coordinator_key();
    let funding = Funding {
        accounts: vec![coordinator_key.address()],
        eth: U256::from(10u128.pow(20)),
        assay: coordinator_stake,
    };
    assay_deploy::fund(&rpc_url, deployer_key(), &manifest, &funding, true)
        .await
        .wrap_err("funding the coordinator")?;
    stake_coordinator(&rpc_url, &manifest, &coordinator_key, coordinator_stake).await?;
    // From here on blocks come every 250 ms, as on Arbitrum One, so the chain's clock and block
    // number move while the network is quiet (settlement waits on both).
    set_interval_mining(&rpc_url, BLOCK_TIME_MS).await?;
    let key_file = args.data_dir.join("coordinator.key");
    write_key(&key_file, &coordinator_key)?;
    println!("    {}", coordinator_key.address());

    step(&format!("coordinator on 127.0.0.1:{}", args.port));
    let db = args.data_dir.join("coordinator.db");
    for suffix in ["", "-wal", "-shm"] {
        std::fs::remove_file(format!("{}{suffix}", db.display())).ok();
    }
    let coordinator = assay_coordinator::spawn(assay_coordinator::Config {
        listen: SocketAddr::from(([127, 0, 0, 1], args.port)),
        database_url: format!("sqlite://{}?mode=rwc", db.display()),
        challenge_probability: args.challenge_probability,
        rpc_url: Some(rpc_url.clone()),
        deployment: Some(manifest_path.clone()),
        key_file: Some(key_file),
        batch_interval_ms: 2_000,
        // The local arbitrator checks a dispute within seconds: a disputed job it found right
        // is batched after this wait, one it claimed against at once.
        escalation_wait_ms: ESCALATION_WAIT_MS,
        ..assay_coordinator::Config::default()
    })
    .await
    .wrap_err("starting the coordinator")?;

    let limit = workers::show_size(args.worker_memory_limit);
    step(&format!(
        "{} worker processes, {limit} of memory each (each loads the models and runs a short \
         benchmark; logs in {})",
        keys.len(),
        args.data_dir.join("logs").display()
    ));
    println!("    {}", worker_bin.display());
    let mut workers = Vec::new();
    let mut specs = Vec::new();
    for (i, key) in keys.into_iter().enumerate() {
        let dishonest = i < usize::from(args.dishonest);
        workers.push((key.address(), dishonest));
        let key_file = args.data_dir.join(format!("keys/worker-{i}.key"));
        let (_, secret) = ANVIL_ACCOUNTS[i + 1];
        write_key(&key_file, &PrivateKeySigner::from_bytes(&secret).expect("an anvil key"))?;
        let mut run: Vec<OsString> = vec!["run".into(), "--coordinator".into()];
        run.push(coordinator.workers_url().into());
        for model in [&minilm, &smollm2] {
            run.extend(["--model".into(), model.into()]);
        }
        run.extend(["--key-file".into(), key_file.into()]);
        run.extend(["--shutdown-grace".into(), "10".into()]);
        run.extend(["--rpc-url".into(), rpc_url.clone().into()]);
        run.extend(["--deployment".into(), manifest_path.clone().into()]);
        let state_dir = args.data_dir.join(format!("state/worker-{i}"));
        std::fs::remove_dir_all(&state_dir).ok();
        run.extend(["--state-dir".into(), state_dir.into()]);
        if dishonest {
            run.push("--dishonest".into());
        }
        specs.push(Spec {
            name: format!("worker {i}"),
            bin: worker_bin.clone(),
            args: run,
            memory_limit: args.worker_memory_limit,
            log: args.data_dir.join(format!("logs/worker-{i}.log")),
        });
    }
    let arbitrator_metrics = if args.arbitrator {
        let urls = (rpc_url.as_str(), coordinator.url());
        let (spec, metrics) =
            arbitrator(args, &worker_bin, urls, &manifest, (&minilm, &smollm2)).await?;
        specs.push(spec);
        Some(metrics)
    } else {
        None
    };
    let mut net = Network {
        arbitrator_metrics,
        node,
        coordinator,
        manifest,
        workers,
        models: vec!["minilm".into(), "smollm2".into()],
        worker_memory_limit: args.worker_memory_limit,
        processes: Supervisor::start(specs),
    };
    net.wait_until_served(Duration::from_secs(300)).await?;
    Ok(net)
}

impl Network {
    /// The coordinator's API base URL.
    pub fn api(&self) -> String {
        format!("{}/v1", self.coordinator.url())
    }

    /// Worker `index`'s process id, while it runs.
    ///
    /// # Panics
    /// When there is no such worker.
    pub fn worker_pid(&self, index: usize) -> Option<u32> {
        self.processes.state(index).pid
    }

    /// How many processes worker `index` has had (1 until it is restarted).
    ///
    /// # Panics
    /// When there is no such worker.
    pub fn worker_starts(&self, index: usize) -> u32 {
        self.processes.state(index).starts
    }

    /// Worker `index`'s log file (its processes' stdout and stderr, appended).
    ///
    /// # Panics
    /// When there is no such worker.
    pub fn worker_log(&self, index: usize) -> PathBuf {
        self.processes.log(index).to_path_buf()
    }

    /// How many workers serve every model, per the coordinator's `GET /v1/models`.
    ///
    /// # Errors
    /// When the coordinator does not answer.
    pub async fn workers_serving(&self) -> Result<usize> {
        let models: Value = reqwest::Client::new()
            .get(format!("{}/models", self.api()))
            .bearer_auth(API_KEY)
            .send()
            .await?
            .json()
            .await?;
        let serving = self.models.iter().map(|name| {
            models["data"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|m| m["id"] == name.as_str())
                .and_then(|m| m["assay"]["workers"].as_u64())
                .unwrap_or(0)
        });
        Ok(usize::try_from(serving.min().unwrap_or(0)).unwrap_or(usize::MAX))
    }

    /// Waits until every worker serves every model.
    async fn wait_until_served(&mut self, limit: Duration) -> Result<()> {
        let want = self.workers.len();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if self.workers_serving().await? >= want {
                return Ok(());
            }
            if let Some((i, how)) = self.processes.first_exit() {
                let log = self.processes.log(i);
                bail!(
                    "{} exited before the network was up: {how}; the end of {}:\n{}",
                    self.processes.name(i),
                    log.display(),
                    workers::log_tail(log, 20)
                );
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "workers did not connect within {limit:?} (logs in {})",
                    self.worker_log(0).parent().unwrap_or(Path::new(".")).display()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Prints where everything is and how to use it.
    pub fn print_banner(&self) {
        let api = self.api();
        println!();
        println!("Assay local network is up");
        println!("  chain         {} (chain id {})", self.node.url(), self.manifest.chain_id);
        for (name, address) in &self.manifest.contracts {
            println!("  {name:<14}{address}");
        }
        for (i, (address, dishonest)) in self.workers.iter().enumerate() {
            let note = if *dishonest { " (dishonest)" } else { "" };
            let pid = self.worker_pid(i).map(|p| format!("pid {p}, ")).unwrap_or_default();
            println!(
                "  worker {i}      {address}{note} ({pid}log {})",
                self.worker_log(i).display()
            );
        }
        println!(
            "  workers run as child processes, {} of memory each; one that dies is restarted",
            workers::show_size(self.worker_memory_limit)
        );
        if let Some(metrics) = &self.arbitrator_metrics {
            println!(
                "  arbitrator    {} (verifier arbitrate; {metrics}; log {})",
                arbitrator_key().address(),
                self.processes.log(self.workers.len()).display()
            );
        }
        println!("  API           {api}   (key: {API_KEY})");
        println!();
        println!("Try it:");
        println!(
            "  curl {api}/chat/completions -H 'Authorization: Bearer {API_KEY}' \
             -H 'Content-Type: application/json' \
             -d '{{\"model\": \"smollm2\", \"messages\": [{{\"role\": \"user\", \"content\": \"What is the capital of France?\"}}], \"max_tokens\": 16}}'"
        );
        println!();
        println!("  python3 - <<'PY'");
        println!("  from openai import OpenAI");
        println!("  client = OpenAI(base_url=\"{api}\", api_key=\"{API_KEY}\")");
        println!(
            "  r = client.chat.completions.create(model=\"smollm2\", max_tokens=16, \
             messages=[{{\"role\": \"user\", \"content\": \"Name a colour.\"}}])"
        );
        println!("  print(r.choices[0].message.content)");
        println!(
            "  print(len(client.embeddings.create(model=\"minilm\", input=\"hello\").data[0].embedding))"
        );
        println!("  PY");
        println!();
    }

    /// Stops the workers (SIGTERM: they finish in-flight jobs; SIGKILL after
    /// [`workers::STOP_GRACE`]), then the coordinator and the chain.
    pub async fn shutdown(self) {
        self.processes.stop().await;
        self.coordinator.shutdown().await;
        drop(self.node);
    }
}
