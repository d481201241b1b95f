//! Retryable tickets: L1 messages through `testnode_submitRetryable` / `submit_retryable`,
//! auto-redeems, ArbRetryableTx's redeem, keepalive, cancel and queries, expiry, and the retry
//! transactions and receipts in blocks.

use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, B256, Bytes, U256, hex};
use alloy_provider::Provider;
use alloy_rpc_types_eth::{TransactionReceipt, TransactionRequest};
use alloy_sol_types::{SolCall, SolError, SolEvent};
use assay_test_node::{
    BASE_FEE, NodeHandle, RetryableMessage,
    precompiles::ARB_RETRYABLE_TX,
    retryables::{ArbRetryableTx as R, escrow_address, l1_to_l2_alias},
};
use serde_json::{Value, json};

use crate::common::{STORE_TOPIC, provider, rpc, signer, start, store_and_log_init};

/// The L1 account sending the messages.
const L1_SENDER: Address = Address::repeat_byte(0x11);
/// Where unused fees go.
const FEE_REFUND: Address = Address::repeat_byte(0xfe);
/// Seven days.
const LIFETIME: u64 = 604_800;

/// An EVM contract recording, on any call, `ArbRetryableTx.getCurrentRedeemer()` in slot 0,
/// `msg.sender` in slot 1, `msg.value` in slot 2, and ArbSys's `wasMyCallersAddressAliased()`
/// and `myCallersAddressWithoutAliasing()` in slots 3 and 4.
const RECORDER_INIT: &str = "606380600b6000396000f363de4ba2b360e01b6000526020600060046000606e5afa50600051600055336001553460025563175a260b60e01b600052602060006004600060645afa5060005160035563d74523b360e01b600052602060006004600060645afa5060005160045500";

fn word(value: u64) -> Bytes {
    B256::from(U256::from(value)).0.to_vec().into()
}

/// A ticket calling `to` with `data`, `callvalue` wei and `gas` gas at twice the base fee.
fn message(
    to: Address,
    data: Bytes,
    callvalue: u64,
    gas: u64,
    beneficiary: Address,
) -> RetryableMessage {
    RetryableMessage {
        from: L1_SENDER,
        to,
        l2_call_value: U256::from(callvalue),
        excess_fee_refund_address: FEE_REFUND,
        call_value_refund_address: beneficiary,
        gas_limit: U256::from(gas),
        max_fee_per_gas: U256::from(if gas == 0 { 0 } else { 2 * BASE_FEE }),
        data,
        ..RetryableMessage::default()
    }
}

async fn deploy(node: &NodeHandle, init: Bytes) -> Address {
    let tx = TransactionRequest::default().with_deploy_code(init);
    let receipt =
        provider(node, 0).send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    receipt.contract_address.unwrap()
}

/// `eth_call` to ArbRetryableTx: the output, or the revert data.
async fn query(node: &NodeHandle, input: Vec<u8>) -> Result<Bytes, Bytes> {
    let call = json!({"to": ARB_RETRYABLE_TX, "input": hex::encode_prefixed(input)});
    let response = rpc(node, "eth_call", json!([call])).await;
    let field = |value: &Value| value.as_str().unwrap().parse::<Bytes>().unwrap();
    match response.get("result") {
        Some(result) => Ok(field(result)),
        None => Err(field(&response["error"]["data"])),
    }
}

async fn timeout(node: &NodeHandle, ticket: B256) -> Result<U256, Bytes> {
    let output = query(node, R::getTimeoutCall { ticketId: ticket }.abi_encode()).await?;
    Ok(R::getTimeoutCall::abi_decode_returns(&output).unwrap())
}

fn no_ticket() -> Bytes {
    R::NoTicketWithID {}.abi_encode().into()
}

/// Sends `input` to ArbRetryableTx from anvil account `index`.
async fn send(node: &NodeHandle, index: usize, input: Vec<u8>) -> TransactionReceipt {
    let tx = TransactionRequest::default()
        .with_to(ARB_RETRYABLE_TX)
        .with_input(input)
        .with_gas_limit(1_000_000);
    provider(node, index).send_transaction(tx).await.unwrap().get_receipt().await.unwrap()
}

async fn balance(node: &NodeHandle, address: Address) -> U256 {
    provider(node, 0).get_balance(address).await.unwrap()
}

