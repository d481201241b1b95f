//! Stylus programs end to end: the stylus-sdk 0.10.10 counter fixture deployed with
//! cargo-stylus's init code, activated through ArbWasm, called from EOAs, from EVM contracts
//! and calling back into the EVM.

use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, B256, Bytes, U256, hex};
use alloy_provider::Provider;
use alloy_rpc_types_eth::TransactionRequest;
use alloy_sol_types::{SolCall, SolError, SolEvent, sol};
use assay_test_node::{NodeHandle, genesis, precompiles::ARB_WASM, stylus::code};
use serde_json::json;

use crate::common::{provider, rpc, start, store_and_log_init};

sol! {
    interface Counter {
        function number() external view returns (uint256);
        function setNumber(uint256 value) external;
        function increment() external returns (uint256);
        function forward(address target, bytes data) external payable returns (bytes);
        function peek(address target, bytes data) external view returns (bytes);
        function spawn(bytes code, bytes32 salt) external payable returns (address);
    }
    interface StylusDeployer {
        function deploy(bytes bytecode, bytes initData, uint256 initValue, bytes32 salt) external payable returns (address);
    }
    event ContractDeployed(address deployedContract);
    event Incremented(address indexed by, uint256 value);
    error TooBig(uint256 value);
    error ProgramNotActivated();
    interface ArbWasm {
        function activateProgram(address program) external payable returns (uint16 version, uint256 dataFee);
        function codehashVersion(bytes32 codehash) external view returns (uint16);
    }
}

/// The counter as cargo-stylus would deploy it: wasm -> wat -> wasm, then brotli with prefix.
pub(crate) fn counter_code() -> Vec<u8> {
    let wasm = include_bytes!("../fixtures/stylus-counter/counter.wasm");
    let text = wasmprinter::print_bytes(wasm).expect("fixture prints");
    code::compress(&wat::parse_str(text).expect("fixture round-trips"))
}

/// cargo-stylus's deployment init code (`DeploymentCalldata::new`).
pub(crate) fn deploy_init(code: &[u8]) -> Bytes {
    let mut init = vec![0x7f];
    init.extend_from_slice(&U256::from(code.len()).to_be_bytes::<32>());
    init.extend_from_slice(&hex!("80602b6000396000f300"));
    init.extend_from_slice(code);
    init.into()
}

/// An EVM contract forwarding calldata and value to `target` and bubbling up its result.
fn proxy_init(target: Address) -> Bytes {
    let mut runtime = hex!("366000600037600060003660003473").to_vec();
    runtime.extend_from_slice(target.as_slice());
    runtime.extend_from_slice(&hex!("5af13d600060003e6032573d6000fd5b3d6000f3"));
    let mut init = vec![0x60, runtime.len() as u8];
    init.extend_from_slice(&hex!("80600b6000396000f3"));
    init.extend_from_slice(&runtime);
    init.into()
}

pub(crate) async fn deploy(p: &impl Provider, init: Bytes) -> Address {
    let tx = TransactionRequest::default().with_deploy_code(init);
    let receipt = p.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());
    receipt.contract_address.unwrap()
}

pub(crate) async fn activate(node: &NodeHandle, p: &impl Provider, program: Address) {
    let data = ArbWasm::activateProgramCall { program }.abi_encode();
    let probe = TransactionRequest::default()
        .with_to(ARB_WASM)
        .with_input(data.clone())
        .with_value(U256::from(10u64).pow(U256::from(18u64)));
    let returned = p.call(probe).await.unwrap();
    let fee = ArbWasm::activateProgramCall::abi_decode_returns(&returned).unwrap().dataFee;
    assert!(fee > U256::ZERO);
    let tx = TransactionRequest::default().with_to(ARB_WASM).with_input(data).with_value(fee);
    let receipt = p.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status(), "activation failed");
    assert_eq!(receipt.inner.logs()[0].address(), ARB_WASM);
    let _ = node;
}

async fn send(
    p: &impl Provider,
    to: Address,
    data: Vec<u8>,
) -> alloy_rpc_types_eth::TransactionReceipt {
    let tx = TransactionRequest::default().with_to(to).with_input(data).with_gas_limit(5_000_000);
    p.send_transaction(tx).await.unwrap().get_receipt().await.unwrap()
}

