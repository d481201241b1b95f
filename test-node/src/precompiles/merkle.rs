//! The L2 -> L1 send accumulator: Nitro's Merkle accumulator over `keccak256(sendHash)` leaves,
//! kept in ArbSys's storage (size, leaves and partials), so snapshots and reverts include it.

use std::convert::Infallible;

use alloy_primitives::{Address, B256, U256, keccak256};
use revm::{
    context::{ContextTr, JournalTr},
    database::{Database, DatabaseRef},
};

use crate::arbos::ARB_SYS;

/// Storage slot of the number of sends.
const SIZE_SLOT: U256 = U256::ZERO;

fn leaf_slot(index: u64) -> U256 {
    (U256::from(1) << 64) | U256::from(index)
}

fn partial_slot(level: u32) -> U256 {
    (U256::from(2) << 64) | U256::from(level)
}

/// Smallest `k` with `2^k >= x` (0 for 0 and 1).
pub(crate) fn log2ceil(x: u64) -> u32 {
    if x <= 1 { 0 } else { 64 - (x - 1).leading_zeros() }
}

fn hash_pair(left: B256, right: B256) -> B256 {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(left.as_slice());
    buf[32..].copy_from_slice(right.as_slice());
    keccak256(buf)
}

/// Node `(level, index)` of the tree over `leaves`: zero when entirely past the end.
fn node(leaves: &[B256], level: u32, index: u64) -> B256 {
    let start = index << level;
    if start >= leaves.len() as u64 {
        return B256::ZERO;
    }
    if level == 0 {
        return leaves[index as usize];
    }
    hash_pair(node(leaves, level - 1, 2 * index), node(leaves, level - 1, 2 * index + 1))
}

/// The root over `sends` (item hashes); zero for none.
pub fn root(sends: &[B256]) -> B256 {
    let leaves: Vec<B256> = sends.iter().map(keccak256).collect();
    node(&leaves, log2ceil(leaves.len() as u64), 0)
}

/// The proof for leaf `index` as `NodeInterface.constructOutboxProof` returns it.
pub fn proof(sends: &[B256], index: u64) -> Vec<B256> {
    let leaves: Vec<B256> = sends.iter().map(keccak256).collect();
    (0..log2ceil(leaves.len() as u64))
        .map(|level| node(&leaves, level, (index >> level) ^ 1))
        .collect()
}

type Journal<CTX> = <CTX as ContextTr>::Journal;

fn sload<CTX: ContextTr<Db: Database<Error = Infallible>>>(
    journal: &mut Journal<CTX>,
    slot: U256,
) -> U256 {
    journal.load_account(ARB_SYS).unwrap_or_else(|never| match never {});
    journal.sload(ARB_SYS, slot).unwrap_or_else(|never| match never {}).data
}

fn sstore<CTX: ContextTr<Db: Database<Error = Infallible>>>(
    journal: &mut Journal<CTX>,
    slot: U256,
    value: U256,
) {
    journal.sstore(ARB_SYS, slot, value).unwrap_or_else(|never| match never {});
}

/// All send hashes so far, from the state.
pub(crate) fn sends<CTX: ContextTr<Db: Database<Error = Infallible>>>(ctx: &mut CTX) -> Vec<B256> {
    let journal = ctx.journal_mut();
    let size: u64 = sload::<CTX>(journal, SIZE_SLOT).saturating_to();
    (0..size).map(|i| B256::from(sload::<CTX>(journal, leaf_slot(i)))).collect()
}

/// All send hashes in a database (for block headers).
pub(crate) fn sends_in<DB: DatabaseRef<Error = Infallible>>(db: &DB) -> Vec<B256> {
    let read = |slot| db.storage_ref(ARB_SYS, slot).unwrap_or_else(|never| match never {});
    let size: u64 = read(SIZE_SLOT).saturating_to();
    (0..size).map(|i| B256::from(read(leaf_slot(i)))).collect()
}

/// Appends a send; returns its leaf index and the intermediate nodes completed on the way up
/// as `(level, hash)` (Nitro emits `SendMerkleUpdate` for each).
pub(crate) fn append<CTX: ContextTr<Db: Database<Error = Infallible>>>(
    ctx: &mut CTX,
    send_hash: B256,
) -> (u64, Vec<(u32, B256)>) {
    let journal = ctx.journal_mut();
    let index: u64 = sload::<CTX>(journal, SIZE_SLOT).saturating_to();
    let size = index + 1;
    sstore::<CTX>(journal, SIZE_SLOT, U256::from(size));
    sstore::<CTX>(journal, leaf_slot(index), send_hash.into());
    let mut updates = Vec::new();
    let mut level = 0;
    let mut so_far = keccak256(send_hash);
    loop {
        if level == log2ceil(size - 1) {
            sstore::<CTX>(journal, partial_slot(level), so_far.into());
            break;
        }
        let partial = B256::from(sload::<CTX>(journal, partial_slot(level)));
        if partial.is_zero() {
            sstore::<CTX>(journal, partial_slot(level), so_far.into());
            break;
        }
        so_far = hash_pair(partial, so_far);
        sstore::<CTX>(journal, partial_slot(level), U256::ZERO);
        level += 1;
        updates.push((level, so_far));
    }
    (index, updates)
}

/// The item hash of a send, as the Outbox computes it.
pub fn send_hash(item: &SendItem) -> B256 {
    let mut buf = Vec::with_capacity(40 + 4 * 32 + item.data.len());
    buf.extend_from_slice(item.caller.as_slice());
    buf.extend_from_slice(item.destination.as_slice());
    for word in [item.l2_block, item.l1_block, item.timestamp, item.value] {
        buf.extend_from_slice(&word.to_be_bytes::<32>());
    }
    buf.extend_from_slice(&item.data);
    keccak256(buf)
}

/// One L2 -> L1 message.
#[derive(Clone, Debug)]
pub struct SendItem {
    /// The L2 caller of `sendTxToL1`.
    pub caller: Address,
    /// The L1 destination.
    pub destination: Address,
    /// L2 block number.
    pub l2_block: U256,
    /// L1 block number.
    pub l1_block: U256,
    /// Block timestamp.
    pub timestamp: U256,
    /// Call value.
    pub value: U256,
    /// Call data.
    pub data: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MerkleLib.calculateRoot from nitro-contracts.
    fn calculate_root(proof: &[B256], index: u64, leaf: B256) -> B256 {
        proof.iter().enumerate().fold(leaf, |h, (k, p)| {
            if (index >> k) & 1 == 0 { hash_pair(h, *p) } else { hash_pair(*p, h) }
        })
    }

    #[test]
    fn proofs_verify_against_the_root_for_every_size() {
        let sends: Vec<B256> = (0..9u8).map(|i| keccak256([i])).collect();
        for size in 1..=sends.len() {
            let sends = &sends[..size];
            let root = root(sends);
            for index in 0..size as u64 {
                let proof = proof(sends, index);
                assert_eq!(proof.len() as u32, log2ceil(size as u64));
                assert_eq!(
                    calculate_root(&proof, index, keccak256(sends[index as usize])),
                    root,
                    "size {size} leaf {index}"
                );
            }
        }
        assert_eq!(root(&sends[..1]), keccak256(sends[0]));
        assert_eq!(log2ceil(5), 3);
    }
}
