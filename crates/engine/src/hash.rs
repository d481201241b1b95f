//! Canonical hashing: keccak-256, tensor hashes, cells and Merkle trees (the format is specified
//! in `crates/engine/TRACE.md`).
//!
//! - A tensor hash is `keccak(0x00 ‖ op u32 ‖ dtype u8 ‖ rank u8 ‖ dims u32… ‖ data)`, all little
//!   endian (the output hash is built from two).
//! - A cell is a run of at most [`CELL_BYTES`] bytes of whole elements within one row (the last
//!   dimension) of a tensor; its hash is `keccak(0x11 ‖ bytes)`. A tensor's cells root is the
//!   [`merkle_root`] of its cell hashes in row-major order.
//! - An inner node is `keccak(0x01 ‖ left ‖ right)`. In [`merkle_root`] an odd node at the end of
//!   a level is carried up unchanged, the root of one leaf is the leaf and the root of no leaves
//!   is 32 zero bytes; [`tree_root`] instead pads the leaves with zero hashes to a power of two,
//!   so every leaf has a path of the same length (what a bisection walks down).

use alloc::vec::Vec;

use assay_step::commit;
use tiny_keccak::{Hasher, Keccak};

/// A 32-byte keccak-256 digest.
pub type Hash = [u8; 32];

/// The software keccak the engine passes to `assay-step`'s commitment definitions
/// ([`assay_step::commit`]), which the dispute contract runs with the keccak hostio.
#[derive(Clone, Copy, Debug, Default)]
pub struct SoftKeccak;

impl assay_step::commit::Keccak for SoftKeccak {
    fn keccak(&self, parts: &[&[u8]]) -> Hash {
        let mut k = Keccak::v256();
        parts.iter().for_each(|p| k.update(p));
        let mut out = [0u8; 32];
        k.finalize(&mut out);
        out
    }
}

/// keccak-256 of `data`.
pub fn keccak(data: &[u8]) -> Hash {
    let mut k = Keccak::v256();
    k.update(data);
    let mut out = [0u8; 32];
    k.finalize(&mut out);
    out
}

/// Element types that can be hashed as tensors.
pub trait Element: Copy {
    /// Canonical dtype tag.
    const DTYPE: u8;
    /// Appends the little-endian bytes of `xs` to the hasher.
    fn update(k: &mut Keccak, xs: &[Self]);
    /// Appends the little-endian bytes of `xs` to `out`.
    fn extend_le(out: &mut Vec<u8>, xs: &[Self]);
}

macro_rules! element {
    ($t:ty, $tag:expr) => {
        impl Element for $t {
            const DTYPE: u8 = $tag;
            fn update(k: &mut Keccak, xs: &[Self]) {
                let mut buf = [0u8; 256];
                const W: usize = core::mem::size_of::<$t>();
                for chunk in xs.chunks(256 / W) {
                    for (b, x) in buf.chunks_exact_mut(W).zip(chunk) {
                        b.copy_from_slice(&x.to_le_bytes());
                    }
                    k.update(&buf[..chunk.len() * W]);
                }
            }
            fn extend_le(out: &mut Vec<u8>, xs: &[Self]) {
                const W: usize = core::mem::size_of::<$t>();
                let start = out.len();
                out.resize(start + xs.len() * W, 0);
                for (b, x) in out[start..].chunks_exact_mut(W).zip(xs) {
                    b.copy_from_slice(&x.to_le_bytes());
                }
            }
        }
    };
}
element!(i8, 1);
element!(u8, 2);
element!(i16, 3);
element!(u16, 4);
element!(i32, 5);
element!(u32, 6);
element!(i64, 7);