pub(crate) async fn number(p: &impl Provider, counter: Address) -> U256 {
    let call = TransactionRequest::default()
        .with_to(counter)
        .with_input(Counter::numberCall {}.abi_encode());
    Counter::numberCall::abi_decode_returns(&p.call(call).await.unwrap()).unwrap()
}

#[tokio::test]
async fn counter_deploys_activates_and_runs() {
    let node = start().await;
    let p = provider(&node, 0);
    let counter = deploy(&p, deploy_init(&counter_code())).await;
    let code = p.get_code_at(counter).await.unwrap();
    assert!(code::is_stylus(&code));

    // Before activation calls fail like on Nitro.
    let call =
        json!({"to": counter, "input": hex::encode_prefixed(Counter::numberCall {}.abi_encode())});
    let response = rpc(&node, "eth_call", json!([call])).await;
    assert_eq!(
        response["error"]["data"],
        hex::encode_prefixed(ProgramNotActivated {}.abi_encode())
    );

    activate(&node, &p, counter).await;
    assert_eq!(number(&p, counter).await, U256::ZERO);
    assert!(
        send(&p, counter, Counter::setNumberCall { value: U256::from(5) }.abi_encode())
            .await
            .status()
    );
    assert_eq!(number(&p, counter).await, U256::from(5));

    let receipt = send(&p, counter, Counter::incrementCall {}.abi_encode()).await;
    assert!(receipt.status());
    let log = &receipt.inner.logs()[0];
    assert_eq!(log.address(), counter);
    let event = Incremented::decode_log_data(log.data()).unwrap();
    assert_eq!(event.by, crate::common::signer(0).address());
    assert_eq!(event.value, U256::from(6));

    // Reverts carry the program's error data.
    let too_big = Counter::setNumberCall { value: U256::from(2000) }.abi_encode();
    let call = json!({"to": counter, "input": hex::encode_prefixed(&too_big)});
    let response = rpc(&node, "eth_call", json!([call])).await;
    let expected = TooBig { value: U256::from(2000) }.abi_encode();
    assert_eq!(response["error"]["data"], hex::encode_prefixed(expected));
    assert!(!send(&p, counter, too_big).await.status());
    assert_eq!(number(&p, counter).await, U256::from(6));

    // Gas estimates are enough to run the call.
    let estimate = p
        .estimate_gas(
            TransactionRequest::default()
                .with_to(counter)
                .with_input(Counter::incrementCall {}.abi_encode()),
        )
        .await
        .unwrap();
    let tight = TransactionRequest::default()
        .with_to(counter)
        .with_input(Counter::incrementCall {}.abi_encode())
        .with_gas_limit(estimate);
    assert!(p.send_transaction(tight).await.unwrap().get_receipt().await.unwrap().status());
}

