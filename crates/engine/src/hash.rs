//! Canonical hashing: keccak-256, tensor leaves and binary Merkle roots.
//!
//! - A tensor leaf is `keccak(0x00 ‖ op u32 ‖ dtype u8 ‖ rank u8 ‖ dims u32… ‖ data)`, all little
//!   endian.
//! - An inner node is `keccak(0x01 ‖ left ‖ right)`; an odd node at the end of a level is carried
//!   up unchanged; the root of one leaf is the leaf; the root of no leaves is 32 zero bytes.

use alloc::vec::Vec;

use tiny_keccak::{Hasher, Keccak};

/// A 32-byte keccak-256 digest.
pub type Hash = [u8; 32];

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

/// Hash of a tensor produced by op `op` with shape `dims`.
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

/// The bytes [`tensor_leaf`] hashes: `keccak(leaf_preimage(..)) == tensor_leaf(..)`.
pub fn leaf_preimage<T: Element>(op: u32, dims: &[u32], data: &[T]) -> Vec<u8> {
    debug_assert_eq!(dims.iter().map(|&d| d as usize).product::<usize>(), data.len());
    let mut out = Vec::with_capacity(7 + 4 * dims.len() + core::mem::size_of_val(data));
    out.push(0);
    out.extend_from_slice(&op.to_le_bytes());
    out.extend_from_slice(&[T::DTYPE, dims.len() as u8]);
    for d in dims {
        out.extend_from_slice(&d.to_le_bytes());
    }
    T::extend_le(&mut out, data);
    out
}

/// Hashes a batch of byte strings: `out[i] = keccak(pre[i])`. A native caller may spread a batch
/// over threads (see [`crate::kernels::Kernels::batch_hasher`]).
pub type BatchHasher = fn(pre: &[Vec<u8>], out: &mut [Hash]);

/// The serial [`BatchHasher`].
pub fn keccak_batch(pre: &[Vec<u8>], out: &mut [Hash]) {
    for (o, p) in out.iter_mut().zip(pre) {
        *o = keccak(p);
    }
}

/// Hash of two child nodes.
pub fn node(l: &Hash, r: &Hash) -> Hash {
    let mut k = Keccak::v256();
    k.update(&[1u8]);
    k.update(l);
    k.update(r);
    let mut out = [0u8; 32];
    k.finalize(&mut out);
    out
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
pub fn merkle_verify(leaf: Hash, mut index: usize, proof: &[Option<Hash>]) -> Hash {
    let mut h = leaf;
    for sib in proof {
        if let Some(s) = sib {
            h = if index.is_multiple_of(2) { node(&h, s) } else { node(s, &h) };
        }
        index /= 2;
    }
    h
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
    fn preimage_hashes_to_the_leaf() {
        let big: Vec<i32> = (0..1000).map(|i| i * -7919).collect();
        assert_eq!(keccak(&leaf_preimage(4, &[10, 100], &big)), tensor_leaf(4, &[10, 100], &big));
        let small: Vec<u16> = (0..3).collect();
        assert_eq!(keccak(&leaf_preimage(9, &[3], &small)), tensor_leaf(9, &[3], &small));
        assert_eq!(keccak(&leaf_preimage::<i8>(1, &[0], &[])), tensor_leaf::<i8>(1, &[0], &[]));
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