async fn slot(node: &NodeHandle, address: Address, slot: u64) -> U256 {
    provider(node, 0).get_storage_at(address, U256::from(slot)).await.unwrap()
}

async fn receipt_json(node: &NodeHandle, hash: B256) -> Value {
    rpc(node, "eth_getTransactionReceipt", json!([hash])).await["result"].clone()
}

async fn submit(node: &NodeHandle, message: &RetryableMessage) -> Value {
    let params = json!({
        "from": message.from,
        "to": message.to,
        "l2CallValue": message.l2_call_value,
        "maxSubmissionCost": message.max_submission_cost,
        "excessFeeRefundAddress": message.excess_fee_refund_address,
        "callValueRefundAddress": message.call_value_refund_address,
        "gasLimit": message.gas_limit,
        "maxFeePerGas": message.max_fee_per_gas,
        "data": message.data,
    });
    let response = rpc(node, "testnode_submitRetryable", json!([params])).await;
    response["result"].clone()
}

#[tokio::test]
async fn a_ticket_with_enough_gas_is_auto_redeemed_in_its_block() {
    let node = start().await;
    let target = deploy(&node, store_and_log_init()).await;
    let beneficiary = Address::repeat_byte(0xbe);
    let gas = 100_000;
    let result = submit(&node, &message(target, word(5), 1_000, gas, beneficiary)).await;
    let ticket: B256 = result["ticketId"].as_str().unwrap().parse().unwrap();
    assert_eq!(result["autoRedeem"]["success"], true, "{result}");
    let retry_hash: B256 = result["autoRedeem"]["retryTxHash"].as_str().unwrap().parse().unwrap();

    // The retry ran: target state and value, ticket gone, escrow empty.
    assert_eq!(slot(&node, target, 0).await, U256::from(5));
    assert_eq!(balance(&node, target).await, U256::from(1_000));
    assert_eq!(timeout(&node, ticket).await, Err(no_ticket()));
    assert_eq!(balance(&node, escrow_address(ticket)).await, U256::ZERO);

    // The submission: type 0x69, its hash is the ticket id, TicketCreated + RedeemScheduled.
    let submission = receipt_json(&node, ticket).await;
    assert_eq!(
        (submission["type"].as_str(), submission["status"].as_str()),
        (Some("0x69"), Some("0x1"))
    );
    assert_eq!(submission["transactionIndex"], "0x0");
    let logs = submission["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 2);
    assert_eq!(logs[0]["topics"], json!([R::TicketCreated::SIGNATURE_HASH, ticket]));
    assert_eq!(logs[1]["address"], json!(ARB_RETRYABLE_TX));
    let topics = &logs[1]["topics"];
    assert_eq!(topics[0], json!(R::RedeemScheduled::SIGNATURE_HASH));
    assert_eq!((topics[1].clone(), topics[2].clone()), (json!(ticket), json!(retry_hash)));
    assert_eq!(topics[3], json!(B256::ZERO), "sequence number 0");

    // The retry: type 0x68, right after it in the same block, with the target's log.
    let retry = receipt_json(&node, retry_hash).await;
    assert_eq!((retry["type"].as_str(), retry["status"].as_str()), (Some("0x68"), Some("0x1")));
    assert_eq!(retry["blockNumber"], submission["blockNumber"]);
    assert_eq!(retry["transactionIndex"], "0x1");
    assert_eq!(retry["logs"][0]["topics"], json!([STORE_TOPIC]));
    assert_eq!(retry["logs"][0]["logIndex"], "0x2");
    let sender = l1_to_l2_alias(L1_SENDER);
    assert_eq!(retry["from"], json!(sender));
    let tx = rpc(&node, "eth_getTransactionByHash", json!([retry_hash])).await["result"].clone();
    assert_eq!(
        (tx["ticketId"].clone(), tx["refundTo"].clone()),
        (json!(ticket), json!(FEE_REFUND))
    );
    assert_eq!((tx["to"].clone(), tx["value"].as_str()), (json!(target), Some("0x3e8")));
    let tx = rpc(&node, "eth_getTransactionByHash", json!([ticket])).await["result"].clone();
    assert_eq!((tx["type"].as_str(), tx["requestId"].clone()), (Some("0x69"), json!(B256::ZERO)));
    assert_eq!(tx["to"], json!(ARB_RETRYABLE_TX));
    assert_eq!(tx["input"].as_str().unwrap()[..10], *"0xc9f95d32");
    let block = rpc(&node, "eth_getBlockByNumber", json!([submission["blockNumber"], true])).await;
    assert_eq!(block["result"]["transactions"][1]["type"], "0x68");

    // Fees: the sender keeps nothing; the refund address gets the bid above the base fee and
    // the unused gas.
    let gas_used = u64::from_str_radix(&retry["gasUsed"].as_str().unwrap()[2..], 16).unwrap();
    assert_eq!(balance(&node, sender).await, U256::ZERO);
    let refunds = BASE_FEE * gas + BASE_FEE * (gas - gas_used);
    assert_eq!(balance(&node, FEE_REFUND).await, U256::from(refunds));

    // The next message gets the next request id.
    let next = node.submit_retryable(&message(target, word(6), 0, gas, beneficiary)).unwrap();
    let tx =
        rpc(&node, "eth_getTransactionByHash", json!([next.ticket_id])).await["result"].clone();
    assert_eq!(tx["requestId"], json!(B256::with_last_byte(1)));
    assert!(next.auto_redeem.unwrap().success);
    assert_eq!(slot(&node, target, 0).await, U256::from(6));
}

#[tokio::test]
async fn a_ticket_without_gas_waits_is_kept_alive_and_redeemed_by_anyone() {
    let node = start().await;
    let target = deploy(&node, store_and_log_init()).await;
    let beneficiary = Address::repeat_byte(0xbe);
    let submitted = node.submit_retryable(&message(target, word(9), 50, 0, beneficiary)).unwrap();
    let ticket = submitted.ticket_id;
    assert_eq!(submitted.auto_redeem, None);
    let created = provider(&node, 0)
        .get_block_by_number(submitted.block_number.into())
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp;
    assert_eq!(timeout(&node, ticket).await, Ok(U256::from(created + LIFETIME)));
    let output = query(&node, R::getBeneficiaryCall { ticketId: ticket }.abi_encode()).await;
    assert_eq!(R::getBeneficiaryCall::abi_decode_returns(&output.unwrap()).unwrap(), beneficiary);
    assert_eq!(balance(&node, escrow_address(ticket)).await, U256::from(50));
    let redeemer = query(&node, R::getCurrentRedeemerCall {}.abi_encode()).await.unwrap();
    assert_eq!(R::getCurrentRedeemerCall::abi_decode_returns(&redeemer).unwrap(), Address::ZERO);
    assert_eq!(query(&node, R::getLifetimeCall {}.abi_encode()).await.unwrap(), word(LIFETIME));

    // keepalive: one more lifetime, once; then it is too far in the future.
    let kept = send(&node, 4, R::keepaliveCall { ticketId: ticket }.abi_encode()).await;
    assert!(kept.status());
    let log = &kept.inner.logs()[0];
    let event = R::LifetimeExtended::decode_log_data(log.data()).unwrap();
    assert_eq!((event.ticketId, event.newTimeout), (ticket, U256::from(created + 2 * LIFETIME)));
    assert_eq!(timeout(&node, ticket).await, Ok(U256::from(created + 2 * LIFETIME)));
    let again = query(&node, R::keepaliveCall { ticketId: ticket }.abi_encode()).await;
    assert_eq!(again, Err(Bytes::new()));

    // Anyone may redeem: the retry runs right after the redeem, with the donated gas.
    let redeem = send(&node, 3, R::redeemCall { ticketId: ticket }.abi_encode()).await;
    assert!(redeem.status());
    let scheduled = R::RedeemScheduled::decode_log_data(redeem.inner.logs()[0].data()).unwrap();
    assert_eq!((scheduled.ticketId, scheduled.sequenceNum), (ticket, 0));
    assert_eq!(scheduled.gasDonor, signer(3).address());
    assert_eq!(scheduled.maxRefund, U256::MAX);
    assert!(scheduled.donatedGas > 800_000, "{}", scheduled.donatedGas);
    let retry = receipt_json(&node, scheduled.retryTxHash).await;
    assert_eq!(retry["status"], "0x1");
    assert_eq!(retry["blockNumber"], json!(format!("{:#x}", redeem.block_number.unwrap())));
    let tx = rpc(&node, "eth_getTransactionByHash", json!([scheduled.retryTxHash])).await;
    assert_eq!(tx["result"]["gas"], json!(format!("{:#x}", scheduled.donatedGas)));
    assert_eq!(slot(&node, target, 0).await, U256::from(9));
    assert_eq!(balance(&node, target).await, U256::from(50));
    assert_eq!(timeout(&node, ticket).await, Err(no_ticket()));

    // A second redeem finds no ticket.
    assert_eq!(
        query(&node, R::redeemCall { ticketId: ticket }.abi_encode()).await,
        Err(no_ticket())
    );
    assert!(!send(&node, 3, R::redeemCall { ticketId: ticket }.abi_encode()).await.status());
}

#[tokio::test]
async fn a_failing_retry_keeps_the_ticket_and_its_escrow() {
    let node = start().await;
    let target = deploy(&node, store_and_log_init()).await;
    // 0xdead makes the target revert.
    let msg = message(target, word(0xdead), 70, 100_000, Address::repeat_byte(0xbe));
    let submitted = node.submit_retryable(&msg).unwrap();
    let ticket = submitted.ticket_id;
    let auto = submitted.auto_redeem.unwrap();
    assert!(!auto.success);
    assert_eq!(receipt_json(&node, auto.retry_tx_hash).await["status"], "0x0");
    assert!(timeout(&node, ticket).await.is_ok());
    assert_eq!(balance(&node, escrow_address(ticket)).await, U256::from(70));
    assert_eq!(balance(&node, target).await, U256::ZERO);

    // A manual redeem is the second try and fails the same way.
    let redeem = send(&node, 2, R::redeemCall { ticketId: ticket }.abi_encode()).await;
    assert!(redeem.status(), "the redeem itself succeeds");
    let scheduled = R::RedeemScheduled::decode_log_data(redeem.inner.logs()[0].data()).unwrap();
    assert_eq!(scheduled.sequenceNum, 1);
    assert_eq!(receipt_json(&node, scheduled.retryTxHash).await["status"], "0x0");
    assert!(timeout(&node, ticket).await.is_ok());
    assert_eq!(balance(&node, escrow_address(ticket)).await, U256::from(70));
}

#[tokio::test]
async fn only_the_beneficiary_cancels_and_gets_the_escrow() {
    let node = start().await;
    let beneficiary = signer(6).address();
    let msg = message(Address::repeat_byte(0x42), Bytes::new(), 12_345, 0, beneficiary);
    let ticket = node.submit_retryable(&msg).unwrap().ticket_id;
    let cancel = R::cancelCall { ticketId: ticket }.abi_encode();

    let stranger = send(&node, 7, cancel.clone()).await;
    assert!(!stranger.status());
    assert!(timeout(&node, ticket).await.is_ok());

    let before = balance(&node, beneficiary).await;
    let canceled = send(&node, 6, cancel.clone()).await;
    assert!(canceled.status());
    let log = &canceled.inner.logs()[0];
    assert_eq!(log.topics(), [R::Canceled::SIGNATURE_HASH, ticket]);
    let fee = U256::from(canceled.gas_used) * U256::from(canceled.effective_gas_price);
    assert_eq!(balance(&node, beneficiary).await, before - fee + U256::from(12_345));
    assert_eq!(balance(&node, escrow_address(ticket)).await, U256::ZERO);
    assert_eq!(timeout(&node, ticket).await, Err(no_ticket()));
    assert!(!send(&node, 6, cancel).await.status());
}

#[tokio::test]
async fn expired_tickets_are_gone_and_reaped_to_the_beneficiary() {
    let node = start().await;
    let beneficiary = Address::repeat_byte(0x77);
    let msg = message(Address::repeat_byte(0x42), Bytes::new(), 777, 0, beneficiary);
    let ticket = node.submit_retryable(&msg).unwrap().ticket_id;
    rpc(&node, "evm_increaseTime", json!([LIFETIME - 100])).await;
    rpc(&node, "evm_mine", json!([])).await;
    assert!(timeout(&node, ticket).await.is_ok(), "not yet expired");

    rpc(&node, "evm_increaseTime", json!([200])).await;
    rpc(&node, "evm_mine", json!([])).await;
    assert_eq!(timeout(&node, ticket).await, Err(no_ticket()));
    assert_eq!(
        query(&node, R::redeemCall { ticketId: ticket }.abi_encode()).await,
        Err(no_ticket())
    );
    // The reaper at the start of that block paid the escrow to the beneficiary.
    assert_eq!(balance(&node, beneficiary).await, U256::from(777));
    assert_eq!(balance(&node, escrow_address(ticket)).await, U256::ZERO);
}

#[tokio::test]
async fn the_redeemer_is_visible_inside_the_retry() {
    let node = start().await;
    let recorder = deploy(&node, hex::decode(RECORDER_INIT).unwrap().into()).await;
    let auto = node
        .submit_retryable(&message(recorder, Bytes::new(), 3, 200_000, Address::repeat_byte(0xbe)))
        .unwrap();
    assert!(auto.auto_redeem.unwrap().success);
    let address_in = |word: U256| Address::from_slice(&word.to_be_bytes::<32>()[12..]);
    // The auto-redeem's redeemer is the fee refund address; msg.sender is the aliased sender.
    assert_eq!(address_in(slot(&node, recorder, 0).await), FEE_REFUND);
    assert_eq!(address_in(slot(&node, recorder, 1).await), l1_to_l2_alias(L1_SENDER));
    assert_eq!(slot(&node, recorder, 2).await, U256::from(3));
    // ArbSys tells the retry's target that its caller is the aliased L1 sender.
    assert_eq!(slot(&node, recorder, 3).await, U256::from(1));
    assert_eq!(address_in(slot(&node, recorder, 4).await), L1_SENDER);

    let waiting = node
        .submit_retryable(&message(recorder, Bytes::new(), 0, 0, Address::repeat_byte(0xbe)))
        .unwrap();
    let redeem = send(&node, 2, R::redeemCall { ticketId: waiting.ticket_id }.abi_encode()).await;
    assert!(redeem.status());
    assert_eq!(address_in(slot(&node, recorder, 0).await), signer(2).address());

    // Outside retries nothing is aliased.
    let tx = TransactionRequest::default().with_to(recorder).with_gas_limit(300_000);
    let receipt =
        provider(&node, 5).send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());
    assert_eq!(slot(&node, recorder, 0).await, U256::ZERO);
    assert_eq!(slot(&node, recorder, 3).await, U256::ZERO);
}