#[tokio::test]
async fn calls_cross_between_evm_and_stylus() {
    let node = start().await;
    let p = provider(&node, 1);
    let counter = deploy(&p, deploy_init(&counter_code())).await;
    activate(&node, &p, counter).await;
    // A second copy shares the code hash, so it is already active.
    let other = deploy(&p, deploy_init(&counter_code())).await;
    let store = deploy(&p, store_and_log_init()).await;

    // EVM -> Stylus: the proxy becomes msg.sender.
    let proxy = deploy(&p, proxy_init(counter)).await;
    let receipt = send(&p, proxy, Counter::incrementCall {}.abi_encode()).await;
    assert!(receipt.status());
    let event = Incremented::decode_log_data(receipt.inner.logs()[0].data()).unwrap();
    assert_eq!(event.by, proxy);

    // Stylus -> EVM: the store contract logs and stores through the counter.
    let word = U256::from(42).to_be_bytes::<32>().to_vec();
    let forward = Counter::forwardCall { target: store, data: word.into() }.abi_encode();
    let receipt = send(&p, counter, forward).await;
    assert!(receipt.status());
    assert_eq!(receipt.inner.logs()[0].address(), store);
    assert_eq!(p.get_storage_at(store, U256::ZERO).await.unwrap(), U256::from(42));

    // Stylus -> EVM -> Stylus: counter forwards to a proxy of the other copy.
    let other_proxy = deploy(&p, proxy_init(other)).await;
    let forward = Counter::forwardCall {
        target: other_proxy,
        data: Counter::incrementCall {}.abi_encode().into(),
    };
    assert!(send(&p, counter, forward.abi_encode()).await.status());
    assert_eq!(number(&p, other).await, U256::from(1));

    // EVM -> Stylus -> EVM -> Stylus, with revert data bubbling all the way up.
    let inner = Counter::forwardCall {
        target: other_proxy,
        data: Counter::setNumberCall { value: U256::from(5000) }.abi_encode().into(),
    };
    let call = json!({"to": proxy, "input": hex::encode_prefixed(inner.abi_encode())});
    let response = rpc(&node, "eth_call", json!([call])).await;
    assert_eq!(
        response["error"]["data"],
        hex::encode_prefixed(TooBig { value: U256::from(5000) }.abi_encode())
    );

    // Reentrancy: a program calling itself is rejected by the SDK's reentrancy guard.
    let reenter = Counter::forwardCall {
        target: counter,
        data: Counter::incrementCall {}.abi_encode().into(),
    };
    assert!(!send(&p, counter, reenter.abi_encode()).await.status());
    // ... also when the loop goes through an EVM contract (counter -> proxy -> counter).
    let via_evm =
        Counter::forwardCall { target: proxy, data: Counter::incrementCall {}.abi_encode().into() };
    assert!(!send(&p, counter, via_evm.abi_encode()).await.status());

    // Static calls may read but not write.
    let peek =
        Counter::peekCall { target: other, data: Counter::numberCall {}.abi_encode().into() };
    let call = TransactionRequest::default().with_to(counter).with_input(peek.abi_encode());
    let out = Counter::peekCall::abi_decode_returns(&p.call(call).await.unwrap()).unwrap();
    assert_eq!(U256::from_be_slice(&out), U256::from(1));
    let poke =
        Counter::peekCall { target: other, data: Counter::incrementCall {}.abi_encode().into() };
    let call = json!({"to": counter, "input": hex::encode_prefixed(poke.abi_encode())});
    assert!(rpc(&node, "eth_call", json!([call])).await["error"].is_object());

    // Value transfers through a program.
    let payee = Address::repeat_byte(0x99);
    let pay = Counter::forwardCall { target: payee, data: Bytes::new() }.abi_encode();
    let tx = TransactionRequest::default()
        .with_to(counter)
        .with_input(pay)
        .with_value(U256::from(1234))
        .with_gas_limit(5_000_000);
    assert!(p.send_transaction(tx).await.unwrap().get_receipt().await.unwrap().status());
    assert_eq!(p.get_balance(payee).await.unwrap(), U256::from(1234));
}

#[tokio::test]
async fn programs_create_contracts_with_create_and_create2() {
    let node = start().await;
    let p = provider(&node, 2);
    let counter = deploy(&p, deploy_init(&counter_code())).await;
    activate(&node, &p, counter).await;
    let init = store_and_log_init();

    let spawn = Counter::spawnCall { code: init.clone(), salt: B256::ZERO }.abi_encode();
    let call = TransactionRequest::default().with_to(counter).with_input(spawn.clone());
    let predicted = Counter::spawnCall::abi_decode_returns(&p.call(call).await.unwrap()).unwrap();
    assert_eq!(predicted, counter.create(1));
    assert!(send(&p, counter, spawn).await.status());
    assert_eq!(p.get_code_at(predicted).await.unwrap().as_ref(), &init[11..]);

    let salt = B256::repeat_byte(7);
    let spawn2 = Counter::spawnCall { code: init.clone(), salt }.abi_encode();
    assert!(send(&p, counter, spawn2).await.status());
    let expected = counter.create2(salt, alloy_primitives::keccak256(&init));
    assert_eq!(p.get_code_at(expected).await.unwrap().len(), init.len() - 11);

    // Failing init code: the revert data comes back through the program.
    let failing = Counter::spawnCall {
        code: hex!("63cafebabe6000526004601cfd").to_vec().into(),
        salt: B256::ZERO,
    };
    let call = json!({"to": counter, "input": hex::encode_prefixed(failing.abi_encode())});
    assert_eq!(rpc(&node, "eth_call", json!([call])).await["error"]["data"], "0xcafebabe");
}

