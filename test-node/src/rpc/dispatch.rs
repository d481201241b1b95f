//! The one place requests are dispatched to their handlers.

use serde_json::{Value, json};

use super::{Request, anvil, eth, filters};
use crate::{arbos::BASE_FEE, error::Result, node::Node};

/// Name and version reported by `web3_clientVersion`.
const CLIENT_VERSION: &str = concat!("assay-test-node/v", env!("CARGO_PKG_VERSION"));

fn hex(n: impl Into<u128>) -> Value {
    json!(format!("{:#x}", n.into()))
}

/// Executes a request (subscriptions are handled by the WebSocket layer before this).
///
/// # Errors
/// The handler's error, already in geth's shape.
pub(crate) fn execute(node: &Node, request: Request) -> Result<Value> {
    use Request as R;
    match request {
        R::ClientVersion => Ok(json!(CLIENT_VERSION)),
        R::NetVersion => Ok(json!(node.chain().chain_id().to_string())),
        R::NetListening => Ok(json!(true)),
        R::ChainId => Ok(hex(node.chain().chain_id())),
        R::Syncing => Ok(json!(false)),
        R::Accounts => Ok(json!(node.accounts())),
        R::BlockNumber => Ok(hex(node.chain().latest().number())),
        R::GasPrice => Ok(hex(BASE_FEE)),
        R::MaxPriorityFee => Ok(hex(0u64)),
        R::FeeHistory(count, newest, percentiles) => {
            eth::fee_history(node, count.0, newest, percentiles.unwrap_or_default())
        }
        R::BlockByNumber(tag, full) => {
            Ok(eth::block(node.chain().block_by_number(tag).map(|b| &**b), full.unwrap_or(false)))
        }
        R::BlockByHash(hash, full) => {
            Ok(eth::block(node.chain().block_by_hash(hash).map(|b| &**b), full.unwrap_or(false)))
        }
        R::BlockTxCountByNumber((tag,)) => {
            Ok(node.chain().block_by_number(tag).map_or(Value::Null, |b| hex(b.txs.len() as u64)))
        }
        R::BlockTxCountByHash((hash,)) => {
            Ok(node.chain().block_by_hash(hash).map_or(Value::Null, |b| hex(b.txs.len() as u64)))
        }
        R::TransactionByNumberAndIndex(tag, index) => {
            Ok(eth::transaction_at(node.chain().block_by_number(tag).map(|b| &**b), index.0))
        }
        R::TransactionByHashAndIndex(hash, index) => {
            Ok(eth::transaction_at(node.chain().block_by_hash(hash).map(|b| &**b), index.0))
        }
        R::Coinbase => Ok(json!(crate::COINBASE)),
        R::Balance(address, block) => Ok(json!(node.chain().account(address, block)?.balance)),
        R::TransactionCount(address, block) => Ok(hex(node.chain().nonce(address, block)?)),
        R::Code(address, block) => eth::code(node, address, block),
        R::StorageAt(address, slot, block) => eth::storage(node, address, slot, block),
        R::Call(tx, block, overrides) => eth::call(node, tx, block, overrides),
        R::EstimateGas(tx, block, overrides) => eth::estimate_gas(node, tx, block, overrides),
        R::SendRawTransaction((raw,)) => eth::send_raw(node, &raw),
        R::SendTransaction((tx,)) => eth::send(node, tx),
        R::TransactionByHash((hash,)) => Ok(eth::transaction(node, hash)),
        R::TransactionReceipt((hash,)) => Ok(eth::receipt(node, hash)),
        R::BlockReceipts((block,)) => Ok(eth::block_receipts(node, block)),
        R::Logs((filter,)) => eth::logs(node, &filter),
        R::NewFilter((filter,)) => Ok(filters::new_log_filter(node, filter)),
        R::NewBlockFilter => Ok(filters::new_block_filter(node)),
        R::FilterChanges((id,)) => filters::changes(node, id.0),
        R::FilterLogs((id,)) => filters::logs(node, id.0),
        R::UninstallFilter((id,)) => Ok(filters::uninstall(node, id.0)),
        R::SetBalance(address, balance) => {
            node.chain().set_balance(address, balance);
            Ok(Value::Null)
        }
        R::SetCode(address, code) => node.chain().set_code(address, code).map(|()| Value::Null),
        R::SetNonce(address, nonce) => {
            node.chain().set_nonce(address, nonce.0);
            Ok(Value::Null)
        }
        R::SetStorageAt(address, slot, value) => {
            node.chain().set_storage(address, slot, value);
            Ok(json!(true))
        }
        R::Impersonate((address,)) => {
            node.chain().impersonate(address, true);
            Ok(Value::Null)
        }
        R::StopImpersonating((address,)) => {
            node.chain().impersonate(address, false);
            Ok(Value::Null)
        }
        R::MineMany(blocks, interval) => anvil::mine_many(node, blocks, interval),
        R::Mine((options,)) => anvil::evm_mine(node, options),
        R::Snapshot => Ok(hex(node.chain().snapshot())),
        R::Revert((id,)) => Ok(json!(node.chain().revert_to(id.0))),
        R::IncreaseTime((seconds,)) => anvil::increase_time(node, seconds.0),
        R::SetNextBlockTimestamp((timestamp,)) => {
            node.chain().set_next_timestamp(timestamp.0).map(|()| Value::Null)
        }
        R::SetAutomine((on,)) => {
            node.set_interval(None);
            node.chain().set_automine(on);
            Ok(Value::Null)
        }
        R::GetAutomine => Ok(json!(node.chain().automine())),
        R::SetIntervalMining((millis,)) => {
            let interval = (millis.0 > 0).then(|| std::time::Duration::from_millis(millis.0));
            node.set_interval(interval);
            Ok(Value::Null)
        }
        R::DumpState => {
            Ok(json!(alloy_primitives::Bytes::from(node.chain().dump_state().to_json())))
        }
        R::LoadState((bytes,)) => anvil::load_state(node, &bytes),
        R::SubmitRetryable((message,)) => anvil::submit_retryable(node, &message),
    }
}
