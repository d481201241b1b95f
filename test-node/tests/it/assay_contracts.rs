//! Smoke flow of the project's own contracts on the node: the real release wasm of AssayToken,
//! Staking and ModelRegistry (built from `contracts/` with its pinned toolchain), deployed through
//! the StylusDeployer with their constructors (Staking, too large for one contract, as a root
//! program over fragments, the way cargo-stylus splits it), called through the bindings the
//! services use (`assay-protocol`), reverting with their named Solidity errors, and calling each
//! other and an EVM contract.

use std::{path::PathBuf, process::Command, sync::OnceLock};

use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, B256, Bytes, U256, hex};
use alloy_provider::Provider;
use alloy_rpc_types_eth::TransactionRequest;
use alloy_sol_types::{SolCall, SolError, SolEvent, SolValue};
use assay_protocol::bindings::{IAssayToken, IModelRegistry, IOwnable, IStaking};
use assay_test_node::{genesis, stylus::code};
use serde_json::json;

use crate::{
    common::{provider, rpc, signer, start},
    stylus::{deploy, deploy_init},
};

alloy_sol_types::sol! {
    interface StylusDeployer {
        function deploy(bytes bytecode, bytes initData, uint256 initValue, bytes32 salt) external payable returns (address);
    }
    event ContractDeployed(address deployedContract);
}

/// Selector of the SDK's `stylus_constructor()` entry point.
const CONSTRUCTOR: [u8; 4] = hex!("5585258d");

/// Builds the contracts' release wasm (a no-op when up to date) and returns its folder.
fn wasm_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let contracts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../contracts");
        let toolchain =
            std::fs::read_to_string(contracts.join("rust-toolchain.toml")).expect("toolchain file");
        let channel = toolchain
            .lines()
            .find_map(|l| l.strip_prefix("channel = "))
            .expect("pinned channel")
            .trim_matches('"')
            .to_owned();
        // .ci/test builds the contracts first and says where; otherwise their own target folder.
        let target = std::env::var_os("ASSAY_CONTRACTS_TARGET_DIR")
            .map_or_else(|| contracts.join("target"), PathBuf::from);
        let status = Command::new("cargo")
            .arg(format!("+{channel}"))
            .args(["build", "--release", "--target", "wasm32-unknown-unknown", "--lib"])
            .args(["-p", "assay-token", "-p", "assay-staking", "-p", "assay-registry"])
            .current_dir(&contracts)
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("RUSTUP_TOOLCHAIN")
            .env_remove("RUSTC")
            .env_remove("RUSTFLAGS")
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the contracts failed");
        target.join("wasm32-unknown-unknown/release")
    })
}

/// A contract's on-chain code, processed as cargo-stylus does (wasm -> wat -> wasm, brotli).
fn contract_code(name: &str) -> Vec<u8> {
    let wasm = std::fs::read(wasm_dir().join(format!("{name}.wasm"))).expect("built wasm");
    let text = wasmprinter::print_bytes(&wasm).expect("wasm prints");
    code::compress(&wat::parse_str(text).expect("wasm round-trips"))
}

/// Most bytes of compressed wasm one fragment holds (24 576 bytes of code minus its prefix).
const FRAGMENT_PAYLOAD: usize = 24_576 - 3;

/// The program to deploy for `name`: its classic code when that fits one contract, else a root
/// program over fragments deployed first, as cargo-stylus does for large programs.
async fn program_code(p: &impl Provider, name: &str) -> Vec<u8> {
    let classic = contract_code(name);
    if classic.len() <= 24_576 {
        return classic;
    }
    let wasm = code::decompress(&classic).expect("own code decompresses");
    let mut root = code::ROOT_PREFIX.to_vec();
    root.push(0);
    root.extend_from_slice(&u32::try_from(wasm.len()).expect("small wasm").to_be_bytes());
    for chunk in classic[4..].chunks(FRAGMENT_PAYLOAD) {
        let mut fragment = code::FRAGMENT_PREFIX.to_vec();
        fragment.extend_from_slice(chunk);
        root.extend_from_slice(deploy(p, deploy_init(&fragment)).await.as_slice());
    }
    root
}

