//! Stake-weighted draws and the challenge coin (DESIGN 3.3).
//!
//! Every draw is a pure function of values fixed on-chain after the fact it decides: a block hash
//! that did not exist when the job was created (assignment) or asserted (challenge), mixed with
//! the coordinator's committed epoch seed. The contracts and any observer recompute the same
//! result from the same inputs.
//!
//! Seeds are `keccak256(domain || fields...)` with fixed-width big-endian fields, so the Solidity
//! expression `keccak256(abi.encodePacked(domain, fields...))` gives the same bytes.

use alloc::vec::Vec;

use alloy_primitives::{keccak256, B256, U256};

use crate::PPM;

const ASSIGN_DOMAIN: &[u8] = b"assay.assign.v1";
const CHALLENGE_DOMAIN: &[u8] = b"assay.challenge.v1";
const PICK_DOMAIN: &[u8] = b"assay.pick.v1";

fn hash_fields(domain: &[u8], fields: &[&[u8]]) -> B256 {
    let mut buf = Vec::new();
    buf.extend_from_slice(domain);
    for field in fields {
        buf.extend_from_slice(field);
    }
    keccak256(buf)
}

/// Seed that picks the asserter of an on-chain job: the hash of the job's creation block is
/// unknown to the requester when it submits.
pub fn assignment_seed(job_id: U256, creation_block_hash: B256) -> B256 {
    hash_fields(ASSIGN_DOMAIN, &[creation_block_hash.as_slice(), &job_id.to_be_bytes::<32>()])
}

/// Seed of a job's challenge coin and validator draw: the coordinator's epoch seed (committed
/// before the epoch) mixed with the hash of the block that included the assertion.
pub fn challenge_seed(epoch_seed: B256, assertion_block_hash: B256, job_key: B256) -> B256 {
    hash_fields(
        CHALLENGE_DOMAIN,
        &[epoch_seed.as_slice(), assertion_block_hash.as_slice(), job_key.as_slice()],
    )
}

/// The challenge coin: true with probability `p_ppm / 1e6`.
pub fn is_challenged(seed: B256, p_ppm: u32) -> bool {
    crate::wide::div_rem_small(U256::from_be_bytes(seed.0), PPM).is_some_and(|(_, r)| r < p_ppm)
}

/// Picks one index with probability proportional to its weight; `None` when all weights are zero.
pub fn weighted_pick(seed: B256, weights: &[U256]) -> Option<usize> {
    let total = weights.iter().fold(U256::ZERO, |acc, w| acc.saturating_add(*w));
    if total.is_zero() {
        return None;
    }
    let target = crate::wide::rem(U256::from_be_bytes(seed.0), total)?;
    let mut cumulative = U256::ZERO;
    for (index, weight) in weights.iter().enumerate() {
        cumulative = cumulative.saturating_add(*weight);
        if target < cumulative {
            return Some(index);
        }
    }
    None
}

/// Draws up to `count` distinct indices, each weighted by stake, without replacement. Indices
/// with zero weight (ineligible candidates, the asserter) are never drawn. Fewer than `count`
/// come back when fewer candidates have weight.
pub fn pick_distinct(seed: B256, weights: &[U256], count: usize) -> Vec<usize> {
    let mut remaining = weights.to_vec();
    let mut picked = Vec::with_capacity(count);
    for round in 0..count {
        let round_seed =
            hash_fields(PICK_DOMAIN, &[seed.as_slice(), &(round as u32).to_be_bytes()]);
        match weighted_pick(round_seed, &remaining) {
            Some(index) => {
                remaining[index] = U256::ZERO;
                picked.push(index);
            }
            None => break,
        }
    }
    picked
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use alloc::vec;

    use proptest::prelude::*;

    use super::*;

    fn seed(i: u64) -> B256 {
        keccak256(i.to_le_bytes())
    }

    #[test]
    fn zero_weights_draw_nothing() {
        assert_eq!(weighted_pick(seed(1), &[U256::ZERO, U256::ZERO]), None);
        assert_eq!(weighted_pick(seed(1), &[]), None);
        assert!(pick_distinct(seed(1), &[U256::ZERO], 3).is_empty());
    }

    #[test]
    fn draws_follow_stake_weights() {
        let weights = vec![U256::from(1u64), U256::from(3u64), U256::ZERO];
        let mut hits = [0u32; 3];
        for i in 0..4000 {
            hits[weighted_pick(seed(i), &weights).unwrap()] += 1;
        }
        assert_eq!(hits[2], 0);
        // Expected 1000 / 3000; allow a generous statistical margin.
        assert!((800..1200).contains(&hits[0]), "{hits:?}");
    }

    #[test]
    fn challenge_rate_matches_p() {
        let hits = (0..20_000).filter(|i| is_challenged(seed(*i), 100_000)).count();
        assert!((1700..2300).contains(&hits), "{hits}");
        assert!(!(0..1000).any(|i| is_challenged(seed(i), 0)));
        assert!((0..1000).all(|i| is_challenged(seed(i), PPM)));
    }

    #[test]
    fn seeds_separate_domains_and_inputs() {
        let (a, b) = (seed(1), seed(2));
        assert_ne!(challenge_seed(a, b, a), challenge_seed(b, a, a));
        assert_ne!(assignment_seed(U256::from(1u64), a), assignment_seed(U256::from(2u64), a));
    }

    proptest! {
        #[test]
        fn distinct_picks_are_distinct_and_weighted(ws in proptest::collection::vec(0u64..5, 0..12),
                                                    s in any::<u64>(), count in 0usize..8) {
            let weights: Vec<U256> = ws.iter().map(|w| U256::from(*w)).collect();
            let picked = pick_distinct(seed(s), &weights, count);
            let eligible = ws.iter().filter(|w| **w > 0).count();
            prop_assert_eq!(picked.len(), count.min(eligible));
            for (k, i) in picked.iter().enumerate() {
                prop_assert!(ws[*i] > 0);
                prop_assert!(!picked[..k].contains(i));
            }
        }
    }
}
