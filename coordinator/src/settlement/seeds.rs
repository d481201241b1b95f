//! The coordinator's epoch seeds (DESIGN 3.3). The market's challenge draw of a batch mixes the
//! seed of the epoch the batch was committed in with the hash of the block that sealed it. The
//! first eligible coordinator to commit `keccak256(abi.encodePacked(uint64 epoch, seed))` for a
//! future epoch owns that epoch's seed; it reveals the seed once the epoch has started and is
//! slashed (`forfeitEpochSeed`) if it never does. While a committed seed is hidden, every draw of
//! its epoch reverts `SeedNotRevealed`, so a coordinator that commits must reveal promptly.
//!
//! Every settlement round [`Seeds::tick`] first reveals each started epoch whose seed this
//! coordinator committed and has not revealed, then commits the next epoch's seed unless another
//! coordinator already did. Seeds are derived from the coordinator's key ([`SeedKey`]), so a
//! restarted coordinator reveals what it committed before without storing a secret; its earlier
//! commits are found in the market's `EpochSeedCommitted` logs. A seed is logged only once it is
//! revealed; the key never is.

use std::{collections::BTreeSet, fmt};

use alloy_primitives::{Address, B256, keccak256};
use assay_protocol::math::records::seed_commitment;
use tracing::{info, warn};

use assay_chain::{ChainError, Key};
use assay_protocol::{bindings::IJobMarket, codes::SeedState};

use super::market::{Market, SeedEntry};
use crate::metrics::Metrics;

/// Domain tag of the seed derivation.
const DOMAIN: &[u8] = b"assay.epoch-seed.v1";

/// The secret a coordinator's epoch seeds are derived from:
/// `keccak256(abi.encodePacked("assay.epoch-seed.v1", bytes32 key, uint64 chainId, address
/// market))`, so the seeds differ per key, chain and deployment (a seed revealed on one
/// deployment says nothing about another's). `Debug` redacts it.
#[derive(Clone)]
pub struct SeedKey(B256);

impl fmt::Debug for SeedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SeedKey(<redacted>)")
    }
}

impl SeedKey {
    /// The seed secret of `key` for the job market at `market` on chain `chain_id`.
    pub fn new(key: &Key, chain_id: u64, market: Address) -> Self {
        let mut pre = Vec::with_capacity(DOMAIN.len() + 32 + 8 + 20);
        pre.extend_from_slice(DOMAIN);
        pre.extend_from_slice(key.signer().to_bytes().as_slice());
        pre.extend_from_slice(&chain_id.to_be_bytes());
        pre.extend_from_slice(market.as_slice());
        Self(keccak256(&pre))
    }

    /// The seed of `epoch`: `keccak256(abi.encodePacked(bytes32 secret, uint64 epoch))`.
    pub fn seed(&self, epoch: u64) -> B256 {
        let mut pre = [0u8; 32 + 8];
        pre[..32].copy_from_slice(self.0.as_slice());
        pre[32..].copy_from_slice(&epoch.to_be_bytes());
        keccak256(pre)
    }

    /// The commitment to the seed of `epoch` that `commitEpochSeed` takes.
    pub fn commitment(&self, epoch: u64) -> B256 {
        seed_commitment(epoch, self.seed(epoch))
    }
}

/// What to do about the next epoch's seed, given its entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextEpoch {
    /// Nobody committed it: commit ours.
    Commit,
    /// Ours is committed (by an earlier round or before a restart).
    Ours,
    /// Another coordinator owns it: nothing to do.
    Taken(Address),
}

impl NextEpoch {
    /// The decision for coordinator `me`.
    pub fn plan(me: Address, entry: &SeedEntry) -> Self {
        if entry.state == SeedState::None {
            Self::Commit
        } else if entry.coordinator == me {
            Self::Ours
        } else {
            Self::Taken(entry.coordinator)
        }
    }
}

/// What to do about an epoch whose seed coordinator `me` committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// It has not started: the seed stays hidden.
    Wait,
    /// It has started and the seed is still hidden: reveal it now.
    Reveal,
    /// Revealed, forfeited, or not ours after all: forget it.
    Done,
}

