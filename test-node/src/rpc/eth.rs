//! Handlers of the `eth_*` methods that need more than one line.

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rpc_types_eth::{Filter, FilterBlockOption, TransactionRequest, state::StateOverride};
use revm::DatabaseRef;
use serde_json::{Value, json};

use super::convert;
use crate::{
    arbos::BASE_FEE,
    chain::{Block, CallRequest},
    error::{Error, Result},
    evm::TX_GAS_LIMIT,
    node::Node,
    tx::{self, RequestDefaults},
};

/// Nitro's internal transaction types: deposit, unsigned, contract, (unused 0x67), retry,
/// submit-retryable and internal.
const ARBITRUM_TX_TYPES: std::ops::RangeInclusive<u8> = 0x64..=0x6a;

/// The most blocks one `eth_getLogs` may scan.
const MAX_LOG_RANGE: u64 = 100_000;

/// `eth_getBlockBy*`: `null` for unknown blocks.
pub(super) fn block(block: Option<&Block>, full: bool) -> Value {
    block.map_or(Value::Null, |block| convert::block(block, full))
}

/// `eth_getCode`: the raw (unpadded) code.
pub(super) fn code(node: &Node, address: Address, block: Option<BlockId>) -> Result<Value> {
    let info = node.chain().account(address, block)?;
    Ok(json!(info.code.map(|code| code.original_bytes()).unwrap_or_default()))
}

/// `eth_getStorageAt`: a 32-byte word.
pub(super) fn storage(
    node: &Node,
    address: Address,
    slot: U256,
    block: Option<BlockId>,
) -> Result<Value> {
    let value = node.chain().with_state(block, |db| {
        db.storage_ref(address, slot).unwrap_or_else(|never| match never {})
    })?;
    Ok(json!(B256::from(value)))
}

/// `eth_call`.
pub(super) fn call(
    node: &Node,
    tx: TransactionRequest,
    block: Option<BlockId>,
    overrides: Option<StateOverride>,
) -> Result<Value> {
    let output = node.chain().call(&CallRequest { tx, block, overrides })?;
    Ok(json!(output))
}

/// `eth_estimateGas`.
pub(super) fn estimate_gas(
    node: &Node,
    tx: TransactionRequest,
    block: Option<BlockId>,
    overrides: Option<StateOverride>,
) -> Result<Value> {
    let gas = node.chain().estimate_gas(&CallRequest { tx, block, overrides })?;
    Ok(json!(format!("{gas:#x}")))
}

/// `eth_sendRawTransaction`.
pub(super) fn send_raw(node: &Node, raw: &Bytes) -> Result<Value> {
    if let Some(&ty) = raw.first()
        && ARBITRUM_TX_TYPES.contains(&ty)
    {
        return Err(Error::Rejected(format!(
            "transaction type not supported: {ty:#x} is an Arbitrum-internal type that ArbOS creates \
             from L1 messages; submit retryables with testnode_submitRetryable"
        )));
    }
    let tx = tx::decode_raw(raw)?;
    submit(node, tx)
}

/// `eth_sendTransaction` from an unlocked (dev, anvil) or impersonated account.
pub(super) fn send(node: &Node, request: TransactionRequest) -> Result<Value> {
    let from = request.from.ok_or_else(|| Error::InvalidParams("missing `from`".into()))?;
    let tx = {
        let chain = node.chain();
        if !node.accounts().contains(&from) && !chain.is_impersonated(from) {
            return Err(Error::Rejected(format!("unknown account {from}")));
        }
        let pending = Some(BlockId::Number(BlockNumberOrTag::Pending));
        let nonce = chain.nonce(from, pending)?;
        let gas_limit = match request.gas {
            Some(gas) => gas,
            None => chain
                .estimate_gas(&CallRequest { tx: request.clone(), ..CallRequest::default() })?,
        };
        let mut env = tx::request_env(
            &request,
            RequestDefaults { nonce, gas_limit, chain_id: chain.chain_id() },
        );
        if request.gas_price.is_none() && request.max_fee_per_gas.is_none() {
            env.tx_type = 2;
            env.gas_price = u128::from(BASE_FEE) * 2;
            env.gas_priority_fee = Some(0);
        }
        env.gas_limit = env.gas_limit.min(TX_GAS_LIMIT);
        tx::unsigned_envelope(&env)
    };
    submit(node, tx)
}

fn submit(
    node: &Node,
    tx: alloy_consensus::transaction::Recovered<alloy_consensus::TxEnvelope>,
) -> Result<Value> {
    let (hash, block) = node.chain().submit(tx)?;
    match block {
        Some(block) => {
            let number = block.number();
            let gas = block.header.gas_used;
            tracing::info!(%hash, block = number, gas, "transaction mined");
            node.announce(block);
        }
        None => tracing::info!(%hash, "transaction queued"),
    }
    Ok(json!(hash))
}

