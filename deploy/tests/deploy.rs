//! `deploy` against the real test node, in process: the contracts' release wasm (from
//! `ASSAY_CONTRACTS_TARGET_DIR`, which `.ci/test` builds first), deployed, wired and configured,
//! checked through the bindings the services use; a second run sends nothing; the errors people
//! meet (wrong chain, unfunded key, missing wasm) are clear; `deploy size` reports every contract
//! deployable.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, B256, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use assay_deploy::{Config, Error, Funding, ModelArg, Params, SPECS, WasmSource, specs};
use assay_protocol::{
    bindings::{
        IAssayToken, IDisputeGame, IJobMarket, IModelRegistry, IOwnable, ISampling, IStaking,
    },
    codes::Role,
    deployment::Deployment,
};
use assay_test_node::{NodeHandle, genesis};

/// The contracts' release wasm folder. Fails (never skips) with the build command when absent.
fn wasm_dir() -> PathBuf {
    let target = std::env::var_os("ASSAY_CONTRACTS_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts/target"),
        PathBuf::from,
    );
    let dir = target.join("wasm32-unknown-unknown/release");
    let missing: Vec<_> =
        specs::SPECS.iter().map(|s| dir.join(s.wasm)).filter(|p| !p.exists()).collect();
    assert!(
        missing.is_empty(),
        "contract wasm missing: {missing:?}. Build it first: `cd contracts && CARGO_TARGET_DIR={} cargo build --release --target wasm32-unknown-unknown --lib -p assay-token -p assay-staking -p assay-registry -p assay-jobs -p assay-sampling` and export ASSAY_CONTRACTS_TARGET_DIR={} (.ci/test does both)",
        target.display(),
        target.display()
    );
    dir
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("assay-deploy-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

async fn node() -> NodeHandle {
    assay_test_node::spawn(assay_test_node::Config::test()).await.expect("node starts")
}

fn dev_signer() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&genesis::DEV_KEY).expect("dev key")
}

fn provider(node: &NodeHandle) -> DynProvider {
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(dev_signer()))
        .connect_http(node.url().parse().expect("url"))
        .erased()
}

async fn call<C: SolCall>(p: &DynProvider, to: Address, call: C) -> C::Return {
    let tx = TransactionRequest::default().with_to(to).with_input(call.abi_encode());
    C::abi_decode_returns(&p.call(tx).await.expect("call")).expect("decodes")
}

/// A model directory with a made-up model (registration only reads its manifest and chunks).
fn model_dir(dir: &Path, seed: u8) -> B256 {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i as u8).wrapping_mul(seed)).collect();
    let blob = assay_engine::model::ModelWriter::new().bytes("data", &data).finish();
    assay_protocol::model_dir::ModelDir::write(dir, &blob, &[]).expect("model dir").model_id
}

fn config(node: &NodeHandle, out: &Path) -> Config {
    let mut config = Config::new(node.url(), dev_signer());
    config.wasm = WasmSource::Dir(wasm_dir());
    config.out = Some(out.to_owned());
    config
}

