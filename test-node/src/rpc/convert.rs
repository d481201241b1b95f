//! Chain data to the JSON shapes of the Ethereum RPC (alloy's RPC types), with Nitro's extra
//! block fields.

use alloy_primitives::U256;
use alloy_rpc_types_eth::{BlockTransactions, Header, Log, Transaction, TransactionReceipt};
use serde_json::{Value, json};

use crate::chain::{Block, BlockTx, MinedTx};

/// A mined transaction as `eth_getTransactionByHash` returns it (ArbOS's transactions with
/// Nitro's fields).
pub(crate) fn transaction(block: &Block, index: usize, tx: &MinedTx) -> Value {
    match &tx.tx {
        BlockTx::Ethereum(signed) => {
            let rpc = Transaction {
                inner: signed.clone(),
                block_hash: Some(block.hash),
                block_number: Some(block.number()),
                transaction_index: Some(index as u64),
                effective_gas_price: Some(tx.effective_gas_price()),
                block_timestamp: None,
            };
            serde_json::to_value(rpc).expect("transactions serialize")
        }
        BlockTx::Arbitrum(arb) => {
            let mut map = arb.rpc_fields(tx.hash);
            map.insert("blockHash".into(), json!(block.hash));
            map.insert("blockNumber".into(), json!(format!("{:#x}", block.number())));
            map.insert("transactionIndex".into(), json!(format!("{index:#x}")));
            Value::Object(map)
        }
    }
}

/// The RPC logs of a transaction.
pub(crate) fn logs(block: &Block, index: usize, tx: &MinedTx) -> Vec<Log> {
    tx.logs
        .iter()
        .enumerate()
        .map(|(i, log)| Log {
            inner: log.clone(),
            block_hash: Some(block.hash),
            block_number: Some(block.number()),
            block_timestamp: Some(block.header.timestamp),
            transaction_hash: Some(tx.hash),
            transaction_index: Some(index as u64),
            log_index: Some(tx.first_log_index + i as u64),
            removed: false,
        })
        .collect()
}

/// A receipt as JSON, with Nitro's extra `gasUsedForL1` (always 0 here) and `l1BlockNumber`.
pub(crate) fn receipt_json(block: &Block, index: usize, tx: &MinedTx) -> Value {
    let mut value = serde_json::to_value(receipt(block, index, tx)).expect("receipts serialize");
    if let Value::Object(map) = &mut value {
        if let BlockTx::Arbitrum(arb) = &tx.tx {
            map.insert("type".into(), json!(format!("{:#x}", arb.ty())));
        }
        map.insert("gasUsedForL1".into(), json!("0x0"));
        map.insert("l1BlockNumber".into(), json!(format!("{:#x}", block.number())));
    }
    value
}

/// A receipt with `contractAddress`, logs and the effective gas price.
fn receipt(block: &Block, index: usize, tx: &MinedTx) -> TransactionReceipt {
    TransactionReceipt {
        inner: tx.receipt_envelope(logs(block, index, tx)),
        transaction_hash: tx.hash,
        transaction_index: Some(index as u64),
        block_hash: Some(block.hash),
        block_number: Some(block.number()),
        gas_used: tx.gas_used,
        effective_gas_price: tx.effective_gas_price(),
        blob_gas_used: None,
        blob_gas_price: None,
        from: tx.tx.from(),
        to: tx.tx.to(),
        contract_address: tx.contract_address,
    }
}

/// The RPC header of a block.
pub(crate) fn header(block: &Block) -> Header {
    Header {
        hash: block.hash,
        inner: block.header.clone(),
        total_difficulty: Some(U256::from(block.number() + 1)),
        size: Some(U256::from(block.header.size())),
    }
}

/// A block, with full transactions or hashes, plus Nitro's `sendRoot`, `sendCount` and
/// `l1BlockNumber`.
pub(crate) fn block(block: &Block, full: bool) -> Value {
    let rpc = alloy_rpc_types_eth::Block::<Transaction> {
        header: header(block),
        uncles: Vec::new(),
        transactions: BlockTransactions::Hashes(block.txs.iter().map(|tx| tx.hash).collect()),
        withdrawals: None,
    };
    let mut value = serde_json::to_value(rpc).expect("blocks serialize");
    if let Value::Object(map) = &mut value {
        if full {
            let txs = block.txs.iter().enumerate().map(|(i, tx)| transaction(block, i, tx));
            map.insert("transactions".into(), Value::Array(txs.collect()));
        }
        let mix = block.header.mix_hash.0;
        let send_count = u64::from_be_bytes(mix[..8].try_into().expect("8 bytes"));
        let l1_block = u64::from_be_bytes(mix[8..16].try_into().expect("8 bytes"));
        map.insert("sendRoot".into(), json!(block.header.extra_data));
        map.insert("sendCount".into(), json!(format!("{send_count:#x}")));
        map.insert("l1BlockNumber".into(), json!(format!("{l1_block:#x}")));
    }
    value
}
