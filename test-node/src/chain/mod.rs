//! The chain: live state, mined blocks, the transaction pool for interval mining, time control
//! and snapshots. Everything here is synchronous; the RPC layer holds it behind a mutex.

mod block;
mod call;
mod cheats;
mod dump;
mod mine;
mod retryables;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use alloy_consensus::{TxEnvelope, transaction::Recovered};
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256};
pub(crate) use block::{Block, BlockTx, MinedTx};
pub(crate) use call::CallRequest;
pub(crate) use dump::StateDump;
use revm::{DatabaseRef, state::AccountInfo};

use crate::{
    error::{Error, Result},
    evm::Db,
    genesis,
};

/// Everything a snapshot restores.
#[derive(Clone, Debug)]
struct ChainData {
    db: Db,
    blocks: Vec<Arc<Block>>,
    tx_index: HashMap<B256, (u64, usize)>,
    pending: Vec<Recovered<TxEnvelope>>,
    /// Seconds added to the wall clock (`evm_increaseTime`).
    time_offset: i64,
    /// Timestamp forced for the next block (`evm_setNextBlockTimestamp`).
    next_timestamp: Option<u64>,
}

/// The chain state of the node.
#[derive(Debug)]
pub(crate) struct Chain {
    chain_id: u64,
    data: ChainData,
    automine: bool,
    impersonated: HashSet<Address>,
    snapshots: BTreeMap<u64, ChainData>,
    next_snapshot: u64,
}

impl Chain {
    /// A chain at genesis.
    pub(crate) fn new(chain_id: u64, accounts: usize) -> Self {
        Self::from_db(chain_id, genesis::genesis_db(accounts))
    }

    /// A chain whose genesis block holds `db`.
    pub(crate) fn from_db(chain_id: u64, db: Db) -> Self {
        let data = ChainData {
            db,
            blocks: Vec::new(),
            tx_index: HashMap::new(),
            pending: Vec::new(),
            time_offset: 0,
            next_timestamp: None,
        };
        let mut chain = Self {
            chain_id,
            data,
            automine: true,
            impersonated: HashSet::new(),
            snapshots: BTreeMap::new(),
            next_snapshot: 1,
        };
        chain.seal_block(Vec::new(), None);
        chain
    }

    /// The chain id.
    pub(crate) fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The newest block.
    pub(crate) fn latest(&self) -> &Arc<Block> {
        self.data.blocks.last().expect("genesis exists")
    }

    /// Looks a block up by number or tag; `None` when it does not exist.
    pub(crate) fn block_by_number(&self, tag: BlockNumberOrTag) -> Option<&Arc<Block>> {
        match tag {
            BlockNumberOrTag::Earliest => self.data.blocks.first(),
            BlockNumberOrTag::Number(n) => self.data.blocks.get(usize::try_from(n).ok()?),
            _ => Some(self.latest()),
        }
    }

    /// Looks a block up by hash.
    pub(crate) fn block_by_hash(&self, hash: B256) -> Option<&Arc<Block>> {
        self.data.blocks.iter().rev().find(|block| block.hash == hash)
    }

    /// Resolves a block id.
    ///
    /// # Errors
    /// [`Error::UnknownBlock`] when it names no block.
    pub(crate) fn block(&self, id: BlockId) -> Result<&Arc<Block>> {
        match id {
            BlockId::Number(tag) => self.block_by_number(tag),
            BlockId::Hash(hash) => self.block_by_hash(hash.block_hash),
        }
        .ok_or(Error::UnknownBlock)
    }

    /// Blocks in an inclusive number range (clamped to the chain).
    pub(crate) fn blocks_in(&self, from: u64, to: u64) -> impl Iterator<Item = &Arc<Block>> {
        let end = usize::try_from(to).unwrap_or(usize::MAX).saturating_add(1);
        let start = usize::try_from(from).unwrap_or(usize::MAX);
        self.data.blocks.get(start..end.min(self.data.blocks.len())).unwrap_or(&[]).iter()
    }

