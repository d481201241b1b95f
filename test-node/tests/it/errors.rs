//! Errors as geth reports them, and malformed requests.

use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::TransactionRequest;
use serde_json::json;

use crate::common::{provider, raw, rpc, start, store_and_log_init};

#[tokio::test]
async fn malformed_requests_get_json_rpc_errors() {
    let node = start().await;
    assert_eq!(raw(&node, "{not json").await["error"]["code"], -32700);
    assert_eq!(raw(&node, "[]").await["error"]["code"], -32600);
    assert_eq!(raw(&node, r#"{"id":1}"#).await["error"]["code"], -32600);
    assert_eq!(rpc(&node, "eth_nope", json!([])).await["error"]["code"], -32601);
    assert_eq!(rpc(&node, "eth_getBalance", json!(["0x12"])).await["error"]["code"], -32602);
    assert_eq!(
        rpc(&node, "eth_sendRawTransaction", json!(["0x1234"])).await["error"]["code"],
        -32000
    );
    let batch = raw(&node, r#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","id":2,"method":"eth_blockNumber","params":[]}]"#).await;
    assert_eq!(batch[0]["result"], "0x64aba");
    assert_eq!(batch[1]["result"], "0x0");
    // The node is still serving.
    assert_eq!(rpc(&node, "eth_chainId", json!([])).await["result"], "0x64aba");
    let health = reqwest::get(format!("{}/health", node.url())).await.unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn rejected_transactions_use_geth_messages() {
    let node = start().await;
    let p = provider(&node, 2);
    let from = crate::common::signer(2).address();
    let to = Address::repeat_byte(1);
    let sent = TransactionRequest::default()
        .with_to(to)
        .with_nonce(0)
        .with_gas_limit(21_000)
        .with_max_fee_per_gas(200_000_000)
        .with_max_priority_fee_per_gas(0);
    p.send_transaction(sent.clone()).await.unwrap().get_receipt().await.unwrap();

    let err = p.send_transaction(sent.clone()).await.unwrap_err().to_string();
    assert!(err.contains("nonce too low"), "{err}");
    let err = p.send_transaction(sent.clone().with_nonce(5)).await.unwrap_err().to_string();
    assert!(err.contains("nonce too high"), "{err}");
    let err = p
        .send_transaction(sent.clone().with_nonce(1).with_gas_limit(20_000))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("intrinsic gas too low"), "{err}");
    let rich = U256::from(10u64).pow(U256::from(30u64));
    let err = p
        .send_transaction(sent.clone().with_nonce(1).with_value(rich))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("insufficient funds for gas * price + value"), "{err}");
    let err = p
        .send_transaction(sent.with_nonce(1).with_max_fee_per_gas(1))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("max fee per gas less than block base fee"), "{err}");
    assert_eq!(p.get_transaction_count(from).await.unwrap(), 1);
}

#[tokio::test]
async fn reverts_carry_their_data() {
    let node = start().await;
    let p = provider(&node, 3);
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
    let dead = format!("{:#066x}", 0xdead);
    let call = json!({"to": address, "input": dead});
    let response = rpc(&node, "eth_call", json!([call])).await;
    assert_eq!(
        response["error"],
        json!({"code": 3, "message": "execution reverted", "data": "0xcafebabe"})
    );
    let estimate = rpc(&node, "eth_estimateGas", json!([call])).await;
    assert_eq!(estimate["error"]["data"], "0xcafebabe");
    // A reverting transaction is still mined, with status 0.
    let tx = TransactionRequest::default()
        .with_to(address)
        .with_input(alloy_primitives::hex::decode(&dead).unwrap())
        .with_gas_limit(100_000);
    let receipt = p.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    assert!(!receipt.status());
}

#[tokio::test]
async fn invalid_signatures_are_rejected() {
    use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
    use alloy_eips::eip2718::Encodable2718;
    let node = start().await;
    let tx = TxEip1559 {
        chain_id: 412_346,
        gas_limit: 21_000,
        max_fee_per_gas: 1_000_000_000,
        ..Default::default()
    };
    let bogus = alloy_primitives::Signature::new(U256::ZERO, U256::from(1), false);
    let raw = TxEnvelope::from(tx.into_signed(bogus)).encoded_2718();
    let response =
        rpc(&node, "eth_sendRawTransaction", json!([alloy_primitives::hex::encode_prefixed(raw)]))
            .await;
    assert_eq!(response["error"]["message"], "invalid transaction v, r, s values");
}
