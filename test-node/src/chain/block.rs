//! Mined blocks as the node stores them: the header, the transactions with their receipts, and
//! the state after the block (for queries at historical block tags).

use std::sync::Arc;

use alloy_consensus::{
    EMPTY_OMMER_ROOT_HASH, Eip658Value, Header, Receipt, ReceiptEnvelope, ReceiptWithBloom,
    TxEnvelope, TxType, proofs::ordered_trie_root_with_encoder, transaction::Recovered,
};
use alloy_primitives::{Address, B256, Bloom, Bytes, Log, U256};

use crate::{
    arbos::{ARBOS_VERSION, BASE_FEE},
    evm::{COINBASE, Db, HEADER_GAS_LIMIT},
    retryables::tx::ArbTx,
};

/// How many recent blocks keep their state for queries at old block tags (like a geth
/// full node; older states answer "missing trie node").
pub(crate) const HISTORY_STATES: usize = 256;

/// A transaction as a block holds it: signed by a user (or sent for an unlocked or
/// impersonated account), or made by ArbOS (retryable submissions and retries).
#[derive(Clone, Debug)]
pub(crate) enum BlockTx {
    Ethereum(Recovered<TxEnvelope>),
    Arbitrum(ArbTx),
}

impl BlockTx {
    /// The sender.
    pub(crate) fn from(&self) -> Address {
        match self {
            Self::Ethereum(tx) => tx.signer(),
            Self::Arbitrum(tx) => tx.from(),
        }
    }

    /// The recipient (none for contract creation).
    pub(crate) fn to(&self) -> Option<Address> {
        use alloy_consensus::Transaction as _;
        match self {
            Self::Ethereum(tx) => tx.inner().to(),
            Self::Arbitrum(tx) => tx.to(),
        }
    }

    /// The EIP-2718 encoding (for the transactions root).
    fn encode_2718(&self, out: &mut Vec<u8>) {
        use alloy_eips::eip2718::Encodable2718 as _;
        match self {
            Self::Ethereum(tx) => tx.inner().encode_2718(out),
            Self::Arbitrum(tx) => tx.encode_2718(out),
        }
    }
}

/// A transaction in a block, with the outcome of its execution.
#[derive(Clone, Debug)]
pub(crate) struct MinedTx {
    pub(crate) tx: BlockTx,
    pub(crate) hash: B256,
    pub(crate) success: bool,
    pub(crate) gas_used: u64,
    pub(crate) cumulative_gas_used: u64,
    pub(crate) logs: Vec<Log>,
    pub(crate) contract_address: Option<Address>,
    /// Index of this transaction's first log within the block.
    pub(crate) first_log_index: u64,
}

impl MinedTx {
    /// An executed transaction, before it takes its place in a block (see [`append`]).
    pub(crate) fn new(tx: BlockTx, hash: B256, result: Executed) -> Self {
        Self {
            tx,
            hash,
            success: result.success,
            gas_used: result.gas_used,
            cumulative_gas_used: 0,
            logs: result.logs,
            contract_address: result.contract_address,
            first_log_index: 0,
        }
    }

    /// The gas price actually paid: `min(maxFee, baseFee + tip)`; the base fee for ArbOS's
    /// transactions.
    pub(crate) fn effective_gas_price(&self) -> u128 {
        use alloy_consensus::Transaction as _;
        match &self.tx {
            BlockTx::Ethereum(tx) => tx.inner().effective_gas_price(Some(BASE_FEE)),
            BlockTx::Arbitrum(_) => u128::from(BASE_FEE),
        }
    }