#[tokio::test]
async fn stylus_deployer_deploys_and_activates_in_one_transaction() {
    let node = start().await;
    let p = provider(&node, 3);
    // `stylus_constructor()` selector followed by the constructor's arguments (initial = 7).
    let mut init_data = hex!("5585258d").to_vec();
    init_data.extend_from_slice(&U256::from(7).to_be_bytes::<32>());
    let deploy = StylusDeployer::deployCall {
        bytecode: deploy_init(&counter_code()),
        initData: init_data.clone().into(),
        initValue: U256::ZERO,
        salt: B256::ZERO,
    };
    // cargo-stylus sends the (bumped) data fee as value; the excess is refunded.
    let value = U256::from(10u64).pow(U256::from(17u64));
    let before = p.get_balance(crate::common::signer(3).address()).await.unwrap();
    let tx = TransactionRequest::default()
        .with_to(genesis::STYLUS_DEPLOYER)
        .with_input(deploy.abi_encode())
        .with_value(value)
        .with_gas_limit(10_000_000);
    let receipt = p.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());
    let deployed = receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| ContractDeployed::decode_log_data(log.data()).ok())
        .expect("ContractDeployed")
        .deployedContract;
    assert_eq!(number(&p, deployed).await, U256::from(7));
    // The SDK runs a constructor only once.
    assert!(!send(&p, deployed, init_data).await.status());
    let spent = before - p.get_balance(crate::common::signer(3).address()).await.unwrap();
    assert!(spent < value, "excess value was not refunded: spent {spent}");
}

#[tokio::test]
async fn stylus_calls_nest_64_programs_deep() {
    let node = start().await;
    let p = provider(&node, 4);
    let first = deploy(&p, deploy_init(&counter_code())).await;
    activate(&node, &p, first).await;
    let mut counters = vec![first];
    let init = hex::encode_prefixed(deploy_init(&counter_code()));
    for _ in 0..63 {
        // Sent by the unlocked dev account: mined synchronously, no receipt polling.
        let tx = json!({"from": genesis::DEV_ACCOUNT, "input": init, "gas": "0x1000000"});
        let hash = rpc(&node, "eth_sendTransaction", json!([tx])).await["result"].clone();
        let receipt = rpc(&node, "eth_getTransactionReceipt", json!([hash])).await;
        counters.push(receipt["result"]["contractAddress"].as_str().unwrap().parse().unwrap());
    }
    // forward(c1, forward(c2, ... forward(c63, increment())))
    let mut data = Counter::incrementCall {}.abi_encode();
    for target in counters[1..].iter().rev() {
        data = Counter::forwardCall { target: *target, data: data.into() }.abi_encode();
    }
    let call = json!({"to": first, "input": hex::encode_prefixed(&data), "gas": "0x1e84800"});
    let response = rpc(&node, "eth_call", json!([call])).await;
    let output = response["result"].as_str().expect("nested calls succeed");
    // The innermost increment returned 1, wrapped in 63 layers of `bytes`.
    assert!(output.ends_with(&format!("{:064x}", 1)), "{output}");
    // The node is still alive.
    assert_eq!(number(&p, counters[63]).await, U256::ZERO);
}

