//! Accepting transactions and mining blocks (per transaction or from the pool on demand).

use std::sync::Arc;

use alloy_consensus::{TxEnvelope, transaction::Recovered};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{B256, U256, keccak256};
use revm::{DatabaseCommit, context::result::ResultAndState};
use tracing::{debug, warn};

use super::{
    Chain,
    block::{Block, BlockTx, Executed, HISTORY_STATES, HeaderFields, MinedTx, build_header},
};
use crate::{
    error::{Error, Result},
    evm::{self, BlockInfo},
    precompiles::merkle,
    tx,
};

/// The hash of a transaction.
fn tx_hash(tx: &Recovered<TxEnvelope>) -> B256 {
    keccak256(tx.inner().encoded_2718())
}

impl Chain {
    /// Accepts a transaction: with automine it is executed and mined in its own block (and
    /// rejected with geth's error when invalid); otherwise it joins the pool.
    ///
    /// # Errors
    /// [`Error::Rejected`] for invalid transactions (nonce, funds, gas, chain id, duplicates).
    pub(crate) fn submit(
        &mut self,
        tx: Recovered<TxEnvelope>,
    ) -> Result<(B256, Option<Arc<Block>>)> {
        let hash = tx_hash(&tx);
        // Like geth: a duplicate of a pooled transaction is "already known"; a mined one fails
        // the nonce check below.
        if self.data.pending.iter().any(|p| tx_hash(p) == hash) {
            return Err(Error::Rejected("already known".into()));
        }
        if self.automine {
            let timestamp = self.next_timestamp();
            let info = BlockInfo { number: self.latest().number() + 1, timestamp };
            let before_reaping = self.reap_expired(timestamp);
            let mined = match self.execute(tx, hash, info) {
                Ok(mined) => mined,
                Err(err) => {
                    // No block after all: undo the start-of-block reaping too.
                    if let Some(db) = before_reaping {
                        self.data.db = db;
                    }
                    return Err(err);
                }
            };
            let mut txs = Vec::new();
            self.append_with_retries(&mut txs, mined, info);
            let block = self.seal_block(txs, Some(timestamp));
            return Ok((hash, Some(block)));
        }
        let state_nonce = self.account(tx.signer(), None)?.nonce;
        let nonce = alloy_consensus::Transaction::nonce(tx.inner());
        if nonce < state_nonce {
            return Err(Error::Rejected(format!(
                "nonce too low: address {}, tx: {nonce} state: {state_nonce}",
                tx.signer()
            )));
        }
        self.data.pending.push(tx);
        Ok((hash, None))
    }

    /// Mines one block from the pool (dropping transactions that turned invalid).
    pub(crate) fn mine(&mut self, timestamp: Option<u64>) -> Arc<Block> {
        if let Some(forced) = timestamp {
            self.data.next_timestamp = Some(forced);
        }
        let timestamp = self.next_timestamp();
        let info = BlockInfo { number: self.latest().number() + 1, timestamp };
        self.reap_expired(timestamp);
        let mut pending = std::mem::take(&mut self.data.pending);
        // Lower nonces first per sender, keeping arrival order otherwise.
        pending.sort_by_key(|tx| (tx.signer(), alloy_consensus::Transaction::nonce(tx.inner())));
        let mut mined = Vec::with_capacity(pending.len());
        for tx in pending {
            let hash = tx_hash(&tx);
            match self.execute(tx, hash, info) {
                Ok(done) => self.append_with_retries(&mut mined, done, info),
                Err(err) => warn!(%hash, %err, "dropped pending transaction"),
            }
        }
        self.seal_block(mined, Some(timestamp))
    }

    /// Executes one transaction on the live state and commits it.
    fn execute(
        &mut self,
        tx: Recovered<TxEnvelope>,
        hash: B256,
        info: BlockInfo,
    ) -> Result<MinedTx> {
        let env = tx::tx_env(&tx);
        let contract_address = tx::create_address(env.kind, env.caller, env.nonce);
        let mut cfg = evm::tx_cfg(self.chain_id);
        cfg.disable_eip3607 = true;
        let ResultAndState { result, state } = evm::transact(&mut self.data.db, info, cfg, env)?;
        self.data.db.commit(state);
        debug!(%hash, success = result.is_success(), gas = result.tx_gas_used(), "executed");
        let executed = Executed {
            success: result.is_success(),
            gas_used: result.tx_gas_used(),
            logs: result.into_logs(),
            contract_address,
        };
        Ok(MinedTx::new(BlockTx::Ethereum(tx), hash, executed))
    }

    /// Closes a block over already executed transactions and records it.
    pub(super) fn seal_block(&mut self, txs: Vec<MinedTx>, timestamp: Option<u64>) -> Arc<Block> {
        let timestamp = timestamp.unwrap_or_else(|| self.next_timestamp());
        let parent = self.data.blocks.last();
        let sends = merkle::sends_in(&self.data.db);
        let fields = HeaderFields {
            parent_hash: parent.map_or(B256::ZERO, |p| p.hash),
            number: parent.map_or(0, |p| p.number() + 1),
            timestamp,
            send_root: merkle::root(&sends),
            send_count: sends.len() as u64,
        };
        let header = build_header(fields, &txs);
        let hash = header.hash_slow();
        for (index, tx) in txs.iter().enumerate() {
            self.data.tx_index.insert(tx.hash, (fields.number, index));
        }
        // BLOCKHASH and ArbSys.arbBlockHash read hashes from the state database.
        self.data.db.cache.block_hashes.insert(U256::from(fields.number), hash);
        let state = Some(Arc::new(self.data.db.clone()));
        let block = Arc::new(Block { header, hash, txs, state });
        self.data.blocks.push(Arc::clone(&block));
        // Keep memory bounded: forget the state of the block that just left the window.
        if let Some(old) = self.data.blocks.len().checked_sub(HISTORY_STATES + 1) {
            let stale = &mut self.data.blocks[old];
            if stale.state.is_some() {
                *stale = Arc::new(Block { state: None, ..Block::clone(stale) });
            }
        }
        block
    }
}