#[tokio::test]
async fn snapshots_and_state_dumps_keep_tickets() {
    let node = start().await;
    let beneficiary = Address::repeat_byte(0xbe);
    let msg = message(Address::repeat_byte(0x42), word(1), 99, 0, beneficiary);
    let ticket = node.submit_retryable(&msg).unwrap().ticket_id;

    let id = rpc(&node, "evm_snapshot", json!([])).await["result"].clone();
    assert!(send(&node, 1, R::redeemCall { ticketId: ticket }.abi_encode()).await.status());
    assert_eq!(timeout(&node, ticket).await, Err(no_ticket()));
    assert_eq!(rpc(&node, "evm_revert", json!([id])).await["result"], true);
    assert!(timeout(&node, ticket).await.is_ok(), "the revert restores the ticket");

    let dump = rpc(&node, "anvil_dumpState", json!([])).await["result"].clone();
    let fresh = start().await;
    assert_eq!(rpc(&fresh, "anvil_loadState", json!([dump])).await["result"], true);
    let output = query(&fresh, R::getBeneficiaryCall { ticketId: ticket }.abi_encode()).await;
    assert_eq!(R::getBeneficiaryCall::abi_decode_returns(&output.unwrap()).unwrap(), beneficiary);
    assert_eq!(balance(&fresh, escrow_address(ticket)).await, U256::from(99));
    assert!(send(&fresh, 1, R::redeemCall { ticketId: ticket }.abi_encode()).await.status());
    assert_eq!(balance(&fresh, Address::repeat_byte(0x42)).await, U256::from(99));
}

