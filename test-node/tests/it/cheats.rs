//! anvil's cheat methods: state edits, impersonation, mining, time, snapshots, state files,
//! and WebSocket subscriptions.

use std::time::Duration;

use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::TransactionRequest;
use assay_test_node::Config;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::common::{provider, rpc, start, start_with};

#[tokio::test]
async fn set_balance_code_nonce_storage() {
    let node = start().await;
    let p = provider(&node, 0);
    let who = Address::repeat_byte(0x33);
    rpc(&node, "anvil_setBalance", json!([who, "0x1234"])).await;
    assert_eq!(p.get_balance(who).await.unwrap(), U256::from(0x1234));
    rpc(&node, "hardhat_setNonce", json!([who, "0x7"])).await;
    assert_eq!(p.get_transaction_count(who).await.unwrap(), 7);
    rpc(&node, "anvil_setCode", json!([who, "0x6001"])).await;
    assert_eq!(p.get_code_at(who).await.unwrap().as_ref(), [0x60, 0x01]);
    rpc(&node, "anvil_setStorageAt", json!([who, "0x1", format!("{:#066x}", 5)])).await;
    assert_eq!(p.get_storage_at(who, U256::from(1)).await.unwrap(), U256::from(5));
}

#[tokio::test]
async fn impersonated_accounts_send_unsigned_transactions() {
    let node = start().await;
    let p = provider(&node, 0);
    let whale = Address::repeat_byte(0x55);
    rpc(&node, "anvil_setBalance", json!([whale, "0xde0b6b3a7640000"])).await;
    let tx = json!({"from": whale, "to": Address::repeat_byte(0x56), "value": "0x1"});
    let refused = rpc(&node, "eth_sendTransaction", json!([tx])).await;
    assert!(refused["error"]["message"].as_str().unwrap().contains("unknown account"));
    rpc(&node, "anvil_impersonateAccount", json!([whale])).await;
    let sent = rpc(&node, "eth_sendTransaction", json!([tx])).await;
    let hash = sent["result"].as_str().expect("sent");
    let receipt = rpc(&node, "eth_getTransactionReceipt", json!([hash])).await;
    assert_eq!(receipt["result"]["status"], "0x1");
    assert_eq!(p.get_balance(Address::repeat_byte(0x56)).await.unwrap(), U256::from(1));
}

#[tokio::test]
async fn snapshot_and_revert_restore_blocks_and_state() {
    let node = start().await;
    let p = provider(&node, 0);
    let who = Address::repeat_byte(0x44);
    let id = rpc(&node, "evm_snapshot", json!([])).await["result"].clone();
    rpc(&node, "anvil_setBalance", json!([who, "0x10"])).await;
    rpc(&node, "anvil_mine", json!(["0x3"])).await;
    assert_eq!(p.get_block_number().await.unwrap(), 3);
    assert_eq!(rpc(&node, "evm_revert", json!([id])).await["result"], true);
    assert_eq!(p.get_block_number().await.unwrap(), 0);
    assert_eq!(p.get_balance(who).await.unwrap(), U256::ZERO);
    assert_eq!(rpc(&node, "evm_revert", json!([id])).await["result"], false);
}

#[tokio::test]
async fn time_travel_and_manual_mining() {
    let node = start().await;
    let p = provider(&node, 0);
    rpc(&node, "evm_setNextBlockTimestamp", json!(["0x7fffffff"])).await;
    rpc(&node, "evm_mine", json!([])).await;
    let block = p.get_block_by_number(Default::default()).await.unwrap().unwrap();
    assert_eq!(block.header.timestamp, 0x7fff_ffff);
    let before = block.header.timestamp;
    rpc(&node, "evm_increaseTime", json!([3600])).await;
    rpc(&node, "evm_mine", json!([])).await;
    let after = p.get_block_by_number(Default::default()).await.unwrap().unwrap().header.timestamp;
    assert!(after >= before, "{after} < {before}");

    rpc(&node, "evm_setAutomine", json!([false])).await;
    assert_eq!(rpc(&node, "anvil_getAutomine", json!([])).await["result"], false);
    let tx = json!({"from": assay_test_node::genesis::DEV_ACCOUNT, "to": Address::repeat_byte(9), "value": "0x1"});
    let hash = rpc(&node, "eth_sendTransaction", json!([tx])).await["result"].clone();
    assert_eq!(rpc(&node, "eth_getTransactionReceipt", json!([hash])).await["result"], Value::Null);
    let pending = rpc(
        &node,
        "eth_getTransactionCount",
        json!([assay_test_node::genesis::DEV_ACCOUNT, "pending"]),
    )
    .await;
    assert_eq!(pending["result"], "0x1");
    rpc(&node, "evm_mine", json!([])).await;
    assert_eq!(
        rpc(&node, "eth_getTransactionReceipt", json!([hash])).await["result"]["status"],
        "0x1"
    );
}