    /// A mined transaction by hash with its block.
    pub(crate) fn transaction(&self, hash: B256) -> Option<(&Arc<Block>, &MinedTx)> {
        let (number, index) = *self.data.tx_index.get(&hash)?;
        let block = &self.data.blocks[usize::try_from(number).ok()?];
        Some((block, &block.txs[index]))
    }

    /// Runs `f` on the state at `id` ("latest" and "pending" see unmined cheat edits too).
    ///
    /// # Errors
    /// [`Error::UnknownBlock`] when `id` names no block, [`Error::Rejected`] when its state is
    /// no longer kept.
    pub(crate) fn with_state<R>(&self, id: Option<BlockId>, f: impl FnOnce(&Db) -> R) -> Result<R> {
        let id = id.unwrap_or_default();
        let block = self.block(id)?;
        if block.number() == self.latest().number() {
            return Ok(f(&self.data.db));
        }
        match &block.state {
            Some(state) => Ok(f(state)),
            None => Err(Error::Rejected(format!("missing trie node for block {}", block.number()))),
        }
    }

    /// Account info at `id` (default for absent accounts).
    ///
    /// # Errors
    /// [`Error::UnknownBlock`] when `id` names no block.
    pub(crate) fn account(&self, address: Address, id: Option<BlockId>) -> Result<AccountInfo> {
        self.with_state(id, |db| {
            let info = db.basic_ref(address).unwrap_or_default().unwrap_or_default();
            match info.code {
                Some(_) => info,
                None => AccountInfo { code: db.code_by_hash_ref(info.code_hash).ok(), ..info },
            }
        })
    }

    /// The nonce the next transaction from `address` must carry, counting the pool for "pending".
    ///
    /// # Errors
    /// [`Error::UnknownBlock`] when `id` names no block.
    pub(crate) fn nonce(&self, address: Address, id: Option<BlockId>) -> Result<u64> {
        let base = self.account(address, id)?.nonce;
        let pending = matches!(id, Some(BlockId::Number(BlockNumberOrTag::Pending)));
        let queued = if pending {
            self.data.pending.iter().filter(|tx| tx.signer() == address).count() as u64
        } else {
            0
        };
        Ok(base + queued)
    }

    /// Whether each transaction is mined immediately.
    pub(crate) fn automine(&self) -> bool {
        self.automine
    }

    /// Turns mining per transaction on or off.
    pub(crate) fn set_automine(&mut self, on: bool) {
        self.automine = on;
    }

    /// The timestamp the next block gets: the forced one, else the offset wall clock, never
    /// going backwards.
    fn next_timestamp(&mut self) -> u64 {
        if let Some(forced) = self.data.next_timestamp.take() {
            return forced;
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let shifted = now.saturating_add_signed(self.data.time_offset);
        let previous = self.data.blocks.last().map_or(0, |block| block.header.timestamp);
        shifted.max(previous)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_recent_states_are_kept() {
        let mut chain = Chain::new(1, 1);
        for _ in 0..block::HISTORY_STATES + 5 {
            chain.mine(None);
        }
        let old = Some(BlockId::number(2));
        assert!(chain.account(genesis::DEV_ACCOUNT, old).is_err());
        let recent = Some(BlockId::number(chain.latest().number() - 10));
        assert!(
            chain.account(genesis::DEV_ACCOUNT, recent).unwrap().balance
                > alloy_primitives::U256::ZERO
        );
    }

    #[test]
    fn genesis_block_exists_and_tags_resolve() {
        let chain = Chain::new(412_346, 10);
        assert_eq!(chain.latest().number(), 0);
        assert!(chain.block(BlockId::latest()).is_ok());
        assert!(chain.block(BlockId::number(1)).is_err());
        let hash = chain.latest().hash;
        assert_eq!(chain.block_by_hash(hash).map(|b| b.number()), Some(0));
    }
}