/// `eth_getTransactionByHash`: `null` when unknown.
pub(super) fn transaction(node: &Node, hash: B256) -> Value {
    let chain = node.chain();
    chain.transaction(hash).map_or(Value::Null, |(block, tx)| {
        let index = block.txs.iter().position(|t| t.hash == tx.hash).unwrap_or_default();
        convert::transaction(block, index, tx)
    })
}

/// `eth_getTransactionByBlock*AndIndex`: `null` when the block or index does not exist.
pub(super) fn transaction_at(block: Option<&Block>, index: u64) -> Value {
    let found = block.and_then(|block| {
        let index = usize::try_from(index).ok()?;
        block.txs.get(index).map(|tx| convert::transaction(block, index, tx))
    });
    found.unwrap_or(Value::Null)
}

/// `eth_getTransactionReceipt`: `null` until mined.
pub(super) fn receipt(node: &Node, hash: B256) -> Value {
    let chain = node.chain();
    chain.transaction(hash).map_or(Value::Null, |(block, tx)| {
        let index = block.txs.iter().position(|t| t.hash == tx.hash).unwrap_or_default();
        convert::receipt_json(block, index, tx)
    })
}

/// `eth_getBlockReceipts`.
pub(super) fn block_receipts(node: &Node, id: BlockId) -> Value {
    let chain = node.chain();
    chain.block(id).map_or(Value::Null, |block| {
        let receipts: Vec<_> = block
            .txs
            .iter()
            .enumerate()
            .map(|(i, tx)| convert::receipt_json(block, i, tx))
            .collect();
        json!(receipts)
    })
}

/// `eth_getLogs`.
///
/// # Errors
/// [`Error::UnknownBlock`] for an unknown block hash, [`Error::InvalidParams`] for ranges
/// that are reversed or too long.
pub(super) fn logs(node: &Node, filter: &Filter) -> Result<Value> {
    let chain = node.chain();
    let latest = chain.latest().number();
    let blocks: Vec<&std::sync::Arc<Block>> = match filter.block_option {
        FilterBlockOption::AtBlockHash(hash) => {
            vec![chain.block_by_hash(hash).ok_or(Error::UnknownBlock)?]
        }
        FilterBlockOption::Range { from_block, to_block } => {
            let resolve = |tag: Option<BlockNumberOrTag>| match tag {
                Some(BlockNumberOrTag::Number(n)) => n,
                Some(BlockNumberOrTag::Earliest) => 0,
                _ => latest,
            };
            let (from, to) = (resolve(from_block), resolve(to_block));
            if from > to {
                return Err(Error::InvalidParams("invalid block range params".into()));
            }
            if to - from > MAX_LOG_RANGE {
                return Err(Error::InvalidParams(format!("block range exceeds {MAX_LOG_RANGE}")));
            }
            chain.blocks_in(from, to).collect()
        }
    };
    let mut out = Vec::new();
    for block in blocks {
        for (index, tx) in block.txs.iter().enumerate() {
            out.extend(
                convert::logs(block, index, tx).into_iter().filter(|log| filter.rpc_matches(log)),
            );
        }
    }
    Ok(json!(out))
}

/// `eth_feeHistory`: the base fee is constant and tips are zero on this node.
///
/// # Errors
/// [`Error::UnknownBlock`] when `newest` does not exist.
pub(super) fn fee_history(
    node: &Node,
    count: u64,
    newest: BlockNumberOrTag,
    percentiles: Vec<f64>,
) -> Result<Value> {
    let chain = node.chain();
    let newest = chain.block_by_number(newest).ok_or(Error::UnknownBlock)?.number();
    let count = count.clamp(1, 1024).min(newest + 1);
    let oldest = newest + 1 - count;
    let blocks: Vec<_> = chain.blocks_in(oldest, newest).collect();
    let base_fees: Vec<String> = (0..=blocks.len()).map(|_| format!("{BASE_FEE:#x}")).collect();
    let ratios: Vec<f64> =
        blocks.iter().map(|b| b.header.gas_used as f64 / TX_GAS_LIMIT as f64).collect();
    let mut result = json!({
        "oldestBlock": format!("{oldest:#x}"),
        "baseFeePerGas": base_fees,
        "gasUsedRatio": ratios,
        "baseFeePerBlobGas": vec!["0x0"; blocks.len() + 1],
        "blobGasUsedRatio": vec![0.0; blocks.len()],
    });
    if !percentiles.is_empty() {
        let rewards: Vec<Vec<&str>> =
            blocks.iter().map(|_| vec!["0x0"; percentiles.len()]).collect();
        result["reward"] = json!(rewards);
    }
    Ok(result)
}