#[tokio::test]
async fn a_stylus_program_is_a_retry_target() {
    use crate::stylus::{Counter, Incremented, activate, counter_code, deploy_init, number};
    let node = start().await;
    let p = provider(&node, 0);
    let counter = crate::stylus::deploy(&p, deploy_init(&counter_code())).await;
    activate(&node, &p, counter).await;
    let data = Counter::incrementCall {}.abi_encode().into();
    let submitted = node
        .submit_retryable(&message(counter, data, 0, 500_000, Address::repeat_byte(0xbe)))
        .unwrap();
    let retry = submitted.auto_redeem.unwrap();
    assert!(retry.success);
    assert_eq!(number(&p, counter).await, U256::from(1));
    let receipt = receipt_json(&node, retry.retry_tx_hash).await;
    let data: Bytes = receipt["logs"][0]["data"].as_str().unwrap().parse().unwrap();
    let topics: Vec<B256> = serde_json::from_value(receipt["logs"][0]["topics"].clone()).unwrap();
    let event = Incremented::decode_raw_log(topics, &data).unwrap();
    assert_eq!(event.by, l1_to_l2_alias(L1_SENDER));
}

#[tokio::test]
async fn retries_follow_their_redeem_when_blocks_are_mined_on_demand() {
    let node = start().await;
    let target = deploy(&node, store_and_log_init()).await;
    let ticket = node
        .submit_retryable(&message(target, word(3), 0, 0, Address::repeat_byte(0xbe)))
        .unwrap()
        .ticket_id;
    rpc(&node, "evm_setAutomine", json!([false])).await;
    let tx = json!({
        "from": signer(1).address(),
        "to": ARB_RETRYABLE_TX,
        "gas": "0x100000",
        "input": hex::encode_prefixed(R::redeemCall { ticketId: ticket }.abi_encode()),
    });
    let hash = rpc(&node, "eth_sendTransaction", json!([tx])).await["result"].clone();
    rpc(&node, "evm_mine", json!([])).await;
    let block =
        rpc(&node, "eth_getBlockByNumber", json!(["latest", false])).await["result"].clone();
    let txs = block["transactions"].as_array().unwrap();
    assert_eq!(txs.len(), 2);
    assert_eq!(txs[0], hash);
    assert_eq!(
        receipt_json(&node, txs[1].as_str().unwrap().parse().unwrap()).await["type"],
        "0x68"
    );
    assert_eq!(slot(&node, target, 0).await, U256::from(3));
}

