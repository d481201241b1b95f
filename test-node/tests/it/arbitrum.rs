//! Arbitrum precompiles: ArbSys's send accumulator with NodeInterface proofs, block queries,
//! and the accepted no-op and fee precompiles.

use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::{BlockNumberOrTag, TransactionRequest};
use alloy_sol_types::{SolCall, SolEvent, sol};
use assay_test_node::precompiles::{
    ARB_DEBUG, ARB_GAS_INFO, ARB_OWNER, ARB_OWNER_PUBLIC, ARB_RETRYABLE_TX, ARB_SYS,
    NODE_INTERFACE,
    merkle::{self, SendItem},
};
use serde_json::json;

use crate::common::{provider, rpc, signer, start};

sol! {
    interface ArbSys {
        function arbBlockNumber() external view returns (uint256);
        function arbBlockHash(uint256 arbBlockNum) external view returns (bytes32);
        function arbChainID() external view returns (uint256);
        function arbOSVersion() external view returns (uint256);
        function sendTxToL1(address destination, bytes data) external payable returns (uint256);
        function withdrawEth(address destination) external payable returns (uint256);
    }
    event L2ToL1Tx(address caller, address indexed destination, uint256 indexed hash, uint256 indexed position, uint256 arbBlockNum, uint256 ethBlockNum, uint256 timestamp, uint256 callvalue, bytes data);
    interface NodeInterface {
        function constructOutboxProof(uint64 size, uint64 leaf) external view returns (bytes32 send, bytes32 root, bytes32[] proof);
    }
    interface Misc {
        function getMaxStylusContractFragments() external view returns (uint8);
        function isChainOwner(address addr) external view returns (bool);
        function getMinimumGasPrice() external view returns (uint256);
        function getLifetime() external view returns (uint256);
        function becomeChainOwner() external;
        function setL1PricePerUnit(uint256 price) external;
    }
}

async fn call<C: SolCall>(p: &impl Provider, to: Address, call: C) -> C::Return {
    let tx = TransactionRequest::default().with_to(to).with_input(call.abi_encode());
    C::abi_decode_returns(&p.call(tx).await.unwrap()).unwrap()
}

fn pair(left: B256, right: B256) -> B256 {
    keccak256([left.as_slice(), right.as_slice()].concat())
}

