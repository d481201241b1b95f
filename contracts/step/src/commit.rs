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

/// The root of an odd-carry tree of `width` base nodes (a tensor's cells), from base node
/// `index` and the siblings it has, bottom up (a node carried up without a sibling has none):
/// `None` unless `siblings` holds exactly those.
pub fn carried_verify<K: Keccak>(
    k: &K,
    leaf: Hash,
    mut index: u64,
    mut width: u64,
    siblings: &[Hash],
) -> Option<Hash> {
    if index >= width {
        return None;
    }
    let (mut h, mut used) = (leaf, 0);
    while width > 1 {
        if index ^ 1 < width {
            let s = siblings.get(used)?;
            used += 1;
            h = if index.is_multiple_of(2) { node(k, &h, s) } else { node(k, s, &h) };
        }
        index /= 2;
        width = width.div_ceil(2);
    }
    (used == siblings.len()).then_some(h)
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

/// An opened op leaf: its preimage's fields (see [`op_leaf`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpLeaf {
    /// Forward pass.
    pub step: u32,
    /// Layer (0 the embedding, `L + 1` the head).
    pub layer: u32,
    /// `trace::Op` code.
    pub op: u32,
    /// Element type tag (see [`dtype_size`]).
    pub dtype: u8,
    /// Number of dimensions.
    pub rank: u8,
    /// Dimensions; entries from `rank` on are zero.
    pub dims: [u32; MAX_RANK],
    /// Root of the output's cells.
    pub cells_root: Hash,
}

impl OpLeaf {
    /// Parses a leaf preimage `0x10 ‖ step ‖ layer ‖ op ‖ dtype ‖ rank ‖ dims ‖ cells_root`;
    /// `None` unless the bytes are exactly one well-formed preimage.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let (&tag, rest) = bytes.split_first()?;
        let u32_at = |at: usize| -> Option<u32> {
            Some(u32::from_le_bytes(rest.get(at..at + 4)?.try_into().ok()?))
        };
        let rank = *rest.get(13)?;
        if tag != 0x10 || usize::from(rank) > MAX_RANK {
            return None;
        }
        let dims_end = 14 + 4 * usize::from(rank);
        if rest.len() != dims_end + 32 {
            return None;
        }
        let mut dims = [0u32; MAX_RANK];
        for (i, d) in dims.iter_mut().take(usize::from(rank)).enumerate() {
            *d = u32_at(14 + 4 * i)?;
        }
        Some(Self {
            step: u32_at(0)?,
            layer: u32_at(4)?,
            op: u32_at(8)?,
            dtype: rest[12],
            rank,
            dims,
            cells_root: rest[dims_end..].try_into().ok()?,
        })
    }

    /// The leaf hash of these fields.
    pub fn hash<K: Keccak>(&self, k: &K) -> Option<Hash> {
        op_leaf(k, (self.step, self.layer, self.op), self.dtype, self.dims(), &self.cells_root)
    }

    /// The dimensions, `rank` of them.
    pub fn dims(&self) -> &[u32] {
        &self.dims[..usize::from(self.rank).min(MAX_RANK)]
    }

    /// Everything but the cells root is equal: the same op in the same place with the same shape.
    pub fn same_header(&self, other: &Self) -> bool {
        Self { cells_root: other.cells_root, ..*self } == *other
    }

    /// How the output is cut into cells; `None` for an unknown dtype or more than `u64` cells.
    pub fn cells(&self) -> Option<Cells> {
        let size = dtype_size(self.dtype)?;
        let (last, rows) = match self.dims().split_last() {
            Some((last, rows)) => (*last, rows),
            None => (1, &[][..]),
        };
        let rows = rows.iter().try_fold(1u64, |n, d| n.checked_mul(u64::from(*d)))?;
        Some(Cells { rows, row_len: u64::from(last), size })
    }
}

/// Largest cell, in bytes.
pub const CELL_BYTES: usize = 1024;

/// Bytes per element of a dtype tag (`crates/engine/TRACE.md`, "Cells").
pub fn dtype_size(dtype: u8) -> Option<usize> {
    match dtype {
        1 | 2 => Some(1),
        3 | 4 => Some(2),
        5 | 6 => Some(4),
        7 => Some(8),
        10 => Some(5),
        _ => None,
    }
}