#[tokio::test]
async fn bad_messages_and_internal_transaction_types_are_refused() {
    let node = start().await;
    let missing = rpc(&node, "testnode_submitRetryable", json!([{"from": L1_SENDER}])).await;
    assert_eq!(missing["error"]["code"], -32602);
    let mut msg = message(Address::repeat_byte(0x42), Bytes::new(), 10, 0, Address::ZERO);
    let short = json!([{
        "from": L1_SENDER, "to": msg.to, "l2CallValue": "0xa", "maxSubmissionCost": "0x0",
        "excessFeeRefundAddress": FEE_REFUND, "callValueRefundAddress": FEE_REFUND,
        "gasLimit": "0x0", "maxFeePerGas": "0x0", "deposit": "0x9",
    }]);
    let response = rpc(&node, "testnode_submitRetryable", short).await;
    assert_eq!(response["error"]["code"], -32602);
    assert!(response["error"]["message"].as_str().unwrap().contains("InsufficientValue"));
    msg.request_id = Some(B256::repeat_byte(7));
    node.submit_retryable(&msg).unwrap();
    assert!(node.submit_retryable(&msg).is_err(), "the same ticket id twice");

    for ty in ["0x64", "0x68", "0x69", "0x6a"] {
        let raw = format!("{ty}c0");
        let response = rpc(&node, "eth_sendRawTransaction", json!([raw])).await;
        let message = response["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("transaction type not supported"), "{message}");
    }
    let not_callable = R::submitRetryableCall {
        requestId: B256::ZERO,
        l1BaseFee: U256::ZERO,
        deposit: U256::ZERO,
        callvalue: U256::ZERO,
        gasFeeCap: U256::ZERO,
        gasLimit: 0,
        maxSubmissionFee: U256::ZERO,
        feeRefundAddress: Address::ZERO,
        beneficiary: Address::ZERO,
        retryTo: Address::ZERO,
        retryData: Bytes::new(),
    };
    let expected: Bytes = R::NotCallable {}.abi_encode().into();
    assert_eq!(query(&node, not_callable.abi_encode()).await, Err(expected));
}
