//! `worker register` and the readiness check of `worker run` against the project's contracts
//! (AssayToken, Staking, ModelRegistry) on the in-process test node. Needs the contracts' release
//! wasm (`.ci/test` builds it into `$ASSAY_CONTRACTS_TARGET_DIR`); prints `SKIP:` without it.

use std::path::{Path, PathBuf};

use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, B256, U256, hex};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolEvent, SolValue};
use assay_convert::{BERT_CONFIG_KEYS, dir, random::tiny_bert};
use assay_protocol::{
    bindings::{IAssayToken, IModelRegistry},
    deployment::Manifest,
};
use assay_test_node::{genesis, stylus::code};
use assay_worker::{
    Error,
    chain::{Registration, check_ready, register},
    cli::{Cli, Command},
    key::WorkerKey,
};
use clap::Parser;

alloy_sol_types::sol! {
    interface StylusDeployer {
        function deploy(bytes bytecode, bytes initData, uint256 initValue, bytes32 salt) external payable returns (address);
    }
    event ContractDeployed(address deployedContract);
}

/// The contracts' release wasm folder, when built.
fn wasm_dir() -> Option<PathBuf> {
    let target = std::env::var_os("ASSAY_CONTRACTS_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../contracts/target"),
        PathBuf::from,
    );
    let dir = target.join("wasm32-unknown-unknown/release");
    ["assay_token", "assay_staking", "assay_registry"]
        .iter()
        .all(|n| dir.join(format!("{n}.wasm")).exists())
        .then_some(dir)
}

fn deploy_init(code: &[u8]) -> Vec<u8> {
    let mut init = vec![0x7f];
    init.extend_from_slice(&U256::from(code.len()).to_be_bytes::<32>());
    init.extend_from_slice(&hex!("80602b6000396000f300"));
    init.extend_from_slice(code);
    init
}

async fn deploy_raw(p: &impl Provider, init: Vec<u8>) -> Address {
    let tx = TransactionRequest::default().with_deploy_code(init);
    let receipt = p.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());
    receipt.contract_address.unwrap()
}

/// Deploys, activates and constructs a contract through the StylusDeployer (a root program over
/// fragments when it is too large for one contract), as cargo-stylus does.
async fn deploy(p: &impl Provider, wasm_dir: &Path, name: &str, args: Vec<u8>) -> Address {
    let wasm = std::fs::read(wasm_dir.join(format!("{name}.wasm"))).expect("wasm");
    let text = wasmprinter::print_bytes(&wasm).expect("wasm prints");
    let classic = code::compress(&wat::parse_str(text).expect("wasm round-trips"));
    let program = if classic.len() <= 24_576 {
        classic
    } else {
        let wasm = code::decompress(&classic).expect("decompress");
        let mut root = code::ROOT_PREFIX.to_vec();
        root.push(0);
        root.extend_from_slice(&u32::try_from(wasm.len()).expect("small").to_be_bytes());
        for chunk in classic[4..].chunks(24_576 - 3) {
            let mut fragment = code::FRAGMENT_PREFIX.to_vec();
            fragment.extend_from_slice(chunk);
            root.extend_from_slice(deploy_raw(p, deploy_init(&fragment)).await.as_slice());
        }
        root
    };
    let mut init_data = hex!("5585258d").to_vec(); // stylus_constructor()
    init_data.extend_from_slice(&args);
    let call = StylusDeployer::deployCall {
        bytecode: deploy_init(&program).into(),
        initData: init_data.into(),
        initValue: U256::ZERO,
        salt: B256::ZERO,
    };
    let tx = TransactionRequest::default()
        .with_to(genesis::STYLUS_DEPLOYER)
        .with_input(call.abi_encode())
        .with_value(U256::from(10u64).pow(U256::from(17u64)))
        .with_gas_limit(30_000_000);
    let receipt = p.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status(), "{name} deployment failed");
    receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| ContractDeployed::decode_log_data(log.data()).ok())
        .expect("ContractDeployed")
        .deployedContract
}

async fn send(p: &impl Provider, to: Address, call: impl SolCall) {
    let tx = TransactionRequest::default().with_to(to).with_input(call.abi_encode());
    let receipt = p.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());
}