/// Hash of a whole tensor produced by op `op` with shape `dims` (the output hash is built from
/// two; trace leaves commit to cells instead).
pub fn tensor_leaf<T: Element>(op: u32, dims: &[u32], data: &[T]) -> Hash {
    debug_assert_eq!(dims.iter().map(|&d| d as usize).product::<usize>(), data.len());
    let mut k = Keccak::v256();
    k.update(&[0u8]);
    k.update(&op.to_le_bytes());
    k.update(&[T::DTYPE, dims.len() as u8]);
    for d in dims {
        k.update(&d.to_le_bytes());
    }
    T::update(&mut k, data);
    let mut out = [0u8; 32];
    k.finalize(&mut out);
    out
}

/// Largest cell, in bytes: a row is cut into cells of `CELL_BYTES / element size` elements.
pub use commit::CELL_BYTES;

/// Elements per cell for elements of `size` bytes.
pub const fn cell_elements(size: usize) -> usize {
    CELL_BYTES / size
}

/// Hash of one cell: `keccak(0x11 ‖ bytes)` ([`assay_step::commit::cell`]).
pub fn cell_hash(bytes: &[u8]) -> Hash {
    commit::cell(&SoftKeccak, bytes)
}

/// [`cell_hash`] of the little-endian bytes of `xs`, without copying them.
pub fn cell_hash_of<T: Element>(xs: &[T]) -> Hash {
    let mut k = Keccak::v256();
    k.update(&[0x11]);
    T::update(&mut k, xs);
    let mut out = [0u8; 32];
    k.finalize(&mut out);
    out
}

/// The cells of `data` whose rows are `row` elements, as element slices (the same cells as
/// [`cells`] cuts from its bytes).
pub fn element_cells<T>(data: &[T], row: usize) -> impl Iterator<Item = &[T]> {
    let per_cell = cell_elements(core::mem::size_of::<T>());
    data.chunks(row.max(1)).flat_map(move |r| r.chunks(per_cell))
}

/// The cells of a tensor's little-endian `bytes`, whose rows are `row` elements of `size` bytes
/// (`row` is the last dimension, the whole tensor for a vector); a row of zero elements has no
/// cells.
pub fn cells(bytes: &[u8], row: usize, size: usize) -> impl Iterator<Item = &[u8]> {
    let row_bytes = (row * size).max(1);
    bytes.chunks(row_bytes).flat_map(move |r| r.chunks(cell_elements(size) * size))
}

/// Root of a tensor's cells: [`merkle_root`] of their [`cell_hash`]es.
pub fn cells_root(bytes: &[u8], row: usize, size: usize) -> Hash {
    let hashes: Vec<Hash> = cells(bytes, row, size).map(cell_hash).collect();
    merkle_root(&hashes)
}

/// Hashes a batch of byte strings: `out[i] = keccak(pre[i])`. A native caller may spread a batch
/// over threads (see [`crate::kernels::Kernels::batch_hasher`]).
pub type BatchHasher = fn(pre: &[&[u8]], out: &mut [Hash]);

/// The serial [`BatchHasher`].
pub fn keccak_batch(pre: &[&[u8]], out: &mut [Hash]) {
    for (o, p) in out.iter_mut().zip(pre) {
        *o = keccak(p);
    }
}

/// Hash of two child nodes.
pub fn node(l: &Hash, r: &Hash) -> Hash {
    commit::node(&SoftKeccak, l, r)
}

/// Merkle root of `leaves` (see the module docs for the shape of the tree).
pub fn merkle_root(leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return [0u8; 32];
    }
    let mut level: Vec<Hash> = leaves.to_vec();
    while level.len() > 1 {
        level = level.chunks(2).map(|p| if let [l, r] = p { node(l, r) } else { p[0] }).collect();
    }
    level[0]
}

/// Sibling path proving leaf `index` under [`merkle_root`]; entries are `None` where the node
/// was carried up without a sibling.
pub fn merkle_proof(leaves: &[Hash], mut index: usize) -> Vec<Option<Hash>> {
    let mut proof = Vec::new();
    let mut level: Vec<Hash> = leaves.to_vec();
    while level.len() > 1 {
        proof.push(level.get(index ^ 1).copied());
        level = level.chunks(2).map(|p| if let [l, r] = p { node(l, r) } else { p[0] }).collect();
        index /= 2;
    }
    proof
}