/// The cells of a tensor: `rows` rows of `row_len` elements of `size` bytes, each row cut into
/// cells of `CELL_BYTES / size` elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cells {
    /// Rows (the product of every dimension but the last).
    pub rows: u64,
    /// Elements per row (the last dimension).
    pub row_len: u64,
    /// Bytes per element.
    pub size: usize,
}

impl Cells {
    /// Elements per full cell.
    pub fn per_cell(&self) -> u64 {
        (CELL_BYTES / self.size) as u64
    }

    /// Cells per row.
    pub fn per_row(&self) -> u64 {
        self.row_len.div_ceil(self.per_cell())
    }

    /// Cells in all; `None` on overflow.
    pub fn count(&self) -> Option<u64> {
        self.rows.checked_mul(self.per_row())
    }

    /// `(row, first element within the row, elements)` of cell `index`.
    pub fn span(&self, index: u64) -> (u64, u64, u64) {
        let per_row = self.per_row().max(1);
        let (row, first) = (index / per_row, index % per_row * self.per_cell());
        (row, first, self.per_cell().min(self.row_len.saturating_sub(first)))
    }
}

/// Nodes per level of a tree over `width` base nodes whose odd nodes are carried up:
/// `ceil(width / 2^level)`.
pub fn level_width(width: u64, level: u32) -> u64 {
    if level >= 64 { u64::from(width > 0) } else { width.div_ceil(1u64 << level) }
}

/// Levels above the base of that tree: the root is at this level.
pub fn tree_height(width: u64) -> u32 {
    if width <= 1 { 0 } else { u64::BITS - (width - 1).leading_zeros() }
}

/// Folds `nodes`, the nodes `levels` levels below a node, back to that node, carrying odd
/// nodes up: exact for a zero-padded tree (whose widths are powers of two) and for an odd-carry
/// tree (cells, models) alike, since a node's span starts on a multiple of `2^levels`.
/// `nodes` is consumed as scratch space; `None` when it is empty.
pub fn fold<K: Keccak>(k: &K, nodes: &mut [Hash], levels: u32) -> Option<Hash> {
    let mut len = nodes.len();
    if len == 0 {
        return None;
    }
    for _ in 0..levels {
        let next = len.div_ceil(2);
        for i in 0..next {
            nodes[i] = if 2 * i + 1 < len {
                node(k, &nodes[2 * i], &nodes[2 * i + 1])
            } else {
                nodes[2 * i]
            };
        }
        len = next;
    }
    (len == 1).then_some(nodes[0])
}

/// The trace root: `keccak(0x12 ‖ n_leaves u32 ‖ output_hash ‖ tree_root)`.
pub fn trace_root<K: Keccak>(k: &K, n_leaves: u32, output_hash: &Hash, tree_root: &Hash) -> Hash {
    let mut head = [0u8; 5];
    head[0] = 0x12;
    head[1..].copy_from_slice(&n_leaves.to_le_bytes());
    k.keccak(&[&head, output_hash, tree_root])
}

