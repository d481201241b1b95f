//! `worker register`, the readiness check of `worker run` and the on-chain validator's input
//! check against the project's contracts (deployed by `assay-deploy`) on the in-process test
//! node.
//! Needs the contracts' release wasm (`.ci/test` builds it into `$ASSAY_CONTRACTS_TARGET_DIR` and
//! then a missing file fails the test); prints `SKIP:` without it elsewhere.

use std::path::PathBuf;

use alloy_primitives::{Address, B256, U256, hex};
use alloy_signer_local::PrivateKeySigner;
use assay_convert::{BERT_CONFIG_KEYS, random::tiny_bert};
use assay_protocol::{
    bindings::{IJobMarket, IModelRegistry},
    model_dir::ModelDir,
    wire::Receipt,
};
use assay_test_node::genesis;
use assay_worker::{
    Error,
    chain::{ChainValidator, Registration, check_ready, register},
    cli::{Cli, Command},
};
use clap::Parser;

/// The contracts' release wasm folder, when built.
fn wasm_dir() -> Option<PathBuf> {
    let target = std::env::var_os("ASSAY_CONTRACTS_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../contracts/target"),
        PathBuf::from,
    );
    let dir = target.join("wasm32-unknown-unknown/release");
    assay_deploy::SPECS.iter().all(|spec| dir.join(spec.wasm).exists()).then_some(dir)
}

fn chain_key(signer: &PrivateKeySigner) -> assay_chain::Key {
    assay_chain::Key::from_hex(&hex::encode(signer.to_bytes()), "test key").expect("key")
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
    let tmp = std::env::temp_dir().join(format!("assay-worker-register-{}", std::process::id()));
    std::fs::remove_dir_all(&tmp).ok();
    let model_dir = tmp.join("bert");
    ModelDir::write(&model_dir, &tiny_bert(2).to_blob(), BERT_CONFIG_KEYS).expect("model");
    let model = ModelDir::open(&model_dir).expect("open").model_id;
    let manifest_path = tmp.join("deployment.json");

    // The contracts as `deploy` sets them up: token, staking, registry, the model registered.
    let mut deploy = assay_deploy::Config::new(node.url(), owner.clone());
    deploy.wasm = assay_deploy::WasmSource::Dir(wasm);
    deploy.models =
        vec![assay_deploy::ModelArg { name: "tiny-bert".into(), dir: model_dir.clone() }];
    deploy.out = Some(manifest_path.clone());
    deploy.quiet = true;
    let min = deploy.params.staking.min_miner_stake;
    let manifest = assay_deploy::run(&deploy).await.expect("deploy");
    let miner = key(6);
    let funding = assay_deploy::Funding {
        accounts: vec![miner.address()],
        eth: U256::ZERO,
        assay: min.saturating_mul(U256::from(5)),
    };
    assay_deploy::fund(&node.url(), owner, &manifest, &funding, true).await.expect("fund");
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
    assert!(text.contains(&format!("staked {min}")) && text.contains("serving model"), "{text}");
    check_ready(&url, &manifest, miner.address(), &[model]).await.expect("ready");

    let mut again = Vec::new();
    register(&reg, |l| again.push(l.to_owned())).await.expect("register again");
    let text = again.join("\n");
    assert!(text.contains("skip: already registered") && text.contains("skip: already serving"));
    assert!(!text.contains("tx "), "nothing sent twice: {text}");

    // A drawn validator checks the run it was asked for against the job on chain: a run of
    // another input is refused before anything is committed; the job's own input goes on to
    // the commitment (which `Sampling` refuses: the job was never challenged).
    let requester = key(8);
    let input_root = B256::repeat_byte(0x1e);
    let submit = IJobMarket::submitJobCall {
        modelId: model,
        inputRoot: input_root,
        callback: Address::ZERO,
        deadline: u64::MAX / 2,
    };
    let client = assay_chain::Client::connect(&url, Some(&chain_key(&requester))).await.unwrap();
    let market = manifest.contract("JobMarket").expect("JobMarket");
    let receipt = client.send(market, submit, U256::from(10u64).pow(U256::from(16u64))).await;
    let job = assay_chain::Client::event::<IJobMarket::JobSubmitted>(&receipt.unwrap(), market)
        .expect("JobSubmitted")
        .jobId;
    let validator = ChainValidator::connect(&url, &manifest, &reg.key).expect("validator");
    let run = |input_root| Receipt {
        job_key: B256::repeat_byte(1),
        model_id: model,
        input_root,
        output_hash: B256::repeat_byte(2),
        trace_root: B256::repeat_byte(3),
        worker: miner.address(),
    };
    let err = validator.validate(job, &run(B256::repeat_byte(0x2e))).await.unwrap_err();
    assert!(matches!(err, Error::Refused(_)), "{err}");
    assert!(err.to_string().contains(&format!("input root {input_root}")), "{err}");
    let err = validator.validate(job, &run(input_root)).await.unwrap_err();
    assert!(matches!(&err, Error::Chain(e) if e.is_revert::<IJobMarket::UnknownJob>()), "{err}");

    // A model registered for another engine than the worker's is refused by name.
    let other_engine = B256::repeat_byte(0xee);
    let foreign = B256::repeat_byte(0x42);
    let owner_client = assay_chain::Client::connect(&url, Some(&chain_key(&key(0)))).await.unwrap();
    let registry = manifest.contract("ModelRegistry").expect("registry");
    let register_foreign = IModelRegistry::registerModelCall {
        modelId: foreign,
        engineHash: other_engine,
        pricePerUnit: U256::from(1u8),
    };
    owner_client.send(registry, register_foreign, U256::ZERO).await.expect("registered");
    let serve = Registration { models: vec![foreign], ..reg.clone() };
    register(&serve, |_| {}).await.expect("serves the foreign model");
    let err = check_ready(&url, &manifest, miner.address(), &[model, foreign]).await.unwrap_err();
    assert!(matches!(err, Error::NotReady(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("model {foreign} is registered for engine {other_engine}")),
        "{text}"
    );

    // An unknown model is named; a key without tokens says so.
    let unknown = Registration { models: vec![B256::repeat_byte(7)], ..reg.clone() };
    let err = register(&unknown, |_| {}).await.unwrap_err().to_string();
    assert!(err.contains("not registered in ModelRegistry"), "{err}");
    let poor = Registration { key: chain_key(&key(7)), ..reg };
    let err = register(&poor, |_| {}).await.unwrap_err().to_string();
    assert!(err.contains("fund the key"), "{err}");
    std::fs::remove_dir_all(&tmp).ok();
}
