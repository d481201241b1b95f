//! Deploying an EVM contract, calling it, and reading storage, receipts and logs.

use alloy_network::TransactionBuilder;
use alloy_primitives::{B256, Bytes, U256, hex};
use alloy_provider::Provider;
use alloy_rpc_types_eth::{Filter, TransactionRequest};

use crate::common::{STORE_TOPIC, provider, rpc, start, store_and_log_init};

fn word(value: u64) -> Bytes {
    B256::from(U256::from(value)).0.to_vec().into()
}

#[tokio::test]
async fn deploy_call_and_read_logs() {
    let node = start().await;
    let p = provider(&node, 1);
    let deploy = TransactionRequest::default().with_deploy_code(store_and_log_init());
    let receipt = p.send_transaction(deploy).await.unwrap().get_receipt().await.unwrap();
    let address = receipt.contract_address.expect("contractAddress");
    assert_eq!(p.get_code_at(address).await.unwrap().len(), 82);

    let store = TransactionRequest::default().with_to(address).with_input(word(7));
    let receipt = p.send_transaction(store).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());
    assert_eq!(receipt.inner.logs().len(), 1);
    let log = &receipt.inner.logs()[0];
    assert_eq!(log.address(), address);
    assert_eq!(log.topics(), [STORE_TOPIC]);
    assert_eq!(log.data().data, word(7));

    let slot = p.get_storage_at(address, U256::ZERO).await.unwrap();
    assert_eq!(slot, U256::from(7));
    // eth_call returns the old value and does not change state.
    let call = TransactionRequest::default().with_to(address).with_input(word(9));
    assert_eq!(p.call(call).await.unwrap(), word(7));
    assert_eq!(p.get_storage_at(address, U256::ZERO).await.unwrap(), U256::from(7));

    let logs = p
        .get_logs(&Filter::new().address(address).event_signature(STORE_TOPIC).from_block(0))
        .await
        .unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].transaction_hash, Some(receipt.transaction_hash));
    let none = p
        .get_logs(&Filter::new().address(address).event_signature(B256::ZERO).from_block(0))
        .await
        .unwrap();
    assert!(none.is_empty());

    // Estimates are enough to run the transaction.
    let estimate = p
        .estimate_gas(
            TransactionRequest::default().with_to(address).with_input(word(11)).from(receipt.from),
        )
        .await
        .unwrap();
    let tight = TransactionRequest::default()
        .with_to(address)
        .with_input(word(11))
        .with_gas_limit(estimate);
    assert!(p.send_transaction(tight).await.unwrap().get_receipt().await.unwrap().status());
}

#[tokio::test]
async fn eth_call_honours_state_overrides_and_block_tags() {
    let node = start().await;
    let p = provider(&node, 0);
    let target = alloy_primitives::Address::repeat_byte(0x77);
    let runtime = &store_and_log_init()[11..];
    let call = serde_json::json!({"to": target, "input": word(5)});
    let overrides = serde_json::json!({ target.to_string(): {"code": hex::encode_prefixed(runtime), "stateDiff": {format!("{:#066x}", 0): format!("{:#066x}", 3)}} });
    let response = rpc(&node, "eth_call", serde_json::json!([call, "latest", overrides])).await;
    assert_eq!(response["result"], hex::encode_prefixed(word(3)));
    // Without the override the address has no code and the call returns nothing.
    let plain = rpc(&node, "eth_call", serde_json::json!([call, "latest"])).await;
    assert_eq!(plain["result"], "0x");
    let _ = p.get_block_number().await.unwrap();
    let missing = rpc(&node, "eth_call", serde_json::json!([call, "0x99"])).await;
    assert_eq!(missing["error"]["message"], "header not found");
}

#[tokio::test]
async fn eip3541_is_relaxed_only_for_stylus_prefixes() {
    let node = start().await;
    let p = provider(&node, 9);
    let deploy = |init: &'static str| {
        TransactionRequest::default()
            .with_deploy_code(hex::decode(init).unwrap())
            .with_gas_limit(200_000)
    };
    // Returns EF 00: rejected as on Ethereum and Nitro.
    let plain_ef = p
        .send_transaction(deploy("60ef60005360026000f3"))
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(!plain_ef.status());
    // Returns EF F0 01 (a Stylus fragment): allowed.
    let fragment = deploy("60ef60005360f0600153600160025360036000f3");
    let receipt = p.send_transaction(fragment).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());
    let code = p.get_code_at(receipt.contract_address.unwrap()).await.unwrap();
    assert_eq!(code.as_ref(), [0xef, 0xf0, 0x01]);
}

#[tokio::test]
async fn polling_filters_report_new_blocks_and_logs_once() {
    let node = start().await;
    let p = provider(&node, 5);
    let deploy = TransactionRequest::default().with_deploy_code(store_and_log_init());
    let address = p
        .send_transaction(deploy)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap()
        .contract_address
        .unwrap();
    let logs =
        rpc(&node, "eth_newFilter", serde_json::json!([{"address": address}])).await["result"]
            .clone();
    let blocks = rpc(&node, "eth_newBlockFilter", serde_json::json!([])).await["result"].clone();
    let store = TransactionRequest::default().with_to(address).with_input(word(3));
    p.send_transaction(store).await.unwrap().get_receipt().await.unwrap();

    let changes =
        rpc(&node, "eth_getFilterChanges", serde_json::json!([logs])).await["result"].clone();
    assert_eq!(changes.as_array().unwrap().len(), 1);
    assert_eq!(changes[0]["data"], hex::encode_prefixed(word(3)));
    let again =
        rpc(&node, "eth_getFilterChanges", serde_json::json!([logs])).await["result"].clone();
    assert_eq!(again, serde_json::json!([]));
    assert_eq!(
        rpc(&node, "eth_getFilterLogs", serde_json::json!([logs])).await["result"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let new_blocks =
        rpc(&node, "eth_getFilterChanges", serde_json::json!([blocks])).await["result"].clone();
    assert_eq!(new_blocks.as_array().unwrap().len(), 1);
    assert_eq!(rpc(&node, "eth_uninstallFilter", serde_json::json!([logs])).await["result"], true);
    assert!(
        rpc(&node, "eth_getFilterChanges", serde_json::json!([logs])).await["error"].is_object()
    );
}