/// The exact calls `cargo stylus check` makes (stylus-tools 0.10.10 `check.rs`).
#[tokio::test]
async fn cargo_stylus_check_calls_work_with_state_overrides() {
    let node = start().await;
    let code = hex::encode_prefixed(counter_code());
    let codehash = alloy_primitives::keccak256(counter_code());
    // 1. Already active? Not yet: ProgramNotActivated() as revert data, message "execution reverted".
    let version = ArbWasm::codehashVersionCall { codehash }.abi_encode();
    let probe = json!({"to": ARB_WASM, "input": hex::encode_prefixed(&version)});
    let response = rpc(&node, "eth_call", json!([probe, "latest"])).await;
    assert_eq!(response["error"]["code"], 3);
    assert!(response["error"]["message"].as_str().unwrap().contains("revert"));
    assert_eq!(response["error"]["data"], "0x6f809c4e");
    // 2. Data fee: activateProgram from a random, overridden-rich sender on overridden code.
    let sender = Address::repeat_byte(0xab);
    let target = Address::repeat_byte(0xcd);
    let activate = ArbWasm::activateProgramCall { program: target }.abi_encode();
    let call = json!({
        "from": sender, "to": ARB_WASM, "value": "0xde0b6b3a7640000",
        "input": hex::encode_prefixed(&activate),
    });
    let overrides = json!({
        sender.to_string(): {"balance": format!("{:#x}", U256::MAX)},
        target.to_string(): {"code": code},
    });
    let response = rpc(&node, "eth_call", json!([call, "latest", overrides])).await;
    let returned = hex::decode(response["result"].as_str().expect("fee estimate")).unwrap();
    let decoded = ArbWasm::activateProgramCall::abi_decode_returns(&returned).unwrap();
    assert_eq!(decoded.version, 2);
    assert!(decoded.dataFee > U256::ZERO);
    // Nothing was activated for real.
    assert_eq!(
        rpc(&node, "eth_call", json!([probe, "latest"])).await["error"]["data"],
        "0x6f809c4e"
    );
}

/// A hand-written program: `body` runs in `user_entrypoint` with `write_result` imported.
fn wat_program(body: &str) -> Vec<u8> {
    let text = format!(
        r#"(module
            (import "vm_hooks" "write_result" (func $write_result (param i32 i32)))
            (memory (export "memory") 1 1)
            (func (export "user_entrypoint") (param i32) (result i32) {body}))"#
    );
    code::compress(&wat::parse_str(text).unwrap())
}

#[tokio::test]
async fn misbehaving_programs_fail_without_hurting_the_node() {
    let node = start().await;
    let p = provider(&node, 6);
    let programs = [
        // A 4 GiB result: its ink alone exceeds the gas.
        ("huge", wat_program("(call $write_result (i32.const 0) (i32.const -1)) (i32.const 0)")),
        // An affordable but out-of-bounds result: a trap, reverting with empty data.
        ("oob", wat_program("(call $write_result (i32.const 0) (i32.const 100000)) (i32.const 0)")),
        ("trap", wat_program("unreachable")),
        ("spin", wat_program("(loop $l (br $l)) (i32.const 0)")),
        // Status 1 with a result: a revert carrying it.
        (
            "revert",
            wat_program(
                "(i32.store (i32.const 0) (i32.const 0xbeef)) (call $write_result (i32.const 0) (i32.const 2)) (i32.const 1)",
            ),
        ),
    ];
    for (name, code) in programs {
        let address = deploy(&p, deploy_init(&code)).await;
        activate(&node, &p, address).await;
        let call = json!({"to": address, "gas": "0xf4240"});
        let error = rpc(&node, "eth_call", json!([call])).await["error"].clone();
        match name {
            "spin" | "huge" => assert_eq!(error["message"], "out of gas", "{name}"),
            "revert" => assert_eq!(error["data"], "0xefbe", "{name}"),
            _ => assert_eq!(error["data"], "0x", "{name}: {error}"),
        }
        if name == "spin" {
            let estimate =
                rpc(&node, "eth_estimateGas", json!([{"to": address, "gas": "0x186a0"}])).await;
            assert_eq!(estimate["error"]["message"], "gas required exceeds allowance (100000)");
            let tx = TransactionRequest::default().with_to(address).with_gas_limit(1_000_000);
            let receipt = p.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
            assert!(!receipt.status());
            assert_eq!(receipt.gas_used, 1_000_000, "running out of ink consumes all gas");
        }
    }
    assert_eq!(p.get_chain_id().await.unwrap(), 412_346);
}

#[tokio::test]
async fn activation_is_state_and_follows_snapshots() {
    let node = start().await;
    let p = provider(&node, 7);
    let counter = deploy(&p, deploy_init(&counter_code())).await;
    let id = rpc(&node, "evm_snapshot", json!([])).await["result"].clone();
    activate(&node, &p, counter).await;
    assert_eq!(number(&p, counter).await, U256::ZERO);
    rpc(&node, "evm_revert", json!([id])).await;
    let call =
        json!({"to": counter, "input": hex::encode_prefixed(Counter::numberCall {}.abi_encode())});
    let response = rpc(&node, "eth_call", json!([call])).await;
    assert_eq!(
        response["error"]["data"],
        hex::encode_prefixed(ProgramNotActivated {}.abi_encode())
    );
}

