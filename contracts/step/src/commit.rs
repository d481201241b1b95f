//! The commitments a one-step proof checks (`crates/engine/TRACE.md`): cells, Merkle nodes and
//! paths, op leaves and the trace root. The hash is passed in, so the same definitions run with
//! a software keccak off chain and with the keccak hostio on chain.

/// A 32-byte keccak-256 digest.
pub type Hash = [u8; 32];

/// keccak-256 over the concatenation of `parts`.
pub trait Keccak {
    /// `keccak(parts[0] ‖ parts[1] ‖ …)`.
    fn keccak(&self, parts: &[&[u8]]) -> Hash;
}

/// Most dimensions an op's output has.
pub const MAX_RANK: usize = 8;

/// A cell: `keccak(0x11 ‖ bytes)`.
pub fn cell<K: Keccak>(k: &K, bytes: &[u8]) -> Hash {
    k.keccak(&[&[0x11], bytes])
}

/// The preimage of an inner node: `0x01 ‖ left ‖ right`.
pub fn node_preimage(l: &Hash, r: &Hash) -> [u8; 65] {
    let mut pre = [0u8; 65];
    pre[0] = 0x01;
    pre[1..33].copy_from_slice(l);
    pre[33..].copy_from_slice(r);
    pre
}

/// An inner node: `keccak(0x01 ‖ left ‖ right)`.
pub fn node<K: Keccak>(k: &K, l: &Hash, r: &Hash) -> Hash {
    k.keccak(&[&node_preimage(l, r)])
}

/// The root of a Merkle tree whose odd nodes are carried up (cells, models), from a leaf, its
/// index and its path (`None` where the node had no sibling).
pub fn merkle_verify<K: Keccak>(
    k: &K,
    leaf: Hash,
    mut index: usize,
    proof: &[Option<Hash>],
) -> Hash {
    let mut h = leaf;
    for sibling in proof {
        if let Some(s) = sibling {
            h = if index.is_multiple_of(2) { node(k, &h, s) } else { node(k, s, &h) };
        }
        index /= 2;
    }
    h
}

/// The root of a zero-padded tree (the trace's leaves), from a leaf, its index and its path.
pub fn tree_verify<K: Keccak>(k: &K, leaf: Hash, mut index: usize, proof: &[Hash]) -> Hash {
    let mut h = leaf;
    for sibling in proof {
        h = if index.is_multiple_of(2) { node(k, &h, sibling) } else { node(k, sibling, &h) };
        index /= 2;
    }
    h
}

/// The root of a zero-padded tree of `2^depth` zero leaves.
pub fn zero_subtree<K: Keccak>(k: &K, depth: usize) -> Hash {
    (0..depth).fold([0u8; 32], |z, _| node(k, &z, &z))
}

/// An op leaf: `keccak(0x10 ‖ step u32 ‖ layer u32 ‖ op u32 ‖ dtype u8 ‖ rank u8 ‖ dims u32* ‖
/// cells_root)`. `None` for more than [`MAX_RANK`] dimensions.
pub fn op_leaf<K: Keccak>(
    k: &K,
    (step, layer, op): (u32, u32, u32),
    dtype: u8,
    dims: &[u32],
    cells_root: &Hash,
) -> Option<Hash> {
    if dims.len() > MAX_RANK {
        return None;
    }
    let mut head = [0u8; 15 + 4 * MAX_RANK];
    head[0] = 0x10;
    head[1..5].copy_from_slice(&step.to_le_bytes());
    head[5..9].copy_from_slice(&layer.to_le_bytes());
    head[9..13].copy_from_slice(&op.to_le_bytes());
    head[13] = dtype;
    head[14] = dims.len() as u8;
    for (slot, d) in head[15..].chunks_exact_mut(4).zip(dims) {
        slot.copy_from_slice(&d.to_le_bytes());
    }
    Some(k.keccak(&[&head[..15 + 4 * dims.len()], cells_root]))
}

/// The trace root: `keccak(0x12 ‖ n_leaves u32 ‖ output_hash ‖ tree_root)`.
pub fn trace_root<K: Keccak>(k: &K, n_leaves: u32, output_hash: &Hash, tree_root: &Hash) -> Hash {
    let mut head = [0u8; 5];
    head[0] = 0x12;
    head[1..].copy_from_slice(&n_leaves.to_le_bytes());
    k.keccak(&[&head, output_hash, tree_root])
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::*;

    /// A stand-in hash (FNV-1a spread over 32 bytes) that sees exactly the concatenated bytes:
    /// enough to test layouts; the engine's tests pin the real keccak values.
    struct Fnv;

    impl Keccak for Fnv {
        fn keccak(&self, parts: &[&[u8]]) -> Hash {
            let mut h = 0xcbf2_9ce4_8422_2325u64;
            for b in parts.iter().flat_map(|p| p.iter()) {
                h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
            }
            let mut out = [0u8; 32];
            for (i, chunk) in out.chunks_exact_mut(8).enumerate() {
                chunk.copy_from_slice(&h.rotate_left(16 * i as u32).to_le_bytes());
            }
            out
        }
    }

    #[test]
    fn preimages_are_the_documented_bytes() {
        let k = Fnv;
        let root = [7u8; 32];
        let mut pre: Vec<u8> = [0x10].into();
        for v in [3u32, 1, 12] {
            pre.extend_from_slice(&v.to_le_bytes());
        }
        pre.extend_from_slice(&[5, 2, 2, 0, 0, 0, 3, 0, 0, 0]);
        pre.extend_from_slice(&root);
        assert_eq!(op_leaf(&k, (3, 1, 12), 5, &[2, 3], &root), Some(k.keccak(&[&pre])));
        assert_eq!(op_leaf(&k, (3, 1, 12), 5, &[1; MAX_RANK + 1], &root), None);
        assert_eq!(cell(&k, b"ab"), k.keccak(&[b"\x11ab"]));
        let (l, r) = ([1u8; 32], [2u8; 32]);
        assert_eq!(node(&k, &l, &r), k.keccak(&[&[1], &l, &r]));
        let mut head = [0x12u8, 0, 0, 0, 0];
        head[1..].copy_from_slice(&9u32.to_le_bytes());
        assert_eq!(trace_root(&k, 9, &l, &r), k.keccak(&[&head, &l, &r]));
    }

    #[test]
    fn paths_climb_left_and_right() {
        let k = Fnv;
        let leaves: Vec<Hash> = (0..3u8).map(|i| [i; 32]).collect();
        // Padded tree of 3: node(node(a, b), node(c, 0)).
        let right = node(&k, &leaves[2], &[0; 32]);
        let root = node(&k, &node(&k, &leaves[0], &leaves[1]), &right);
        assert_eq!(tree_verify(&k, leaves[1], 1, &[leaves[0], right]), root);
        assert_eq!(
            tree_verify(&k, leaves[2], 2, &[[0; 32], node(&k, &leaves[0], &leaves[1])]),
            root
        );
        // Odd-carry tree of 3: node(node(a, b), c); c has no sibling at the first level.
        let carried = node(&k, &node(&k, &leaves[0], &leaves[1]), &leaves[2]);
        let proof = [None, Some(node(&k, &leaves[0], &leaves[1]))];
        assert_eq!(merkle_verify(&k, leaves[2], 2, &proof), carried);
        assert_eq!(
            zero_subtree(&k, 2),
            node(&k, &node(&k, &[0; 32], &[0; 32]), &node(&k, &[0; 32], &[0; 32]))
        );
    }
}
