//! Polling filters (`eth_newFilter`, `eth_newBlockFilter`, `eth_getFilterChanges`,
//! `eth_getFilterLogs`, `eth_uninstallFilter`), as ethers-style clients use them. The node keeps
//! the installed filters in a [`super::filter_store::Filters`].

use alloy_eips::BlockNumberOrTag;
use alloy_rpc_types_eth::{Filter, FilterBlockOption};
use serde_json::{Value, json};

use super::{eth, filter_store::Watch};
use crate::{error::Result, node::Node};

/// `eth_newFilter`.
pub(super) fn new_log_filter(node: &Node, filter: Filter) -> Value {
    let latest = node.chain().latest().number();
    node.filters().install(Watch::Logs(Box::new(filter)), latest)
}

/// `eth_newBlockFilter`.
pub(super) fn new_block_filter(node: &Node) -> Value {
    let latest = node.chain().latest().number();
    node.filters().install(Watch::Blocks, latest)
}

/// `eth_uninstallFilter`.
pub(super) fn uninstall(node: &Node, id: u64) -> Value {
    json!(node.filters().remove(id))
}

/// `eth_getFilterChanges`: block hashes or logs since the last poll.
///
/// # Errors
/// [`crate::Error::InvalidParams`] for an unknown filter id.
pub(super) fn changes(node: &Node, id: u64) -> Result<Value> {
    let filter = node
        .filters()
        .get(id)
        .ok_or_else(|| crate::Error::InvalidParams("filter not found".into()))?;
    let latest = node.chain().latest().number();
    let from = filter.last_seen + 1;
    if from > latest {
        return Ok(json!([]));
    }
    let result = match &filter.watch {
        Watch::Blocks => {
            let chain = node.chain();
            let hashes: Vec<_> = chain.blocks_in(from, latest).map(|block| block.hash).collect();
            json!(hashes)
        }
        Watch::Logs(filter) => eth::logs(node, &with_range(filter, from, latest))?,
    };
    node.filters().advance(id, latest);
    Ok(result)
}

/// `eth_getFilterLogs`: every log the filter matches.
///
/// # Errors
/// [`crate::Error::InvalidParams`] for an unknown or block filter.
pub(super) fn logs(node: &Node, id: u64) -> Result<Value> {
    match node.filters().get(id).map(|f| f.watch) {
        Some(Watch::Logs(filter)) => eth::logs(node, &filter),
        _ => Err(crate::Error::InvalidParams("filter not found".into())),
    }
}

/// `filter` restricted to blocks `from..=to` (within its own range).
fn with_range(filter: &Filter, from: u64, to: u64) -> Filter {
    let mut narrowed = filter.clone();
    let (own_from, own_to) = match filter.block_option {
        FilterBlockOption::Range { from_block, to_block } => (
            from_block.and_then(|b| b.as_number()).unwrap_or(0),
            to_block.and_then(|b| b.as_number()).unwrap_or(u64::MAX),
        ),
        FilterBlockOption::AtBlockHash(_) => (0, u64::MAX),
    };
    narrowed.block_option = FilterBlockOption::Range {
        from_block: Some(BlockNumberOrTag::Number(from.max(own_from))),
        to_block: Some(BlockNumberOrTag::Number(to.min(own_to))),
    };
    narrowed
}