/// The output hash of a job from the data of its trace's `Output` leaf (one row, little endian):
/// `keccak(tensor(Tokens, tokens) ‖ tensor(Normalize, embedding))` with `tensor(op, x) =
/// keccak(0x00 ‖ op u32 ‖ dtype u8 ‖ 1 ‖ len u32 ‖ x)`, where the row is the generated tokens
/// (u32) of a decoder or the embedding (i16) of an encoder and the other is empty (the engine's
/// `job::output_hash`). `None` for another element type or a partial element.
pub fn output_hash<K: Keccak>(k: &K, dtype: u8, data: &[u8]) -> Option<Hash> {
    let tensor = |op: u32, dtype: u8, bytes: &[u8]| -> Option<Hash> {
        let size = dtype_size(dtype)?;
        (bytes.len().checked_rem(size)? == 0).then_some(())?;
        let len = u32::try_from(bytes.len().checked_div(size)?).ok()?;
        let mut head = [0u8; 11];
        head[1..5].copy_from_slice(&op.to_le_bytes());
        head[5] = dtype;
        head[6] = 1;
        head[7..].copy_from_slice(&len.to_le_bytes());
        Some(k.keccak(&[&head, bytes]))
    };
    let (tokens, embedding) = match dtype {
        crate::op::DTYPE_U32 => (data, &[][..]),
        crate::op::DTYPE_I16 => (&[][..], data),
        _ => return None,
    };
    let tokens = tensor(crate::op::TOKENS, crate::op::DTYPE_U32, tokens)?;
    let embedding = tensor(crate::op::NORMALIZE, crate::op::DTYPE_I16, embedding)?;
    Some(k.keccak(&[&tokens, &embedding]))
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
    fn leaves_parse_back_to_their_fields_and_hash() {
        let k = Fnv;
        let root = [9u8; 32];
        let mut pre: Vec<u8> = [0x10].into();
        for v in [3u32, 1, 12] {
            pre.extend_from_slice(&v.to_le_bytes());
        }
        pre.extend_from_slice(&[5, 2, 2, 0, 0, 0, 0x2c, 1, 0, 0]);
        pre.extend_from_slice(&root);
        let leaf = OpLeaf::parse(&pre).unwrap();
        assert_eq!((leaf.step, leaf.layer, leaf.op, leaf.dtype), (3, 1, 12, 5));
        assert_eq!((leaf.dims(), leaf.cells_root), (&[2u32, 300][..], root));
        assert_eq!(leaf.hash(&k), Some(k.keccak(&[&pre])));
        // 300 i32 a row: 256 + 44, two cells a row.
        let cells = leaf.cells().unwrap();
        assert_eq!((cells.per_row(), cells.count()), (2, Some(4)));
        assert_eq!((cells.span(1), cells.span(2)), ((0, 256, 44), (1, 0, 256)));
        assert!(leaf.same_header(&OpLeaf { cells_root: [0; 32], ..leaf }));
        assert!(!leaf.same_header(&OpLeaf { op: 13, ..leaf }));
        for bad in [&pre[..pre.len() - 1], &[&pre[..], &[0]].concat()[..], &[0x11][..], &[][..]] {
            assert_eq!(OpLeaf::parse(bad), None);
        }
        let mut unknown = leaf;
        unknown.dtype = 9;
        assert_eq!(unknown.cells(), None);
    }

    #[test]
    fn carried_paths_skip_missing_siblings() {
        let k = Fnv;
        let leaves: Vec<Hash> = (0..5u8).map(|i| [i + 1; 32]).collect();
        let n = |a: &Hash, b: &Hash| node(&k, a, b);
        let (ab, cd) = (n(&leaves[0], &leaves[1]), n(&leaves[2], &leaves[3]));
        let root = n(&n(&ab, &cd), &leaves[4]);
        assert_eq!(carried_verify(&k, leaves[4], 4, 5, &[n(&ab, &cd)]), Some(root));
        assert_eq!(carried_verify(&k, leaves[2], 2, 5, &[leaves[3], ab, leaves[4]]), Some(root));
        assert_eq!(carried_verify(&k, leaves[2], 2, 5, &[leaves[3], ab]), None, "too short");
        assert_eq!(carried_verify(&k, leaves[4], 4, 5, &[ab, cd]), None, "too long");
        assert_eq!(carried_verify(&k, leaves[0], 5, 5, &[]), None, "outside");
        assert_eq!(carried_verify(&k, leaves[0], 0, 1, &[]), Some(leaves[0]));
    }

    #[test]
    fn folds_rebuild_nodes_of_padded_and_carried_trees() {
        let k = Fnv;
        let mut leaves: Vec<Hash> = (0..5u8).map(|i| [i + 1; 32]).collect();
        let n = |a: &Hash, b: &Hash| node(&k, a, b);
        // Odd-carry tree of 5: level 1 = [ab, cd, e], level 2 = [abcd, e], root = node(abcd, e).
        let (ab, cd) = (n(&leaves[0], &leaves[1]), n(&leaves[2], &leaves[3]));
        let root = n(&n(&ab, &cd), &leaves[4]);
        assert_eq!(fold(&k, &mut leaves.clone(), 3), Some(root));
        assert_eq!(fold(&k, &mut [leaves[4]], 2), Some(leaves[4]));
        assert_eq!(fold(&k, &mut [ab, cd], 1), Some(n(&ab, &cd)));
        assert_eq!(fold(&k, &mut leaves, 1), None);
        assert_eq!(fold(&k, &mut [], 1), None);
        assert_eq!((tree_height(5), tree_height(4), tree_height(1), tree_height(0)), (3, 2, 0, 0));
        assert_eq!((level_width(5, 1), level_width(5, 2), level_width(5, 3)), (3, 2, 1));
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