#[tokio::test]
async fn sends_to_l1_accumulate_and_prove_against_the_header_root() {
    let node = start().await;
    let p = provider(&node, 4);
    let sender = signer(4).address();
    let mut sends = Vec::new();
    for i in 0..3u64 {
        let destination = Address::repeat_byte(0x10 + i as u8);
        let value = U256::from(i * 1000);
        let data = vec![i as u8; i as usize];
        let input = ArbSys::sendTxToL1Call { destination, data: data.clone().into() }.abi_encode();
        let tx = TransactionRequest::default()
            .with_to(ARB_SYS)
            .with_input(input)
            .with_value(value)
            .with_gas_limit(200_000);
        let receipt = p.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
        assert!(receipt.status());
        let block = p
            .get_block_by_number(BlockNumberOrTag::Number(receipt.block_number.unwrap()))
            .await
            .unwrap()
            .unwrap();
        let log = receipt
            .inner
            .logs()
            .iter()
            .find(|l| l.topic0() == Some(&L2ToL1Tx::SIGNATURE_HASH))
            .unwrap();
        let event = L2ToL1Tx::decode_log_data(log.data()).unwrap();
        assert_eq!(
            (event.caller, event.destination, event.position),
            (sender, destination, U256::from(i))
        );
        let item = SendItem {
            caller: sender,
            destination,
            l2_block: U256::from(block.header.number),
            l1_block: U256::from(block.header.number),
            timestamp: U256::from(block.header.timestamp),
            value,
            data,
        };
        let hash = merkle::send_hash(&item);
        assert_eq!(event.hash, U256::from_be_bytes(hash.0));
        sends.push(hash);
    }
    // The value is burnt, not kept by ArbSys.
    assert_eq!(p.get_balance(ARB_SYS).await.unwrap(), U256::ZERO);

    let latest =
        rpc(&node, "eth_getBlockByNumber", json!(["latest", false])).await["result"].clone();
    assert_eq!(latest["sendCount"], "0x3");
    for leaf in 0..3u64 {
        let proof =
            call(&p, NODE_INTERFACE, NodeInterface::constructOutboxProofCall { size: 3, leaf })
                .await;
        assert_eq!(proof.send, sends[leaf as usize]);
        assert_eq!(latest["sendRoot"], proof.root.to_string());
        let folded =
            proof.proof.iter().enumerate().fold(keccak256(proof.send), |h, (k, sibling)| {
                if (leaf >> k) & 1 == 0 { pair(h, *sibling) } else { pair(*sibling, h) }
            });
        assert_eq!(folded, proof.root);
    }
    let missing = json!({"to": NODE_INTERFACE, "input": alloy_primitives::hex::encode_prefixed(NodeInterface::constructOutboxProofCall { size: 4, leaf: 0 }.abi_encode())});
    assert!(rpc(&node, "eth_call", json!([missing])).await["error"].is_object());

    // Snapshots include the accumulator.
    let id = rpc(&node, "evm_snapshot", json!([])).await["result"].clone();
    let withdraw = ArbSys::withdrawEthCall { destination: Address::repeat_byte(1) }.abi_encode();
    let tx = TransactionRequest::default()
        .with_to(ARB_SYS)
        .with_input(withdraw)
        .with_value(U256::from(5))
        .with_gas_limit(200_000);
    assert!(p.send_transaction(tx).await.unwrap().get_receipt().await.unwrap().status());
    assert_eq!(
        rpc(&node, "eth_getBlockByNumber", json!(["latest", false])).await["result"]["sendCount"],
        "0x4"
    );
    rpc(&node, "evm_revert", json!([id])).await;
    assert_eq!(
        rpc(&node, "eth_getBlockByNumber", json!(["latest", false])).await["result"]["sendCount"],
        "0x3"
    );
}

#[tokio::test]
async fn block_queries_and_simple_precompiles_answer_like_nitro() {
    let node = start().await;
    let p = provider(&node, 5);
    rpc(&node, "anvil_mine", json!(["0x3"])).await;
    assert_eq!(call(&p, ARB_SYS, ArbSys::arbBlockNumberCall {}).await, U256::from(3));
    let parent = p.get_block_by_number(BlockNumberOrTag::Number(2)).await.unwrap().unwrap();
    assert_eq!(
        call(&p, ARB_SYS, ArbSys::arbBlockHashCall { arbBlockNum: U256::from(2) }).await,
        parent.header.hash
    );
    assert_eq!(call(&p, ARB_SYS, ArbSys::arbChainIDCall {}).await, U256::from(412_346));
    assert!(call(&p, ARB_SYS, ArbSys::arbOSVersionCall {}).await > U256::from(55));
    assert_eq!(call(&p, ARB_OWNER_PUBLIC, Misc::getMaxStylusContractFragmentsCall {}).await, 2);
    let dev = assay_test_node::genesis::DEV_ACCOUNT;
    assert!(call(&p, ARB_OWNER_PUBLIC, Misc::isChainOwnerCall { addr: dev }).await);
    assert_eq!(
        call(&p, ARB_GAS_INFO, Misc::getMinimumGasPriceCall {}).await,
        U256::from(100_000_000)
    );
    assert_eq!(call(&p, ARB_RETRYABLE_TX, Misc::getLifetimeCall {}).await, U256::from(604_800));
    for (to, input) in [
        (ARB_DEBUG, Misc::becomeChainOwnerCall {}.abi_encode()),
        (ARB_OWNER, Misc::setL1PricePerUnitCall { price: U256::ZERO }.abi_encode()),
    ] {
        let tx =
            TransactionRequest::default().with_to(to).with_input(input).with_gas_limit(100_000);
        assert!(p.send_transaction(tx).await.unwrap().get_receipt().await.unwrap().status());
    }
}