fn key(index: usize) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&genesis::ANVIL_ACCOUNTS[index].1).expect("key")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_stakes_serves_and_is_idempotent() {
    let Some(wasm) = wasm_dir() else {
        // CI (.ci/test) builds the wasm and exports the folder: missing wasm there is a failure.
        assert!(
            std::env::var_os("ASSAY_CONTRACTS_TARGET_DIR").is_none(),
            "ASSAY_CONTRACTS_TARGET_DIR is set but holds no contract wasm; build it with \
             `cargo build --release --target wasm32-unknown-unknown --lib` in contracts/"
        );
        println!("SKIP: the contracts' release wasm is not built (ASSAY_CONTRACTS_TARGET_DIR)");
        return;
    };
    let node = assay_test_node::spawn(assay_test_node::Config::test()).await.expect("node");
    let owner = key(0);
    let p = ProviderBuilder::new()
        .wallet(EthereumWallet::from(owner.clone()))
        .connect_http(node.url().parse().expect("url"));
    let token = deploy(&p, &wasm, "assay_token", owner.address().abi_encode()).await;
    let min = U256::from(1_000);
    let args = (owner.address(), token, min, min, 3_600u64).abi_encode_params();
    let staking = deploy(&p, &wasm, "assay_staking", args).await;
    let registry = deploy(&p, &wasm, "assay_registry", staking.abi_encode()).await;

    let tmp = std::env::temp_dir().join(format!("assay-worker-register-{}", std::process::id()));
    std::fs::remove_dir_all(&tmp).ok();
    let model_dir = tmp.join("bert");
    dir::write(&model_dir, &tiny_bert(2).to_blob(), BERT_CONFIG_KEYS).expect("model");
    let model = B256::from(dir::ModelDir::open(&model_dir).expect("open").model_id);
    let miner = key(6);
    send(&p, token, IAssayToken::mintCall { to: miner.address(), value: U256::from(5_000) }).await;
    let reg_model = IModelRegistry::registerModelCall {
        modelId: model,
        engineHash: B256::ZERO,
        pricePerUnit: U256::from(1),
    };
    send(&p, registry, reg_model).await;

    let manifest = Manifest {
        chain_id: p.get_chain_id().await.expect("chain id"),
        deploy_block: 0,
        contracts: [
            ("AssayToken".to_string(), token),
            ("Staking".to_string(), staking),
            ("ModelRegistry".to_string(), registry),
        ]
        .into(),
        models: Vec::new(),
    };
    let manifest_path = tmp.join("deployment.json");
    manifest.save(&manifest_path).expect("manifest");
    let url = node.url();

    // Not staked yet: `worker run`'s check says what to do.
    let err = check_ready(&url, &manifest, miner.address(), &[model]).await.unwrap_err();
    assert!(matches!(err, Error::NotReady(_)), "{err}");
    assert!(err.to_string().contains("worker register"), "{err}");

    // Through the command line's argument parsing; the key from a file.
    let key_file = tmp.join("miner.key");
    std::fs::write(&key_file, hex::encode(miner.to_bytes())).expect("key file");
    let cli = Cli::parse_from([
        "worker",
        "register",
        "--rpc-url",
        &url,
        "--deployment",
        manifest_path.to_str().expect("utf-8"),
        "--key-file",
        key_file.to_str().expect("utf-8"),
        "--model",
        model_dir.to_str().expect("utf-8"),
    ]);
    let Command::Register(args) = &cli.command else { panic!("register") };
    let reg = args.registration().expect("registration");
    assert_eq!(reg.key.address(), miner.address());
    let mut lines = Vec::new();
    register(&reg, |l| lines.push(l.to_owned())).await.expect("register");
    let text = lines.join("\n");
    assert!(text.contains("staked 1000") && text.contains("serving model"), "{text}");
    check_ready(&url, &manifest, miner.address(), &[model]).await.expect("ready");

    let mut again = Vec::new();
    register(&reg, |l| again.push(l.to_owned())).await.expect("register again");
    let text = again.join("\n");
    assert!(text.contains("skip: already registered") && text.contains("skip: already serving"));
    assert!(!text.contains("tx "), "nothing sent twice: {text}");

    // An unknown model is named; a key without tokens says so.
    let unknown = Registration { models: vec![B256::repeat_byte(7)], ..reg.clone() };
    let err = register(&unknown, |_| {}).await.unwrap_err().to_string();
    assert!(err.contains("not registered in ModelRegistry"), "{err}");
    let poor = Registration {
        key: WorkerKey::from_hex(&hex::encode(key(7).to_bytes()), "k").expect("k"),
        ..reg
    };
    let err = register(&poor, |_| {}).await.unwrap_err().to_string();
    assert!(err.contains("fund the key"), "{err}");
    std::fs::remove_dir_all(&tmp).ok();
}