#[tokio::test]
async fn deploys_wires_configures_and_a_second_run_is_a_no_op() {
    let node = node().await;
    let dir = scratch("full");
    let out = dir.join("deployment.json");
    let minilm = model_dir(&dir.join("minilm"), 3);
    let mut config = config(&node, &out);
    config.models = vec![ModelArg { name: "minilm".into(), dir: dir.join("minilm") }];

    let report = assay_deploy::run_with_report(&config).await.expect("deploys");
    let m = &report.manifest;
    assert_eq!(m.chain_id, 412_346);
    assert!(m.deploy_block > 0);
    assert_eq!(Deployment::load(&out).expect("written"), *m);
    for spec in SPECS {
        assert!(report.deployed.contains(&spec.name.to_owned()), "{} deployed", spec.name);
    }
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    let p = provider(&node);
    for (name, address) in &m.contracts {
        let code = p.get_code_at(*address).await.expect("code");
        assert!(code.starts_with(&[0xef, 0xf0]), "{name} is a Stylus program");
    }
    let (token, staking, registry) = (
        m.contract(specs::TOKEN).unwrap(),
        m.contract(specs::STAKING).unwrap(),
        m.contract(specs::REGISTRY).unwrap(),
    );
    let (market, sampling, game) = (
        m.contract(specs::JOB_MARKET).unwrap(),
        m.contract(specs::SAMPLING).unwrap(),
        m.contract(specs::DISPUTE_GAME).unwrap(),
    );
    // Staking, both halves of the job market and the dispute game are over one contract's code
    // limit: root programs over fragments.
    for program in [staking, market, sampling, game] {
        assert_eq!(&p.get_code_at(program).await.unwrap()[..3], &[0xef, 0xf0, 0x02]);
    }

    // Wiring and parameters, read back through the bindings.
    let deployer = genesis::DEV_ACCOUNT;
    let params = Params::default_params();
    assert_eq!(call(&p, token, IOwnable::ownerCall {}).await, deployer);
    assert_eq!(call(&p, staking, IOwnable::ownerCall {}).await, deployer);
    assert_eq!(call(&p, staking, IStaking::tokenCall {}).await, token);
    assert_eq!(call(&p, registry, IModelRegistry::stakingCall {}).await, staking);
    assert_eq!(
        call(&p, staking, IStaking::minStakeCall { role: Role::Miner.into() }).await,
        params.staking.min_miner_stake
    );
    assert_eq!(
        call(&p, staking, IStaking::unbondingDelayCall {}).await,
        params.staking.unbonding_delay
    );
    assert_eq!(call(&p, token, IAssayToken::minterCall {}).await, market);
    assert!(call(&p, staking, IStaking::isControllerCall { account: market }).await);
    let contracts = call(&p, market, IJobMarket::contractsCall {}).await;
    assert_eq!(
        (contracts.token, contracts.staking, contracts.registry),
        (token, staking, registry)
    );
    assert_eq!(contracts.sampling, sampling, "JobMarket.setSampling");
    assert!(call(&p, staking, IStaking::isControllerCall { account: sampling }).await);
    let on_chain = call(&p, sampling, ISampling::paramsCall {}).await;
    assert_eq!(on_chain.challengePpm, params.market.challenge_ppm);
    let sampling_contracts = call(&p, sampling, ISampling::contractsCall {}).await;
    assert_eq!(sampling_contracts.disputeGame, game, "Sampling.setDisputeGame");
    let game_config = call(&p, game, IDisputeGame::configCall {}).await;
    assert_eq!(
        (game_config.sampling, game_config.clock, game_config.arityBits),
        (sampling, params.dispute.clock, params.dispute.arity_bits)
    );
    let bond = call(&p, game, IDisputeGame::disputeBondCall {}).await;
    assert_eq!(bond, params.dispute.bond);

    // The model: id from its directory, this build's engine hash, the parameter file's price.
    let info = call(&p, registry, IModelRegistry::modelCall { modelId: minilm }).await;
    assert_eq!(info.owner, deployer);
    assert_eq!(info.engineHash, B256::from(assay_engine_module::engine_hash()));
    assert_eq!(info.pricePerUnit, params.models.price("minilm"));
    assert!(info.active);
    assert_eq!(m.models.len(), 1);
    assert_eq!((m.models[0].name.as_str(), m.models[0].model_id), ("minilm", minilm));

    // Second run: nothing to send, same manifest.
    let block = p.get_block_number().await.unwrap();
    let again = assay_deploy::run_with_report(&config).await.expect("re-run");
    assert!(again.txs.is_empty(), "no transactions: {:?}", again.txs);
    assert!(again.deployed.is_empty());
    assert_eq!(again.manifest, *m);
    assert_eq!(p.get_block_number().await.unwrap(), block);

    // A changed parameter is applied on its own, nothing redeployed.
    config.params.staking.min_miner_stake = params.staking.min_miner_stake * U256::from(2);
    let changed = assay_deploy::run_with_report(&config).await.expect("param change");
    assert!(changed.deployed.is_empty());
    assert_eq!(changed.txs.len(), 1, "{:?}", changed.txs);
    assert!(changed.txs[0].step.contains("setMinStake"));
    assert_eq!(
        call(&p, staking, IStaking::minStakeCall { role: Role::Miner.into() }).await,
        config.params.staking.min_miner_stake
    );

    // A second model joins without touching the first.
    let smol = model_dir(&dir.join("smollm2"), 7);
    config.models.push(ModelArg { name: "smollm2".into(), dir: dir.join("smollm2") });
    let more = assay_deploy::run_with_report(&config).await.expect("another model");
    assert_eq!(more.txs.len(), 1);
    assert_eq!(more.manifest.models.len(), 2);
    assert_eq!(
        call(&p, registry, IModelRegistry::modelCall { modelId: smol }).await.pricePerUnit,
        params.models.price("smollm2")
    );

    // Funding local miners: ETH and ASSAY topped up once, then nothing to do.
    let miners = [Address::repeat_byte(0x51), Address::repeat_byte(0x52)];
    let funding = Funding {
        accounts: miners.to_vec(),
        eth: U256::from(10u64).pow(U256::from(18u64)),
        assay: U256::from(5_000u64) * U256::from(10u64).pow(U256::from(18u64)),
    };
    let txs = assay_deploy::fund(&node.url(), dev_signer(), m, &funding, true).await.unwrap();
    assert_eq!(txs.len(), 4);
    for miner in miners {
        assert_eq!(p.get_balance(miner).await.unwrap(), funding.eth);
        let balance = call(&p, token, IAssayToken::balanceOfCall { account: miner }).await;
        assert_eq!(balance, funding.assay);
    }
    let txs = assay_deploy::fund(&node.url(), dev_signer(), m, &funding, true).await.unwrap();
    assert!(txs.is_empty());
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_reset_chain_gets_everything_deployed_again() {
    let dir = scratch("reset");
    let out = dir.join("deployment.json");
    let first = node().await;
    let before = assay_deploy::run(&config(&first, &out)).await.expect("first deploy");
    first.stop().await.expect("stops");

    // A fresh node has the same chain id but none of the code the manifest lists.
    let second = node().await;
    let report = assay_deploy::run_with_report(&config(&second, &out)).await.expect("redeploy");
    assert_eq!(report.deployed.len(), before.contracts.len());
    let p = provider(&second);
    for address in report.manifest.contracts.values() {
        assert!(!p.get_code_at(*address).await.unwrap().is_empty());
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn errors_are_clear_and_nothing_is_sent() {
    let node = node().await;
    let dir = scratch("errors");
    let p = provider(&node);
    let start = p.get_block_number().await.unwrap();

    // A manifest for another chain.
    let out = dir.join("deployment.json");
    let other = Deployment {
        chain_id: 421_614,
        deploy_block: 1,
        contracts: Default::default(),
        models: vec![],
    };
    other.save(&out).unwrap();
    let err = assay_deploy::run(&config(&node, &out)).await.unwrap_err();
    assert!(matches!(err, Error::WrongChain { expected: 421_614, actual: 412_346, .. }));
    assert!(err.to_string().contains("wrong chain"), "{err}");
    let mut pinned = config(&node, &dir.join("none.json"));
    pinned.expected_chain_id = Some(42_161);
    assert!(matches!(assay_deploy::run(&pinned).await, Err(Error::WrongChain { .. })));

    // An account without ETH.
    let mut unfunded = config(&node, &dir.join("unfunded.json"));
    unfunded.signer = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x77)).unwrap();
    let err = assay_deploy::run(&unfunded).await.unwrap_err().to_string();
    let account = unfunded.signer.address();
    assert!(
        err.contains(&format!("account {account} has 0 ETH on chain 412346; fund it")),
        "{err}"
    );

    // No wasm where it is said to be.
    let mut missing = config(&node, &dir.join("missing.json"));
    missing.wasm = WasmSource::Dir(dir.join("empty"));
    let err = assay_deploy::run(&missing).await.unwrap_err();
    assert!(matches!(err, Error::MissingWasm { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("assay_token.wasm") && text.contains("cargo build --release"), "{text}");

    // Unknown contract name to skip; unreadable model directory.
    let mut skip = config(&node, &dir.join("skip.json"));
    skip.skip = vec!["Nope".into()];
    let err = assay_deploy::run(&skip).await.unwrap_err().to_string();
    assert!(err.contains("Nope") && err.contains("AssayToken"), "{err}");
    skip.skip = vec!["Staking".into()];
    let err = assay_deploy::run(&skip).await.unwrap_err().to_string();
    assert!(err.contains("--skip Staking: the other contracts need it"), "{err}");
    let mut bad_model = config(&node, &dir.join("model.json"));
    bad_model.models = vec![ModelArg { name: "ghost".into(), dir: dir.join("no-such-model") }];
    let err = assay_deploy::run(&bad_model).await.unwrap_err().to_string();
    assert!(err.starts_with("model ghost:"), "{err}");

    assert_eq!(p.get_block_number().await.unwrap(), start, "no transaction was sent");
    std::fs::remove_dir_all(&dir).ok();
}

// The binary runs as a blocking child process while the node serves it from the runtime's
// other worker thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_deploys_with_flags_and_env() {
    let node = node().await;
    let dir = scratch("cli");
    let key = dir.join("dev.key");
    std::fs::write(&key, format!("{}\n", genesis::DEV_KEY)).unwrap();
    let out = dir.join("deployment.json");
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_deploy"))
            .env("ETH_RPC_URL", node.url())
            .env_remove("ASSAY_DEPLOYER_PRIVATE_KEY")
            .args(["--key-file", key.to_str().unwrap(), "--quiet"])
            .arg("--wasm-dir")
            .arg(wasm_dir())
            .arg("--out")
            .arg(&out)
            .args(extra)
            .output()
            .expect("deploy runs")
    };
    let output = run(&["--skip", "JobMarket"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed: Deployment = serde_json::from_slice(&output.stdout).expect("prints the manifest");
    assert_eq!(printed, Deployment::load(&out).unwrap());
    // The market's dependents are skipped with it; the prover stands alone.
    let names: Vec<&str> = printed.contracts.keys().map(String::as_str).collect();
    assert_eq!(names, ["AssayToken", "ModelRegistry", "OneStepProver", "Staking"]);

    let output = run(&["--chain-id", "1"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("wrong chain"));

    // The same settings from a --config file (paths relative to it), then `deploy fund`.
    let config = dir.join("deploy.toml");
    let toml = format!(
        "rpc_url = \"{}\"\nkey_file = \"dev.key\"\nwasm_dir = \"{}\"\nout = \"deployment.json\"\nskip = [\"JobMarket\"]\n",
        node.url(),
        wasm_dir().display()
    );
    std::fs::write(&config, toml).unwrap();
    let bin = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_deploy"));
        cmd.env_remove("ETH_RPC_URL").env_remove("ASSAY_DEPLOYER_PRIVATE_KEY");
        cmd.arg("--config").arg(&config).arg("--quiet");
        cmd
    };
    let output = bin().output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(serde_json::from_slice::<Deployment>(&output.stdout).unwrap(), printed);
    let miner = Address::repeat_byte(0x61);
    let output = bin()
        .args(["fund", "--to", &miner.to_string(), "--eth", "0.5", "--assay", "1000"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let p = provider(&node);
    assert_eq!(p.get_balance(miner).await.unwrap(), U256::from(500_000_000_000_000_000u64));

    // The deployer's key from an encrypted keystore (`--keystore` with `--password-file`, over
    // the file's `key_file`): right password funds, a wrong one names the keystore and shows no
    // secret.
    let mut rng = rand::thread_rng();
    PrivateKeySigner::encrypt_keystore(
        &dir,
        &mut rng,
        genesis::DEV_KEY,
        "keystore pw",
        Some("dev.json"),
    )
    .unwrap();
    let (keystore, password) = (dir.join("dev.json"), dir.join("password"));
    let keystore_fund = |pw: &str, to: Address| {
        std::fs::write(&password, format!("{pw}\n")).unwrap();
        bin()
            .arg("--keystore")
            .arg(&keystore)
            .arg("--password-file")
            .arg(&password)
            .args(["fund", "--to", &to.to_string(), "--eth", "0.25"])
            .output()
            .unwrap()
    };
    let other = Address::repeat_byte(0x62);
    let output = keystore_fund("keystore pw", other);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(p.get_balance(other).await.unwrap(), U256::from(250_000_000_000_000_000u64));
    let output = keystore_fund("not the pw", Address::repeat_byte(0x63));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&keystore.display().to_string()), "{stderr}");
    assert!(stderr.contains("wrong password"), "{stderr}");
    for secret in ["keystore pw", "not the pw", &genesis::DEV_KEY.to_string()[2..10]] {
        assert!(!stderr.contains(secret), "{secret} in {stderr}");
    }
    let token = printed.contract(specs::TOKEN).unwrap();
    assert_eq!(
        call(&p, token, IAssayToken::balanceOfCall { account: miner }).await,
        U256::from(1_000u64) * U256::from(10u64).pow(U256::from(18u64))
    );

    // Sizes without a chain: every contract fits, the job market's halves as root programs.
    let sizes = Command::new(env!("CARGO_BIN_EXE_deploy"))
        .args(["size", "--check", "--wasm-dir"])
        .arg(wasm_dir())
        .output()
        .unwrap();
    assert!(sizes.status.success(), "{}", String::from_utf8_lossy(&sizes.stderr));
    let table = String::from_utf8_lossy(&sizes.stdout);
    for spec in SPECS {
        let row = table.lines().find(|l| l.starts_with(&format!("| {} |", spec.name)));
        let row = row.unwrap_or_else(|| panic!("{} in {table}", spec.name));
        assert!(!row.contains("too large"), "{row}");
    }

    let help = Command::new(env!("CARGO_BIN_EXE_deploy")).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--rpc-url",
        "--private-key",
        "--key-file",
        "--keystore",
        "--wasm-dir",
        "--params",
        "--model",
        "--out",
        "--config",
        "honesty",
    ] {
        assert!(help.contains(flag), "--help mentions {flag}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
