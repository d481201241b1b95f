//! Signed transactions of every type, receipts, blocks and the genesis.

use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, U256, hex};
use alloy_provider::Provider;
use alloy_rpc_types_eth::{BlockNumberOrTag, TransactionRequest};
use assay_test_node::{BASE_FEE, genesis};

use crate::common::{provider, rpc, signer, start};

#[tokio::test]
async fn genesis_matches_nitro_dev_node() {
    let node = start().await;
    let p = provider(&node, 0);
    assert_eq!(p.get_chain_id().await.unwrap(), 412_346);
    assert_eq!(p.get_block_number().await.unwrap(), 0);
    assert_eq!(p.get_gas_price().await.unwrap(), u128::from(BASE_FEE));
    for (index, (address, _)) in genesis::ANVIL_ACCOUNTS.iter().enumerate() {
        assert_eq!(signer(index).address(), *address, "anvil key {index}");
        assert_eq!(p.get_balance(*address).await.unwrap(), genesis::anvil_balance());
    }
    assert!(p.get_balance(genesis::DEV_ACCOUNT).await.unwrap() > genesis::anvil_balance());
    let deployer = p.get_code_at(genesis::STYLUS_DEPLOYER).await.unwrap();
    assert_eq!(deployer, genesis::stylus_deployer_runtime());
    assert_eq!(p.get_code_at(genesis::CREATE2_FACTORY).await.unwrap().len(), 69);
    assert_eq!(rpc(&node, "net_version", serde_json::json!([])).await["result"], "412346");
    let version = rpc(&node, "web3_clientVersion", serde_json::json!([])).await;
    assert!(version["result"].as_str().unwrap().starts_with("assay-test-node/"));
}

#[tokio::test]
async fn legacy_2930_and_1559_transfers_are_mined_one_block_each() {
    let node = start().await;
    let p = provider(&node, 0);
    let to = Address::repeat_byte(0x42);
    let value = U256::from(1_000_000_000u64);
    let legacy =
        TransactionRequest::default().with_to(to).with_value(value).with_gas_price(BASE_FEE.into());
    let eip2930 = legacy.clone().with_access_list(Default::default());
    let eip1559 = TransactionRequest::default()
        .with_to(to)
        .with_value(value)
        .with_max_fee_per_gas(u128::from(BASE_FEE) * 2)
        .with_max_priority_fee_per_gas(0);
    let mut types = Vec::new();
    for request in [legacy, eip2930, eip1559] {
        let receipt = p.send_transaction(request).await.unwrap().get_receipt().await.unwrap();
        assert!(receipt.status());
        assert_eq!(receipt.gas_used, 21_000);
        assert_eq!(receipt.effective_gas_price, u128::from(BASE_FEE));
        types.push(receipt.transaction_type() as u8);
    }
    assert_eq!(types, [0, 1, 2]);
    assert_eq!(p.get_block_number().await.unwrap(), 3);
    assert_eq!(p.get_balance(to).await.unwrap(), value * U256::from(3));
    assert_eq!(p.get_transaction_count(signer(0).address()).await.unwrap(), 3);
    let block = p.get_block_by_number(BlockNumberOrTag::Number(2)).full().await.unwrap().unwrap();
    assert_eq!(block.transactions.len(), 1);
    let hashes = p.get_block_by_number(BlockNumberOrTag::Latest).await.unwrap().unwrap();
    assert_eq!(hashes.header.number, 3);
    assert_eq!(hashes.header.parent_hash, block.header.hash);
    let by_index =
        rpc(&node, "eth_getTransactionByBlockNumberAndIndex", serde_json::json!(["0x2", "0x0"]))
            .await;
    assert_eq!(
        by_index["result"]["hash"],
        serde_json::json!(block.transactions.hashes().next().unwrap())
    );
    let by_hash = rpc(
        &node,
        "eth_getTransactionByBlockHashAndIndex",
        serde_json::json!([block.header.hash, "0x1"]),
    )
    .await;
    assert_eq!(by_hash["result"], serde_json::Value::Null);
    let count =
        rpc(&node, "eth_getBlockTransactionCountByHash", serde_json::json!([block.header.hash]))
            .await;
    assert_eq!(count["result"], "0x1");
}

#[tokio::test]
async fn create2_factory_install_transaction_is_accepted() {
    let node = start().await;
    let raw = hex::decode(genesis::CREATE2_FACTORY_TX_HEX.trim()).unwrap();
    let response =
        rpc(&node, "eth_sendRawTransaction", serde_json::json!([hex::encode_prefixed(&raw)])).await;
    let hash = response["result"].as_str().expect("accepted");
    let receipt = rpc(&node, "eth_getTransactionReceipt", serde_json::json!([hash])).await;
    assert_eq!(receipt["result"]["from"], format!("{:#x}", genesis::CREATE2_FACTORY_SIGNER));
    assert_eq!(receipt["result"]["contractAddress"], format!("{:#x}", genesis::CREATE2_FACTORY));
    // Nitro's receipt extras.
    assert_eq!(receipt["result"]["gasUsedForL1"], "0x0");
    assert_eq!(receipt["result"]["l1BlockNumber"], receipt["result"]["blockNumber"]);
}