    /// The consensus receipt (status, cumulative gas, logs, bloom) in its typed envelope; an
    /// ArbOS transaction's receipt is shaped like an EIP-1559 one (the RPC layer sets its type).
    pub(crate) fn receipt_envelope<L>(&self, logs: Vec<L>) -> ReceiptEnvelope<L> {
        let bloom = logs_bloom(self.logs.iter());
        let receipt = Receipt {
            status: Eip658Value::Eip658(self.success),
            cumulative_gas_used: self.cumulative_gas_used,
            logs,
        };
        let with_bloom = ReceiptWithBloom { receipt, logs_bloom: bloom };
        let BlockTx::Ethereum(tx) = &self.tx else {
            return ReceiptEnvelope::Eip1559(with_bloom);
        };
        match tx.inner().tx_type() {
            TxType::Legacy => ReceiptEnvelope::Legacy(with_bloom),
            TxType::Eip2930 => ReceiptEnvelope::Eip2930(with_bloom),
            TxType::Eip1559 => ReceiptEnvelope::Eip1559(with_bloom),
            TxType::Eip4844 => ReceiptEnvelope::Eip4844(with_bloom),
            TxType::Eip7702 => ReceiptEnvelope::Eip7702(with_bloom),
        }
    }
}

/// The outcome of executing a transaction.
#[derive(Clone, Debug, Default)]
pub(crate) struct Executed {
    pub(crate) success: bool,
    pub(crate) gas_used: u64,
    pub(crate) logs: Vec<Log>,
    pub(crate) contract_address: Option<Address>,
}

/// Appends `tx` to the transactions of a block being built, filling in its cumulative gas and
/// the index of its first log.
pub(crate) fn append(txs: &mut Vec<MinedTx>, mut tx: MinedTx) {
    let (gas, logs) = txs.last().map_or((0, 0), |last| {
        (last.cumulative_gas_used, last.first_log_index + last.logs.len() as u64)
    });
    tx.cumulative_gas_used = gas + tx.gas_used;
    tx.first_log_index = logs;
    txs.push(tx);
}

/// A mined block.
#[derive(Clone, Debug)]
pub(crate) struct Block {
    pub(crate) header: Header,
    pub(crate) hash: B256,
    pub(crate) txs: Vec<MinedTx>,
    /// State after this block; dropped once the block is [`HISTORY_STATES`] blocks old.
    pub(crate) state: Option<Arc<Db>>,
}

impl Block {
    /// The block number.
    pub(crate) fn number(&self) -> u64 {
        self.header.number
    }
}

/// What the header needs beyond the transactions.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HeaderFields {
    pub(crate) parent_hash: B256,
    pub(crate) number: u64,
    pub(crate) timestamp: u64,
    pub(crate) send_root: B256,
    pub(crate) send_count: u64,
}

/// Builds the header of a block like Nitro does: the send root in `extraData`, and
/// `sendCount ‖ l1BlockNumber ‖ ArbOS version` in the mix digest.
pub(crate) fn build_header(fields: HeaderFields, txs: &[MinedTx]) -> Header {
    let mut mix = [0u8; 32];
    mix[..8].copy_from_slice(&fields.send_count.to_be_bytes());
    mix[8..16].copy_from_slice(&fields.number.to_be_bytes());
    mix[16..24].copy_from_slice(&ARBOS_VERSION.to_be_bytes());
    Header {
        parent_hash: fields.parent_hash,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: COINBASE,
        transactions_root: ordered_trie_root_with_encoder(txs, |tx, out| tx.tx.encode_2718(out)),
        logs_bloom: logs_bloom(txs.iter().flat_map(|tx| tx.logs.iter())),
        difficulty: U256::from(1),
        number: fields.number,
        gas_limit: HEADER_GAS_LIMIT,
        gas_used: txs.last().map_or(0, |tx| tx.cumulative_gas_used),
        timestamp: fields.timestamp,
        extra_data: Bytes::copy_from_slice(fields.send_root.as_slice()),
        mix_hash: B256::from(mix),
        nonce: 1u64.into(),
        base_fee_per_gas: Some(BASE_FEE),
        ..Header::default()
    }
}

/// The bloom filter of some logs.
pub(crate) fn logs_bloom<'a>(logs: impl Iterator<Item = &'a Log>) -> Bloom {
    let mut bloom = Bloom::ZERO;
    for log in logs {
        bloom.accrue_log(log);
    }
    bloom
}