/// Recomputes the root from a leaf, its index and its [`merkle_proof`].
pub fn merkle_verify(leaf: Hash, index: usize, proof: &[Option<Hash>]) -> Hash {
    commit::merkle_verify(&SoftKeccak, leaf, index, proof)
}

/// Root of a zero-padded tree of `2^depth` leaves whose leaves are all zero.
fn zero_subtree(depth: usize) -> Hash {
    commit::zero_subtree(&SoftKeccak, depth)
}

/// Depth of the [`tree_root`] tree over `n` leaves: the least `d` with `2^d >= n`.
pub fn tree_depth(n: usize) -> usize {
    n.next_power_of_two().trailing_zeros() as usize
}

/// Root of `leaves` padded with zero hashes to `2^depth` leaves (`depth >= tree_depth(n)`).
pub fn tree_root_at(leaves: &[Hash], depth: usize) -> Hash {
    debug_assert!(depth >= tree_depth(leaves.len()));
    let mut level: Vec<Hash> = leaves.to_vec();
    for d in 0..depth {
        let zero = zero_subtree(d);
        level = level.chunks(2).map(|p| node(&p[0], p.get(1).unwrap_or(&zero))).collect();
    }
    level.first().copied().unwrap_or_else(|| zero_subtree(depth))
}

/// [`tree_root_at`] the least depth that holds `leaves` (a tree of one leaf is the leaf).
pub fn tree_root(leaves: &[Hash]) -> Hash {
    tree_root_at(leaves, tree_depth(leaves.len()))
}

/// The siblings of leaf `index` in the [`tree_root`] tree, from the leaf up.
pub fn tree_proof(leaves: &[Hash], mut index: usize) -> Vec<Hash> {
    let mut proof = Vec::new();
    let mut level: Vec<Hash> = leaves.to_vec();
    for d in 0..tree_depth(leaves.len()) {
        let zero = zero_subtree(d);
        proof.push(level.get(index ^ 1).copied().unwrap_or(zero));
        level = level.chunks(2).map(|p| node(&p[0], p.get(1).unwrap_or(&zero))).collect();
        index /= 2;
    }
    proof
}

/// The nodes `level` levels above `base` in a tree over `width` base nodes (`base` padded with
/// zero hashes up to `width`) whose odd nodes are carried up: the padded leaf tree when `width`
/// is a power of two, the cells tree when `width` is the number of cells. A dispute game's
/// bisection moves post slices of these levels.
pub fn tree_level(base: &[Hash], width: usize, level: u32) -> Vec<Hash> {
    let mut nodes = base.to_vec();
    nodes.resize(width.max(base.len()), [0u8; 32]);
    for _ in 0..level {
        nodes = nodes.chunks(2).map(|p| if let [l, r] = p { node(l, r) } else { p[0] }).collect();
    }
    nodes
}

