//! Merkle trees with commutative keccak-256 pair hashing (`H(min(a, b) || max(a, b))`), the
//! scheme OpenZeppelin's `MerkleProof` uses: a proof is the list of sibling hashes from the leaf
//! up, with no position bits. An odd node at the end of a level is promoted unchanged.

use alloc::vec::Vec;

use alloy_primitives::{keccak256, B256};

/// Hashes a pair of nodes in sorted order.
pub fn hash_pair(a: B256, b: B256) -> B256 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(lo.as_slice());
    buf[32..].copy_from_slice(hi.as_slice());
    keccak256(buf)
}

/// Recomputes the root from `leaf` and its `proof` and compares it with `root`.
pub fn verify(proof: &[B256], root: B256, leaf: B256) -> bool {
    proof.iter().fold(leaf, |node, sibling| hash_pair(node, *sibling)) == root
}

/// The root over `leaves` in order; `B256::ZERO` for no leaves.
pub fn root(leaves: &[B256]) -> B256 {
    let mut level: Vec<B256> = leaves.to_vec();
    if level.is_empty() {
        return B256::ZERO;
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| if pair.len() == 2 { hash_pair(pair[0], pair[1]) } else { pair[0] })
            .collect();
    }
    level[0]
}

/// The proof for the leaf at `index`, or `None` when `index` is out of range.
pub fn proof(leaves: &[B256], index: usize) -> Option<Vec<B256>> {
    if index >= leaves.len() {
        return None;
    }
    let mut level: Vec<B256> = leaves.to_vec();
    let mut index = index;
    let mut proof = Vec::new();
    while level.len() > 1 {
        let sibling = index ^ 1;
        if sibling < level.len() {
            proof.push(level[sibling]);
        }
        level = level
            .chunks(2)
            .map(|pair| if pair.len() == 2 { hash_pair(pair[0], pair[1]) } else { pair[0] })
            .collect();
        index /= 2;
    }
    Some(proof)
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn leaves(n: usize) -> Vec<B256> {
        (0..n).map(|i| keccak256((i as u64).to_le_bytes())).collect()
    }

    #[test]
    fn single_leaf_is_its_own_root() {
        let l = leaves(1);
        assert_eq!(root(&l), l[0]);
        assert!(verify(&[], l[0], l[0]));
    }

    #[test]
    fn pair_hash_is_commutative_and_order_sensitive_in_content() {
        let l = leaves(2);
        assert_eq!(hash_pair(l[0], l[1]), hash_pair(l[1], l[0]));
        assert_ne!(hash_pair(l[0], l[1]), hash_pair(l[0], l[0]));
    }

    proptest! {
        #[test]
        fn every_leaf_proves_and_no_foreign_leaf_does(n in 1usize..40, pick in 0usize..40) {
            let l = leaves(n);
            let r = root(&l);
            let i = pick % n;
            let p = proof(&l, i).unwrap();
            prop_assert!(verify(&p, r, l[i]));
            prop_assert!(!verify(&p, r, keccak256(b"not a leaf")));
            prop_assert!(proof(&l, n).is_none());
        }
    }
}
