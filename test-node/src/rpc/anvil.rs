//! Handlers of anvil's mining, time and state cheat methods, and of the test node's own
//! `testnode_*` methods.

use alloy_primitives::Bytes;
use serde_json::{Value, json};

use super::request::Quantity;
use crate::{
    chain::StateDump,
    error::{Error, Result},
    node::Node,
    retryables::RetryableMessage,
};

/// The most blocks one `anvil_mine` may produce.
const MAX_MINE: u64 = 10_000;

/// `anvil_mine(blocks, interval)`: mines `blocks` blocks (default 1), `interval` seconds apart.
pub(super) fn mine_many(
    node: &Node,
    blocks: Option<Quantity>,
    interval: Option<Quantity>,
) -> Result<Value> {
    let blocks = blocks.map_or(1, |q| q.0);
    if blocks > MAX_MINE {
        return Err(Error::InvalidParams(format!("at most {MAX_MINE} blocks at once")));
    }
    for _ in 0..blocks {
        let block = {
            let mut chain = node.chain();
            let timestamp = interval.map(|step| chain.latest().header.timestamp + step.0);
            chain.mine(timestamp)
        };
        node.announce(block);
    }
    Ok(Value::Null)
}

/// `evm_mine([timestamp | {timestamp, blocks}])`.
pub(super) fn evm_mine(node: &Node, options: Option<Value>) -> Result<Value> {
    let parse = |value: &Value| serde_json::from_value::<Quantity>(value.clone()).ok().map(|q| q.0);
    let (timestamp, blocks) = match &options {
        None | Some(Value::Null) => (None, 1),
        Some(Value::Object(map)) => {
            (map.get("timestamp").and_then(parse), map.get("blocks").and_then(parse).unwrap_or(1))
        }
        Some(other) => (
            Some(
                parse(other)
                    .ok_or_else(|| Error::InvalidParams(format!("bad timestamp {other}")))?,
            ),
            1,
        ),
    };
    if blocks > MAX_MINE {
        return Err(Error::InvalidParams(format!("at most {MAX_MINE} blocks at once")));
    }
    for i in 0..blocks {
        let block = node.chain().mine(if i == 0 { timestamp } else { None });
        node.announce(block);
    }
    Ok(json!("0x0"))
}

/// `evm_increaseTime(seconds)`: returns the total shift in seconds.
pub(super) fn increase_time(node: &Node, seconds: u64) -> Result<Value> {
    let seconds =
        i64::try_from(seconds).map_err(|_| Error::InvalidParams("too many seconds".into()))?;
    Ok(json!(node.chain().increase_time(seconds)))
}

/// `anvil_loadState(bytes)`: bytes of a JSON dump as `anvil_dumpState` returns them.
pub(super) fn load_state(node: &Node, bytes: &Bytes) -> Result<Value> {
    let dump = StateDump::from_json(bytes)?;
    node.chain().load_state(dump)?;
    Ok(json!(true))
}

/// `testnode_submitRetryable(message)`: an L1 `createRetryableTicket` arriving on L2; answers
/// `{ticketId, blockNumber, autoRedeem: {retryTxHash, success, gasUsed} | null}`.
pub(super) fn submit_retryable(node: &Node, message: &RetryableMessage) -> Result<Value> {
    let submission = node.submit_retryable(message)?;
    let auto_redeem = submission.auto_redeem.map(|retry| {
        json!({
            "retryTxHash": retry.retry_tx_hash,
            "success": retry.success,
            "gasUsed": format!("{:#x}", retry.gas_used),
        })
    });
    Ok(json!({
        "ticketId": submission.ticket_id,
        "blockNumber": format!("{:#x}", submission.block_number),
        "autoRedeem": auto_redeem,
    }))
}