/// Deploys, activates and constructs `name` in one StylusDeployer transaction.
async fn deploy_with_constructor(p: &impl Provider, name: &str, args: Vec<u8>) -> Address {
    let mut init_data = CONSTRUCTOR.to_vec();
    init_data.extend_from_slice(&args);
    let call = StylusDeployer::deployCall {
        bytecode: deploy_init(&program_code(p, name).await),
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

async fn call<C: SolCall>(p: &impl Provider, to: Address, call: C) -> C::Return {
    let tx = TransactionRequest::default().with_to(to).with_input(call.abi_encode());
    C::abi_decode_returns(&p.call(tx).await.unwrap()).unwrap()
}

async fn send<C: SolCall>(
    p: &impl Provider,
    to: Address,
    call: C,
) -> alloy_rpc_types_eth::TransactionReceipt {
    let tx = TransactionRequest::default()
        .with_to(to)
        .with_input(call.abi_encode())
        .with_gas_limit(5_000_000);
    p.send_transaction(tx).await.unwrap().get_receipt().await.unwrap()
}

/// Revert data of `call` sent by `from`, as the node reports it.
async fn revert_data(
    node: &assay_test_node::NodeHandle,
    from: Address,
    to: Address,
    call: impl SolCall,
) -> String {
    let tx = json!({"from": from, "to": to, "input": hex::encode_prefixed(call.abi_encode())});
    let response = rpc(node, "eth_call", json!([tx])).await;
    response["error"]["data"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn assay_token_runs_on_the_node() {
    let node = start().await;
    let (owner, alice, bob) = (signer(0).address(), signer(1).address(), signer(2).address());
    let p = provider(&node, 0);
    let token = deploy_with_constructor(&p, "assay_token", owner.abi_encode()).await;
    assert_eq!(call(&p, token, IOwnable::ownerCall {}).await, owner);
    assert_eq!(call(&p, token, IAssayToken::symbolCall {}).await, "ASSAY");

    let minted =
        send(&p, token, IAssayToken::mintCall { to: alice, value: U256::from(1_000) }).await;
    assert!(minted.status());
    let transfer = IAssayToken::Transfer::decode_log_data(minted.inner.logs()[0].data()).unwrap();
    assert_eq!(
        (transfer.from, transfer.to, transfer.value),
        (Address::ZERO, alice, U256::from(1_000))
    );

    let alice_p = provider(&node, 1);
    assert!(
        send(&alice_p, token, IAssayToken::transferCall { to: bob, value: U256::from(400) })
            .await
            .status()
    );
    assert_eq!(call(&p, token, IAssayToken::balanceOfCall { account: bob }).await, U256::from(400));
    assert_eq!(call(&p, token, IAssayToken::totalSupplyCall {}).await, U256::from(1_000));

    // Reverts carry the contract's named errors.
    let too_much = IAssayToken::transferCall { to: bob, value: U256::from(601) };
    let expected = IAssayToken::ERC20InsufficientBalance {
        sender: alice,
        balance: U256::from(600),
        needed: U256::from(601),
    };
    assert_eq!(
        revert_data(&node, alice, token, too_much).await,
        hex::encode_prefixed(expected.abi_encode())
    );
    let mint = IAssayToken::mintCall { to: bob, value: U256::from(1) };
    let unauthorized = IAssayToken::UnauthorizedMinter { account: bob };
    assert_eq!(
        revert_data(&node, bob, token, mint).await,
        hex::encode_prefixed(unauthorized.abi_encode())
    );
}

#[tokio::test]
async fn model_registry_checks_eligibility_through_an_evm_contract() {
    let node = start().await;
    let p = provider(&node, 0);
    // An EVM stand-in for Staking whose every call returns `true` (isEligible).
    let always_true: Bytes = hex!("600a600c600039600a6000f3600160005260206000f3").to_vec().into();
    let staking = deploy(&p, always_true).await;
    let registry = deploy_with_constructor(&p, "assay_registry", staking.abi_encode()).await;
    assert_eq!(call(&p, registry, IModelRegistry::stakingCall {}).await, staking);

    let model = B256::repeat_byte(0x11);
    let register = IModelRegistry::registerModelCall {
        modelId: model,
        engineHash: B256::repeat_byte(2),
        pricePerUnit: U256::from(5),
    };
    assert!(send(&p, registry, register.clone()).await.status());
    let exists = IModelRegistry::ModelExists { modelId: model };
    assert_eq!(
        revert_data(&node, signer(0).address(), registry, register).await,
        hex::encode_prefixed(exists.abi_encode())
    );

    let miner = provider(&node, 5);
    assert!(send(&miner, registry, IModelRegistry::serveCall { modelId: model }).await.status());
    assert_eq!(
        call(&p, registry, IModelRegistry::serversCall { modelId: model }).await,
        vec![signer(5).address()]
    );
    let info = call(&p, registry, IModelRegistry::modelCall { modelId: model }).await;
    assert_eq!(
        (info.owner, info.pricePerUnit, info.active, info.serverCount),
        (signer(0).address(), U256::from(5), true, U256::from(1))
    );
}

#[tokio::test]
async fn token_staking_and_registry_work_together() {
    let node = start().await;
    let owner = signer(0).address();
    let (p, miner) = (provider(&node, 0), provider(&node, 6));
    let miner_address = signer(6).address();
    let token = deploy_with_constructor(&p, "assay_token", owner.abi_encode()).await;
    let min_stake = U256::from(1_000);
    let args = (owner, token, min_stake, min_stake, 3_600u64).abi_encode_params();
    let staking = deploy_with_constructor(&p, "assay_staking", args).await;
    assert!(
        code::root_fragments(&p.get_code_at(staking).await.unwrap()).is_some(),
        "Staking is a root program"
    );
    let registry = deploy_with_constructor(&p, "assay_registry", staking.abi_encode()).await;

    // The miner stakes through a real token allowance: Stylus -> Stylus transferFrom.
    assert!(
        send(&p, token, IAssayToken::mintCall { to: miner_address, value: U256::from(5_000) })
            .await
            .status()
    );
    assert!(
        send(&miner, token, IAssayToken::approveCall { spender: staking, value: min_stake })
            .await
            .status()
    );
    let register = IStaking::registerOperatorCall { role: 1, amount: min_stake };
    assert!(send(&miner, staking, register).await.status());
    assert_eq!(call(&p, token, IAssayToken::balanceOfCall { account: staking }).await, min_stake);
    assert!(call(&p, staking, IStaking::isEligibleCall { operator: miner_address, role: 1 }).await);
    assert_eq!(call(&p, staking, IStaking::totalAccountedCall {}).await, min_stake);

    // Without allowance the pull fails and the whole call reverts with the named error.
    let again = IStaking::stakeCall { operator: miner_address, amount: U256::from(1) };
    let failed = IStaking::TokenCallFailed { token };
    assert_eq!(
        revert_data(&node, miner_address, staking, again).await,
        hex::encode_prefixed(failed.abi_encode())
    );

    // The registry asks Staking (Stylus -> Stylus) before letting the miner serve.
    let model = B256::repeat_byte(0x42);
    let register_model = IModelRegistry::registerModelCall {
        modelId: model,
        engineHash: B256::ZERO,
        pricePerUnit: U256::from(1),
    };
    assert!(send(&p, registry, register_model).await.status());
    assert!(send(&miner, registry, IModelRegistry::serveCall { modelId: model }).await.status());
    let stranger = IModelRegistry::NotEligibleMiner { miner: owner };
    let serve = IModelRegistry::serveCall { modelId: model };
    assert_eq!(
        revert_data(&node, owner, registry, serve).await,
        hex::encode_prefixed(stranger.abi_encode())
    );
}