/// Recomputes a [`tree_root`] from a leaf, its index and its [`tree_proof`].
pub fn tree_verify(leaf: Hash, index: usize, proof: &[Hash]) -> Hash {
    commit::tree_verify(&SoftKeccak, leaf, index, proof)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keccak_of_empty_is_the_known_constant() {
        assert_eq!(
            hex::encode(keccak(b"")),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
    }

    #[test]
    fn proofs_verify_for_every_leaf_and_size() {
        for n in 1..12usize {
            let leaves: Vec<Hash> = (0..n as u8).map(|i| keccak(&[i])).collect();
            let root = merkle_root(&leaves);
            for i in 0..n {
                assert_eq!(merkle_verify(leaves[i], i, &merkle_proof(&leaves, i)), root);
            }
            let mut bad = leaves.clone();
            bad[n - 1][0] ^= 1;
            assert_ne!(merkle_root(&bad), root);
        }
    }

    #[test]
    fn padded_trees_prove_every_leaf_and_lift_to_any_depth() {
        assert_eq!(tree_root(&[]), [0; 32]);
        assert_eq!(tree_root(&[[7; 32]]), [7; 32]);
        for n in 1..12usize {
            let leaves: Vec<Hash> = (0..n as u8).map(|i| keccak(&[i])).collect();
            let root = tree_root(&leaves);
            for i in 0..n {
                let proof = tree_proof(&leaves, i);
                assert_eq!(proof.len(), tree_depth(n));
                assert_eq!(tree_verify(leaves[i], i, &proof), root);
            }
            // A deeper tree is the shallow root next to zero subtrees.
            let d = tree_depth(n);
            assert_eq!(tree_root_at(&leaves, d + 2), {
                let up = node(&root, &zero_subtree(d));
                node(&up, &zero_subtree(d + 1))
            });
        }
        let three = [[1; 32], [2; 32], [3; 32]];
        assert_eq!(tree_root(&three), node(&node(&[1; 32], &[2; 32]), &node(&[3; 32], &[0; 32])));
    }

    #[test]
    fn tree_levels_are_the_padded_and_the_carried_trees() {
        let leaves: Vec<Hash> = (0..5u8).map(|i| keccak(&[i])).collect();
        assert_eq!(tree_level(&leaves, 8, 3), [tree_root(&leaves)]);
        assert_eq!(tree_level(&leaves, 5, 3), [merkle_root(&leaves)]);
        assert_eq!(tree_level(&leaves, 8, 0)[5..], [[0u8; 32]; 3]);
        assert_eq!(tree_level(&leaves, 5, 1).len(), 3);
    }

    #[test]
    fn the_streaming_cell_hash_is_the_definition() {
        let xs: Vec<i32> = (0..300).map(|i| i * -40_009).collect();
        let bytes: Vec<u8> = xs.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(cell_hash_of(&xs), cell_hash(&bytes));
        assert_eq!(cell_hash_of::<u16>(&[]), cell_hash(&[]));
    }

    #[test]
    fn cells_split_rows_and_never_span_two() {
        let row: Vec<u8> = (0..600u32).flat_map(|v| v.to_le_bytes()).collect();
        let two_rows = [row.clone(), row.clone()].concat();
        let sizes: Vec<usize> = cells(&two_rows, 600, 4).map(<[u8]>::len).collect();
        assert_eq!(sizes, [1024, 1024, 352, 1024, 1024, 352]);
        let mults = [0u8; 5 * 300];
        let sizes: Vec<usize> = cells(&mults, 300, 5).map(<[u8]>::len).collect();
        assert_eq!(sizes, [1020, 480]);
        assert_eq!(cells(&[], 0, 4).count(), 0);
        assert_eq!(cells_root(&row, 600, 4), {
            let h: Vec<Hash> = [&row[..1024], &row[1024..2048], &row[2048..]]
                .iter()
                .map(|c| cell_hash(c))
                .collect();
            merkle_root(&h)
        });
    }

    #[test]
    fn leaf_binds_op_shape_and_dtype() {
        let a = tensor_leaf(1, &[2, 2], &[1i32, 2, 3, 4]);
        assert_ne!(a, tensor_leaf(2, &[2, 2], &[1i32, 2, 3, 4]));
        assert_ne!(a, tensor_leaf(1, &[4, 1], &[1i32, 2, 3, 4]));
        assert_ne!(a, tensor_leaf(1, &[2, 2], &[1u32, 2, 3, 4]));
        let big: Vec<i16> = (0..1000).collect();
        assert_ne!(
            tensor_leaf(0, &[1000], &big),
            tensor_leaf(0, &[1000], &big[..999].iter().chain(&[0]).copied().collect::<Vec<_>>())
        );
    }
}