#[tokio::test]
async fn root_programs_run_from_their_fragments() {
    let node = start().await;
    let p = provider(&node, 8);
    let wasm = {
        let wasm = include_bytes!("../fixtures/stylus-counter/counter.wasm");
        wat::parse_str(wasmprinter::print_bytes(wasm).unwrap()).unwrap()
    };
    // Split the compressed stream over two fragments, as cargo-stylus does for large programs.
    let compressed = code::compress(&wasm)[4..].to_vec();
    let (first, second) = compressed.split_at(compressed.len() / 2);
    let mut fragments = Vec::new();
    for part in [first, second] {
        let mut fragment = code::FRAGMENT_PREFIX.to_vec();
        fragment.extend_from_slice(part);
        fragments.push(deploy(&p, deploy_init(&fragment)).await);
    }
    let mut root = code::ROOT_PREFIX.to_vec();
    root.push(0);
    root.extend_from_slice(&(wasm.len() as u32).to_be_bytes());
    for address in &fragments {
        root.extend_from_slice(address.as_slice());
    }
    let program = deploy(&p, deploy_init(&root)).await;
    // A fragment alone is inert data: calling it fails.
    let call = json!({"to": fragments[0], "input": "0x8381f58a"});
    assert!(rpc(&node, "eth_call", json!([call])).await["error"].is_object());

    activate(&node, &p, program).await;
    assert!(send(&p, program, Counter::incrementCall {}.abi_encode()).await.status());
    assert_eq!(number(&p, program).await, U256::from(1));
}

#[tokio::test]
async fn host_math_keccak_and_values_follow_the_evm() {
    let node = start().await;
    let p = provider(&node, 9);
    // Memory: a = 7 at 0, b = 0 at 32, m = 4 at 64; results written from 128.
    let body = r#"
        (i32.store8 (i32.const 31) (i32.const 7))
        (i32.store8 (i32.const 95) (i32.const 4))
        (call $math_div (i32.const 0) (i32.const 32))
        (memory.copy (i32.const 128) (i32.const 0) (i32.const 32))
        (i32.store8 (i32.const 31) (i32.const 7))
        (i32.store8 (i32.const 63) (i32.const 3))
        (call $math_add_mod (i32.const 0) (i32.const 32) (i32.const 64))
        (memory.copy (i32.const 160) (i32.const 0) (i32.const 32))
        (call $native_keccak256 (i32.const 0) (i32.const 0) (i32.const 192))
        (i64.store (i32.const 224) (call $chainid))
        (call $write_result (i32.const 128) (i32.const 104))
        (i32.const 0)"#;
    let text = format!(
        r#"(module
            (import "vm_hooks" "write_result" (func $write_result (param i32 i32)))
            (import "vm_hooks" "math_div" (func $math_div (param i32 i32)))
            (import "vm_hooks" "math_add_mod" (func $math_add_mod (param i32 i32 i32)))
            (import "vm_hooks" "native_keccak256" (func $native_keccak256 (param i32 i32 i32)))
            (import "vm_hooks" "chainid" (func $chainid (result i64)))
            (memory (export "memory") 1 1)
            (func (export "user_entrypoint") (param i32) (result i32) {body}))"#
    );
    let program = deploy(&p, deploy_init(&code::compress(&wat::parse_str(text).unwrap()))).await;
    activate(&node, &p, program).await;
    let out = p.call(TransactionRequest::default().with_to(program)).await.unwrap();
    assert_eq!(U256::from_be_slice(&out[..32]), U256::ZERO, "division by zero gives zero");
    assert_eq!(U256::from_be_slice(&out[32..64]), U256::from(2), "(7 + 3) mod 4");
    assert_eq!(&out[64..96], alloy_primitives::KECCAK256_EMPTY.as_slice());
    assert_eq!(u64::from_le_bytes(out[96..104].try_into().unwrap()), 412_346);
}