#[tokio::test]
async fn interval_mining_produces_blocks() {
    let node = start_with(Config::test().with_block_time(Duration::from_millis(100))).await;
    let p = provider(&node, 0);
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(p.get_block_number().await.unwrap() >= 2);
    // Transactions wait in the pool for the next block.
    let tx =
        TransactionRequest::default().with_to(Address::repeat_byte(0x12)).with_value(U256::from(3));
    let receipt = p.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());
    assert_eq!(p.get_balance(Address::repeat_byte(0x12)).await.unwrap(), U256::from(3));
}

#[tokio::test]
async fn state_file_persists_across_restarts() {
    let dir = std::env::temp_dir().join(format!("test-node-state-{}", std::process::id()));
    let who = Address::repeat_byte(0x66);
    let node = start_with(Config::test().with_state_file(&dir)).await;
    rpc(&node, "anvil_setBalance", json!([who, "0x99"])).await;
    node.stop().await.unwrap();
    let node = start_with(Config::test().with_state_file(&dir)).await;
    assert_eq!(provider(&node, 0).get_balance(who).await.unwrap(), U256::from(0x99));
    let dump = rpc(&node, "anvil_dumpState", json!([])).await["result"].clone();
    node.stop().await.unwrap();
    std::fs::remove_file(&dir).unwrap();
    let fresh = start().await;
    assert_eq!(rpc(&fresh, "anvil_loadState", json!([dump])).await["result"], true);
    assert_eq!(provider(&fresh, 0).get_balance(who).await.unwrap(), U256::from(0x99));
}

#[tokio::test]
async fn websocket_subscriptions_see_new_heads_and_logs() {
    let node = start().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(node.ws_url()).await.unwrap();
    let request = |id: u64, method: &str, params: Value| {
        Message::Text(
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
                .to_string()
                .into(),
        )
    };
    ws.send(request(1, "eth_subscribe", json!(["newHeads"]))).await.unwrap();
    let reply: Value = next_json(&mut ws).await;
    let sub = reply["result"].as_str().unwrap().to_owned();
    ws.send(request(2, "eth_chainId", json!([]))).await.unwrap();
    assert_eq!(next_json(&mut ws).await["result"], "0x64aba");
    rpc(&node, "evm_mine", json!([])).await;
    let note = next_json(&mut ws).await;
    assert_eq!(note["method"], "eth_subscription");
    assert_eq!(note["params"]["subscription"], sub);
    assert_eq!(note["params"]["result"]["number"], "0x1");

    // Logs of one contract only.
    let p = provider(&node, 0);
    let deploy =
        TransactionRequest::default().with_deploy_code(crate::common::store_and_log_init());
    let store = p
        .send_transaction(deploy)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap()
        .contract_address
        .unwrap();
    ws.send(request(3, "eth_unsubscribe", json!([sub]))).await.unwrap();
    assert_eq!(next_reply(&mut ws, 3).await["result"], true);
    ws.send(request(4, "eth_subscribe", json!(["logs", {"address": store}]))).await.unwrap();
    let logs_sub = next_reply(&mut ws, 4).await["result"].as_str().unwrap().to_owned();
    let word = format!("{:#066x}", 9);
    let tx = TransactionRequest::default()
        .with_to(store)
        .with_input(alloy_primitives::hex::decode(&word).unwrap());
    p.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    let note = next_json(&mut ws).await;
    assert_eq!(note["params"]["subscription"], logs_sub);
    assert_eq!(note["params"]["result"]["address"], format!("{store:#x}"));
    assert_eq!(note["params"]["result"]["data"], word);
}

/// The reply to request `id`, skipping notifications.
async fn next_reply<S>(ws: &mut S, id: u64) -> Value
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let value = next_json(ws).await;
        if value["id"] == id {
            return value;
        }
    }
}

async fn next_json<S>(ws: &mut S) -> Value
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}