impl Committed {
    /// The decision for `epoch` while the chain is in epoch `current`.
    pub fn plan(me: Address, epoch: u64, current: u64, entry: &SeedEntry) -> Self {
        if entry.state != SeedState::Committed || entry.coordinator != me {
            Self::Done
        } else if epoch > current {
            Self::Wait
        } else {
            Self::Reveal
        }
    }
}

/// The coordinator's seed book-keeping across rounds.
#[derive(Debug)]
pub struct Seeds {
    key: SeedKey,
    me: Address,
    /// Epochs whose seed this coordinator committed and has not seen revealed or forfeited.
    committed: BTreeSet<u64>,
    /// Future epochs already decided (committed by us or owned by another coordinator): their
    /// entry is not read again.
    decided: BTreeSet<u64>,
    /// Whether the market's logs were searched for commits sent before a restart.
    recovered: bool,
}

impl Seeds {
    /// Seeds derived from `key` for coordinator `me`.
    pub fn new(key: SeedKey, me: Address) -> Self {
        Self { key, me, committed: BTreeSet::new(), decided: BTreeSet::new(), recovered: false }
    }

    /// One round: reveal every started epoch this coordinator committed, then commit the next
    /// epoch's seed unless it is taken. Races with other coordinators and with the epoch clock
    /// (`SeedAlreadyCommitted`, `SeedAlreadySettled`, `EpochNotFuture`) are logged and looked at
    /// again next round.
    ///
    /// # Errors
    /// The first other chain error; what is left is retried next round.
    pub async fn tick(&mut self, market: &Market, metrics: &Metrics) -> Result<(), ChainError> {
        if !self.recovered {
            let found = market.my_hidden_seeds().await?;
            if !found.is_empty() {
                info!(epochs = ?found, "epoch seeds this coordinator committed and has not revealed");
            }
            self.committed.extend(found);
            self.recovered = true;
        }
        let current = market.current_epoch().await?;
        self.reveal_due(market, metrics, current).await?;
        self.commit_next(market, metrics, current).await
    }

    async fn reveal_due(
        &mut self,
        market: &Market,
        metrics: &Metrics,
        current: u64,
    ) -> Result<(), ChainError> {
        let due: Vec<u64> = self.committed.range(..=current).copied().collect();
        for epoch in due {
            let entry = market.seed_entry(epoch).await?;
            match Committed::plan(self.me, epoch, current, &entry) {
                Committed::Wait => continue,
                Committed::Done => {
                    self.committed.remove(&epoch);
                    continue;
                }
                Committed::Reveal => {}
            }
            let seed = self.key.seed(epoch);
            if seed_commitment(epoch, seed) != entry.commitment {
                warn!(
                    epoch,
                    "the committed epoch seed is not the one this key derives: cannot reveal it"
                );
                self.committed.remove(&epoch);
                continue;
            }
            match market.reveal_seed(epoch, seed).await {
                Ok(tx) => {
                    Metrics::inc(&metrics.epoch_seeds_revealed);
                    info!(epoch, %seed, %tx, "epoch seed revealed");
                    self.committed.remove(&epoch);
                }
                Err(e) if e.is_revert::<IJobMarket::SeedAlreadySettled>() => {
                    info!(epoch, "epoch seed already revealed or forfeited");
                    self.committed.remove(&epoch);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn commit_next(
        &mut self,
        market: &Market,
        metrics: &Metrics,
        current: u64,
    ) -> Result<(), ChainError> {
        let next = current.saturating_add(1);
        self.decided.retain(|e| *e >= next);
        if self.decided.contains(&next) {
            return Ok(());
        }
        match NextEpoch::plan(self.me, &market.seed_entry(next).await?) {
            NextEpoch::Ours => {
                self.committed.insert(next);
                self.decided.insert(next);
            }
            NextEpoch::Taken(owner) => {
                info!(epoch = next, %owner, "another coordinator committed the next epoch's seed");
                self.decided.insert(next);
            }
            NextEpoch::Commit => match market.commit_seed(next, self.key.commitment(next)).await {
                Ok(tx) => {
                    Metrics::inc(&metrics.epoch_seeds_committed);
                    info!(epoch = next, %tx, "epoch seed committed");
                    self.committed.insert(next);
                    self.decided.insert(next);
                }
                Err(e)
                    if e.is_revert::<IJobMarket::SeedAlreadyCommitted>()
                        || e.is_revert::<IJobMarket::EpochNotFuture>() =>
                {
                    info!(epoch = next, error = %e, "epoch seed not committed: looking again next round");
                }
                Err(e) => return Err(e),
            },
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(byte: u8) -> Key {
        Key::from_hex(&B256::repeat_byte(byte).to_string(), "test").expect("valid key")
    }

    #[test]
    fn seeds_follow_the_documented_formula_and_open_their_commitments() {
        let (key, market) = (signer(7), Address::repeat_byte(0x4d));
        let seeds = SeedKey::new(&key, 412_346, market);
        let secret = keccak256(
            [
                b"assay.epoch-seed.v1".as_slice(),
                B256::repeat_byte(7).as_slice(),
                &412_346u64.to_be_bytes(),
                market.as_slice(),
            ]
            .concat(),
        );
        let seed = keccak256([secret.as_slice(), &5u64.to_be_bytes()].concat());
        assert_eq!(seeds.seed(5), seed);
        assert_eq!(seeds.commitment(5), keccak256([&5u64.to_be_bytes(), seed.as_slice()].concat()));
        assert_eq!(seeds.commitment(5), seed_commitment(5, seeds.seed(5)));
        // Deterministic (a restart reveals what it committed), and different per epoch, key,
        // chain and market.
        assert_eq!(SeedKey::new(&key, 412_346, market).seed(5), seed);
        assert_ne!(seeds.seed(6), seed);
        assert_ne!(SeedKey::new(&signer(8), 412_346, market).seed(5), seed);
        assert_ne!(SeedKey::new(&key, 1, market).seed(5), seed);
        assert_ne!(SeedKey::new(&key, 412_346, Address::repeat_byte(1)).seed(5), seed);
    }

    #[test]
    fn debug_shows_neither_the_key_nor_the_secret() {
        let seeds = SeedKey::new(&signer(7), 1, Address::ZERO);
        let shown = format!("{seeds:?} {seeds:#?}");
        assert!(shown.contains("redacted"), "{shown}");
        assert!(!shown.contains("0707"), "{shown}");
        assert!(!shown.to_lowercase().contains(&alloy_primitives::hex::encode(&seeds.0[..4])));
    }

    #[test]
    fn the_draw_seed_is_the_markets() {
        let seed = B256::repeat_byte(9);
        let entry = |state| SeedEntry { seed, state, ..SeedEntry::default() };
        assert_eq!(entry(SeedState::None).draw_seed(), Some(B256::ZERO));
        assert_eq!(entry(SeedState::Committed).draw_seed(), None, "hidden: wait");
        assert_eq!(entry(SeedState::Revealed).draw_seed(), Some(seed));
        assert_eq!(entry(SeedState::Forfeited).draw_seed(), Some(B256::ZERO));
    }

    #[test]
    fn the_next_epoch_is_committed_only_when_nobody_did() {
        let (me, other) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let entry = |coordinator, state| SeedEntry { coordinator, state, ..SeedEntry::default() };
        assert_eq!(NextEpoch::plan(me, &entry(Address::ZERO, SeedState::None)), NextEpoch::Commit);
        assert_eq!(NextEpoch::plan(me, &entry(me, SeedState::Committed)), NextEpoch::Ours);
        assert_eq!(
            NextEpoch::plan(me, &entry(other, SeedState::Committed)),
            NextEpoch::Taken(other)
        );
    }

    #[test]
    fn a_committed_seed_is_revealed_once_its_epoch_started() {
        let (me, other) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let entry = |coordinator, state| SeedEntry { coordinator, state, ..SeedEntry::default() };
        let hidden = entry(me, SeedState::Committed);
        assert_eq!(Committed::plan(me, 5, 4, &hidden), Committed::Wait, "not started");
        assert_eq!(Committed::plan(me, 5, 5, &hidden), Committed::Reveal, "started");
        assert_eq!(Committed::plan(me, 3, 5, &hidden), Committed::Reveal, "late, not forfeited");
        assert_eq!(Committed::plan(me, 5, 5, &entry(me, SeedState::Revealed)), Committed::Done);
        assert_eq!(Committed::plan(me, 5, 6, &entry(me, SeedState::Forfeited)), Committed::Done);
        assert_eq!(Committed::plan(me, 5, 5, &entry(other, SeedState::Committed)), Committed::Done);
    }
}
