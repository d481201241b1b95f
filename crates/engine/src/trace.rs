//! Execution trace: every op's output becomes one leaf, in execution order. A leaf binds the
//! op's place (step, layer), kind, element type and shape, and the root of its output's cells
//! (see [`crate::hash`]), so one row of any op's output can be proven with a short path. The
//! trace root binds the number of leaves, the output hash and the zero-padded tree over the
//! leaves, which a contract can bisect. A step is one forward pass (the whole input for an
//! encoder, the prompt and then one token each for a decoder); layer 0 is the embedding, layers
//! `1..=L` the blocks, `L + 1` the head. The format, with a worked example, is in
//! `crates/engine/TRACE.md`.

use alloc::vec::Vec;

use assay_step::{commit, op};

use crate::hash::{
    BatchHasher, Element, Hash, SoftKeccak, cell_elements, cell_hash_of, element_cells,
    merkle_root, tree_root,
};

/// Identifies the kind of an op in a trace leaf (codes: [`assay_step::op`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Op {
    /// Token, position and type embedding sum (Q12).
    Embed = op::EMBED,
    /// Layer norm output (Q12).
    LayerNorm = op::LAYER_NORM,
    /// RMS norm output (Q12).
    RmsNorm = op::RMS_NORM,
    /// Query projection (Q12).
    Query = op::QUERY,
    /// Key projection (Q12), or the key row written to the KV cache.
    Key = op::KEY,
    /// Value projection (Q12), or the value row written to the KV cache.
    Value = op::VALUE,
    /// Rotary embedding applied to queries and keys (Q12).
    Rope = op::ROPE,
    /// Scaled attention scores (Q12).
    Scores = op::SCORES,
    /// Attention probabilities (Q16 as u16).
    Softmax = op::SOFTMAX,
    /// Attention context, probabilities times values (Q12).
    Context = op::CONTEXT,
    /// Attention output projection (Q12).
    AttnOut = op::ATTN_OUT,
    /// Residual sum (Q12).
    Residual = op::RESIDUAL,
    /// First feed-forward projection (Q12).
    FfnUp = op::FFN_UP,
    /// Activation through a lookup table (Q12).
    Activation = op::ACTIVATION,
    /// Second feed-forward projection (Q12).
    FfnDown = op::FFN_DOWN,
    /// Mean pooling (Q12).
    Pool = op::POOL,
    /// Normalised embedding (Q15 as i16).
    Normalize = op::NORMALIZE,
    /// Vocabulary logits.
    Logits = op::LOGITS,
    /// Gate projection of a gated feed-forward block (Q12).
    FfnGate = op::FFN_GATE,
    /// Token ids: the input of a step, or the token a decoder step chose.
    Tokens = op::TOKENS,
    /// The job's output (a decoder's generated tokens, an encoder's embedding), alone in the last
    /// step; the output hash is computed from it.
    Output = op::OUTPUT,
}

impl Op {
    /// Every op kind, in code order.
    pub const ALL: [Self; 21] = [
        Self::Embed,
        Self::LayerNorm,
        Self::RmsNorm,
        Self::Query,
        Self::Key,
        Self::Value,
        Self::Rope,
        Self::Scores,
        Self::Softmax,
        Self::Context,
        Self::AttnOut,
        Self::Residual,
        Self::FfnUp,
        Self::Activation,
        Self::FfnDown,
        Self::Pool,
        Self::Normalize,
        Self::Logits,
        Self::FfnGate,
        Self::Tokens,
        Self::Output,
    ];

    /// The op kind with code `code`.
    pub fn from_code(code: u32) -> Option<Self> {
        Self::ALL.iter().copied().find(|op| *op as u32 == code)
    }
}

/// Where and what one leaf is: everything its hash binds besides the output's cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafInfo {
    /// Forward step.
    pub step: u32,
    /// Layer within the step (0 the embedding, `L + 1` the head).
    pub layer: u32,
    /// Op kind ([`Op`] as u32).
    pub op: u32,
    /// Element type ([`Element::DTYPE`]).
    pub dtype: u8,
    /// Shape; the last dimension is the row that cells never span.
    pub dims: Vec<u32>,
}

impl LeafInfo {
    /// The leaf: `keccak(0x10 ‖ step u32 ‖ layer u32 ‖ op u32 ‖ dtype u8 ‖ rank u8 ‖ dims u32* ‖
    /// cells_root)`.
    /// ([`assay_step::commit::op_leaf`]; the engine's ops have at most
    /// [`assay_step::commit::MAX_RANK`] dimensions.)
    pub fn leaf(&self, cells_root: &Hash) -> Hash {
        let place = (self.step, self.layer, self.op);
        commit::op_leaf(&SoftKeccak, place, self.dtype, &self.dims, cells_root)
            .expect("ops have at most MAX_RANK dimensions")
    }

    /// The bytes whose keccak is [`LeafInfo::leaf`]: what a side opens in a dispute game.
    pub fn preimage(&self, cells_root: &Hash) -> Vec<u8> {
        let mut pre = alloc::vec![0x10];
        for v in [self.step, self.layer, self.op] {
            pre.extend_from_slice(&v.to_le_bytes());
        }
        pre.extend_from_slice(&[self.dtype, self.dims.len() as u8]);
        self.dims.iter().for_each(|d| pre.extend_from_slice(&d.to_le_bytes()));
        pre.extend_from_slice(cells_root);
        pre
    }

    /// Bytes per element of the output.
    pub fn element_size(&self) -> usize {
        commit::dtype_size(self.dtype).expect("the engine traces known dtypes")
    }

    /// Elements per row of the output (the last dimension; 1 for a scalar).
    pub fn row_len(&self) -> usize {
        self.dims.last().map_or(1, |d| *d as usize)
    }
}

/// Which op outputs a trace keeps besides their leaves (what a one-step proof opens).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum Keep {
    /// None: only the leaves (every job run).
    #[default]
    Nothing,
    /// Every op's output.
    All,
    /// The outputs of these leaves.
    Leaves(alloc::collections::BTreeSet<usize>),
}

impl Keep {
    fn wants(&self, leaf: usize) -> bool {
        match self {
            Self::Nothing => false,
            Self::All => true,
            Self::Leaves(set) => set.contains(&leaf),
        }
    }
}

/// Collects the leaves of a run and computes its root.
#[derive(Debug, Default, Clone)]
pub struct Trace {
    leaves: Vec<Hash>,
    info: Vec<LeafInfo>,
    keep: Keep,
    kept: alloc::collections::BTreeMap<usize, Vec<u8>>,
    step: u32,
    layer: u32,
    /// With a batch hasher, the cell preimages of each recorded op go to one buffer of
    /// `pending` (cell after cell, each `0x11 ‖ bytes`), with the leaf and its cells' ends in
    /// `pending_leaves`; they, the Merkle nodes above them and the leaves are hashed in batches
    /// when the step closes (or a layer closes with [`FLUSH_BYTES`] pending).
    batch: Option<BatchHasher>,
    pending: Vec<Vec<u8>>,
    pending_leaves: Vec<(usize, Vec<usize>)>,
    pending_bytes: usize,
}

/// Pending preimage bytes beyond which a batch-hashing trace hashes at the end of a layer rather
/// than of the step (bounds its memory).
const FLUSH_BYTES: usize = 16 << 20;

impl Trace {
    /// An empty trace.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty trace that hashes a step's cells in one call to `batch` (when given) as the
    /// step closes, instead of as each op is recorded. The leaves are the same.
    pub fn with_batch_hasher(batch: Option<BatchHasher>) -> Self {
        Self { batch, ..Self::default() }
    }

    /// This trace, keeping the outputs `keep` names (little-endian bytes, see [`Self::data`]).
    pub fn keeping(self, keep: Keep) -> Self {
        Self { keep, ..self }
    }

    /// The little-endian output of leaf `leaf`, when the trace kept it.
    pub fn data(&self, leaf: usize) -> Option<&[u8]> {
        self.kept.get(&leaf).map(Vec::as_slice)
    }

    /// Records the output of one op, of shape `dims`.
    pub fn op<T: Element>(&mut self, op: Op, dims: &[u32], data: &[T]) {
        debug_assert_eq!(dims.iter().map(|&d| d as usize).product::<usize>(), data.len());
        let info = LeafInfo {
            step: self.step,
            layer: self.layer,
            op: op as u32,
            dtype: T::DTYPE,
            dims: dims.to_vec(),
        };
        let row = dims.last().map_or(1, |&d| d as usize);
        if self.keep.wants(self.leaves.len()) {
            let mut bytes = Vec::with_capacity(core::mem::size_of_val(data));
            T::extend_le(&mut bytes, data);
            self.kept.insert(self.leaves.len(), bytes);
        }
        if self.batch.is_some() {
            let rows = data.len().div_ceil(row.max(1));
            let n_cells = rows * row.max(1).div_ceil(cell_elements(size_of::<T>()));
            let mut buf = Vec::with_capacity(core::mem::size_of_val(data) + n_cells);
            let mut ends = Vec::new();
            for cell in element_cells(data, row) {
                buf.push(0x11);
                T::extend_le(&mut buf, cell);
                ends.push(buf.len());
            }
            self.pending_bytes += buf.len();
            self.pending.push(buf);
            self.pending_leaves.push((self.leaves.len(), ends));
            self.leaves.push([0; 32]);
        } else {
            let hashes: Vec<Hash> = element_cells(data, row).map(cell_hash_of).collect();
            self.leaves.push(info.leaf(&merkle_root(&hashes)));
        }
        self.info.push(info);
    }

    /// Closes the current layer (the embedding and the head count as layers too).
    pub fn end_layer(&mut self) {
        self.layer += 1;
        if self.pending_bytes >= FLUSH_BYTES {
            self.flush();
        }
    }

    /// Closes the current step.
    pub fn end_step(&mut self) {
        self.flush();
        self.step += 1;
        self.layer = 0;
    }

    /// Hashes the pending cells, the Merkle nodes above them level by level and the leaves, each
    /// in one call to the batch hasher, and completes the pending leaves.
    fn flush(&mut self) {
        let Some(batch) = self.batch else { return };
        if self.pending_leaves.is_empty() {
            return;
        }
        let mut cells: Vec<&[u8]> = Vec::new();
        for (buf, (_, ends)) in self.pending.iter().zip(&self.pending_leaves) {
            let starts = core::iter::once(0).chain(ends.iter().copied());
            cells.extend(starts.zip(ends).map(|(a, &b)| &buf[a..b]));
        }
        let hashes = hash_all(batch, &cells);
        let mut at = 0;
        let mut levels: Vec<Vec<Hash>> = self
            .pending_leaves
            .iter()
            .map(|(_, ends)| {
                at += ends.len();
                hashes[at - ends.len()..at].to_vec()
            })
            .collect();
        // One level of every pending tree at a time: pairs become nodes, an odd last node is
        // carried up (as in `merkle_root`).
        while levels.iter().any(|l| l.len() > 1) {
            let pairs: Vec<[u8; 65]> = levels
                .iter()
                .flat_map(|l| l.chunks_exact(2))
                .map(|p| commit::node_preimage(&p[0], &p[1]))
                .collect();
            let slices: Vec<&[u8]> = pairs.iter().map(|p| p.as_slice()).collect();
            let mut nodes = hash_all(batch, &slices).into_iter();
            for l in &mut levels {
                let odd = (l.len() % 2 == 1).then(|| l[l.len() - 1]);
                let mut up: Vec<Hash> = nodes.by_ref().take(l.len() / 2).collect();
                up.extend(odd);
                *l = up;
            }
        }
        for ((leaf, _), l) in self.pending_leaves.iter().zip(&levels) {
            self.leaves[*leaf] = self.info[*leaf].leaf(&l.first().copied().unwrap_or([0; 32]));
        }
        self.pending.clear();
        self.pending_leaves.clear();
        self.pending_bytes = 0;
    }

    /// Fault injection, what a dishonest worker does and what the dispute tests play against:
    /// adds one to the lowest byte of element `element` of leaf `leaf`'s kept output and rehashes
    /// that leaf. False when the output is not kept or has no such element.
    pub fn corrupt(&mut self, leaf: usize, element: usize) -> bool {
        let (Some(info), Some(data)) = (self.info.get(leaf), self.kept.get_mut(&leaf)) else {
            return false;
        };
        let size = info.element_size();
        let Some(byte) = element.checked_mul(size).and_then(|at| data.get_mut(at)) else {
            return false;
        };
        *byte = byte.wrapping_add(1);
        self.leaves[leaf] = info.leaf(&crate::hash::cells_root(data, info.row_len(), size));
        true
    }

    /// Fault injection: claims that leaf `leaf` is op `op` (its output unchanged) and rehashes
    /// it, a header the engine's schedule does not put there. False when the output is not kept.
    pub fn relabel(&mut self, leaf: usize, op: Op) -> bool {
        let (Some(info), Some(data)) = (self.info.get_mut(leaf), self.kept.get(&leaf)) else {
            return false;
        };
        info.op = op as u32;
        let cells_root = crate::hash::cells_root(data, info.row_len(), info.element_size());
        self.leaves[leaf] = info.leaf(&cells_root);
        true
    }

    /// The leaves, in execution order (complete once the last step is closed).
    pub fn leaves(&self) -> &[Hash] {
        &self.leaves
    }

    /// What each leaf is.
    pub fn info(&self) -> &[LeafInfo] {
        &self.info
    }

    /// The leaves and what they are, encoded: `n u32 ‖ (step u32 ‖ layer u32 ‖ op u32 ‖ dtype u8
    /// ‖ rank u8 ‖ dims u32* ‖ leaf)*` (what the WASM module returns; [`decode_leaves`] reads it).
    pub fn encode_leaves(&self) -> Vec<u8> {
        let mut out = (self.leaves.len() as u32).to_le_bytes().to_vec();
        for (info, leaf) in self.info.iter().zip(&self.leaves) {
            for v in [info.step, info.layer, info.op] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(&[info.dtype, info.dims.len() as u8]);
            info.dims.iter().for_each(|d| out.extend_from_slice(&d.to_le_bytes()));
            out.extend_from_slice(leaf);
        }
        out
    }

    /// The trace root: `keccak(0x12 ‖ n_leaves u32 ‖ output_hash ‖ tree_root(leaves))`.
    pub fn root(&self, output_hash: &Hash) -> Hash {
        root(self.leaves.len(), output_hash, &tree_root(&self.leaves))
    }
}

/// Reads [`Trace::encode_leaves`].
///
/// # Errors
/// [`crate::Error::Input`] when the bytes are truncated or have bytes left over.
pub fn decode_leaves(bytes: &[u8]) -> crate::Result<Vec<(LeafInfo, Hash)>> {
    let truncated = || crate::Error::Input("leaf list is truncated".into());
    let mut at = 0usize;
    let mut take = |n: usize| -> crate::Result<&[u8]> {
        let s = bytes.get(at..at + n).ok_or_else(truncated)?;
        at += n;
        Ok(s)
    };
    let u32_of = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes"));
    let n = u32_of(take(4)?);
    let mut out = Vec::new();
    for _ in 0..n {
        let (step, layer, op) = (u32_of(take(4)?), u32_of(take(4)?), u32_of(take(4)?));
        let (dtype, rank) = (take(1)?[0], take(1)?[0]);
        let dims = (0..rank).map(|_| take(4).map(u32_of)).collect::<crate::Result<Vec<u32>>>()?;
        let leaf: Hash = take(32)?.try_into().expect("32 bytes");
        out.push((LeafInfo { step, layer, op, dtype, dims }, leaf));
    }
    if at != bytes.len() {
        return Err(crate::Error::Input("leaf list has trailing bytes".into()));
    }
    Ok(out)
}

/// `keccak` of every message, through `batch`.
fn hash_all(batch: BatchHasher, msgs: &[&[u8]]) -> Vec<Hash> {
    let mut out = alloc::vec![[0u8; 32]; msgs.len()];
    batch(msgs, &mut out);
    out
}

/// The trace root from its parts (see [`Trace::root`], [`assay_step::commit::trace_root`]).
pub fn root(n_leaves: usize, output_hash: &Hash, tree_root: &Hash) -> Hash {
    commit::trace_root(&SoftKeccak, n_leaves as u32, output_hash, tree_root)
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;
    use crate::hash::{cell_hash, cells_root, keccak_batch};

    fn record(t: &mut Trace, x: i32) {
        t.op(Op::Embed, &[2], &[1i32, x]);
        t.end_layer();
        t.op(Op::Key, &[1], &[2i32]);
        t.op(Op::Value, &[1], &[3u16]);
        t.end_step();
        t.op(Op::Logits, &[1], &[4i32]);
        t.end_step();
    }

    #[test]
    fn leaves_bind_place_kind_shape_and_cells() {
        let mut t = Trace::new();
        record(&mut t, 9);
        let places: Vec<(u32, u32, u32)> =
            t.info().iter().map(|i| (i.step, i.layer, i.op)).collect();
        assert_eq!(places, [(0, 0, 1), (0, 1, 5), (0, 1, 6), (1, 0, 18)]);
        let bytes: Vec<u8> = [1i32, 9].iter().flat_map(|v| v.to_le_bytes()).collect();
        let embed = LeafInfo { step: 0, layer: 0, op: 1, dtype: 5, dims: vec![2] };
        assert_eq!(t.leaves()[0], embed.leaf(&cells_root(&bytes, 2, 4)));
        assert_eq!(t.leaves()[0], embed.leaf(&cell_hash(&bytes)), "one cell is its own root");
        let moved = LeafInfo { layer: 1, ..embed.clone() };
        assert_ne!(moved.leaf(&cell_hash(&bytes)), t.leaves()[0]);
        let reshaped = LeafInfo { dims: vec![1, 2], ..embed };
        assert_ne!(reshaped.leaf(&cell_hash(&bytes)), t.leaves()[0]);
        let out = [5; 32];
        assert_eq!(t.root(&out), root(4, &out, &tree_root(t.leaves())));
        assert_ne!(t.root(&out), t.root(&[6; 32]));
        let decoded = decode_leaves(&t.encode_leaves()).expect("decode");
        assert_eq!(decoded.iter().map(|(i, _)| i.clone()).collect::<Vec<_>>(), t.info());
        assert_eq!(decoded.iter().map(|(_, l)| *l).collect::<Vec<_>>(), t.leaves());
        let bytes = t.encode_leaves();
        assert!(decode_leaves(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode_leaves(&[bytes.as_slice(), &[0]].concat()).is_err());
        assert_eq!(Op::from_code(12), Some(Op::Residual));
        assert_eq!(Op::from_code(0), None);
        assert!(Op::ALL.iter().enumerate().all(|(i, op)| *op as usize == i + 1));
        let mut other = Trace::new();
        record(&mut other, 8);
        assert_ne!(other.leaves()[0], t.leaves()[0]);
        assert_eq!(other.leaves()[1..], t.leaves()[1..]);
    }

    #[test]
    fn batch_hashing_gives_the_same_leaves() {
        let (mut a, mut b) = (Trace::new(), Trace::with_batch_hasher(Some(keccak_batch)));
        record(&mut a, 3);
        record(&mut b, 3);
        assert_eq!(a.leaves(), b.leaves());
        assert_eq!(a.info(), b.info());
        // A layer past the flush threshold is hashed before the step closes.
        let big: Vec<i32> = (0..FLUSH_BYTES as i32 / 4 + 1).collect();
        let (mut a, mut b) = (Trace::new(), Trace::with_batch_hasher(Some(keccak_batch)));
        for t in [&mut a, &mut b] {
            t.op(Op::FfnUp, &[2, big.len() as u32 / 2], &big[..big.len() / 2 * 2]);
            t.end_layer();
            assert_eq!(t.pending.len(), 0);
            t.op(Op::Key, &[1], &[2i32]);
            t.end_step();
        }
        assert_eq!(a.leaves(), b.leaves());
    }
}

/// The worked example of `crates/engine/TRACE.md`, pinned.
#[cfg(test)]
mod worked_example {
    use super::*;
    use crate::hash::{cell_hash, node, tree_proof, tree_verify};

    fn hex(h: &[u8]) -> alloc::string::String {
        hex::encode(h)
    }

    #[test]
    fn the_documented_example_holds() {
        let mut t = Trace::new();
        t.op(Op::Tokens, &[1, 2], &[7u32, 9]);
        t.end_layer();
        t.op(Op::Residual, &[2, 3], &[1i32, -2, 3, 4, 5, -6]);
        t.end_step();
        t.op(Op::Output, &[1, 1], &[9u32]);
        t.end_step();
        let row0: alloc::vec::Vec<u8> =
            [1i32, -2, 3].iter().flat_map(|v| v.to_le_bytes()).collect();
        let row1: alloc::vec::Vec<u8> =
            [4i32, 5, -6].iter().flat_map(|v| v.to_le_bytes()).collect();
        let cells = node(&cell_hash(&row0), &cell_hash(&row1));
        let info = &t.info()[1];
        assert_eq!((info.step, info.layer, info.op, info.dtype), (0, 1, 12, 5));
        assert_eq!(t.leaves()[1], info.leaf(&cells));
        assert_eq!(crate::hash::keccak(&info.preimage(&cells)), t.leaves()[1]);
        assert_eq!(
            hex(&info.preimage(&cells)[..23]),
            "1000000000010000000c00000005020200000003000000"
        );
        assert_eq!(hex(&cells), CELLS);
        let tree = tree_root(t.leaves());
        assert_eq!(
            tree,
            node(&node(&t.leaves()[0], &t.leaves()[1]), &node(&t.leaves()[2], &[0; 32]))
        );
        assert_eq!(tree_verify(t.leaves()[1], 1, &tree_proof(t.leaves(), 1)), tree);
        let out = crate::job::output_hash(&[9], &[]);
        assert_eq!(hex(&tree), TREE);
        assert_eq!(hex(&t.leaves()[1]), LEAF_1);
        assert_eq!(hex(&t.root(&out)), ROOT);
    }

    #[test]
    fn corrupting_an_element_rehashes_only_its_leaf() {
        let mut t = Trace::new().keeping(Keep::All);
        t.op(Op::Tokens, &[1, 2], &[7u32, 9]);
        t.end_layer();
        t.op(Op::Residual, &[2, 3], &[1i32, -2, 3, 4, 5, -6]);
        t.end_step();
        let honest = t.clone();
        assert!(t.corrupt(1, 4));
        assert_eq!(t.data(1).unwrap()[16..20], 6i32.to_le_bytes());
        assert_eq!(t.leaves()[0], honest.leaves()[0]);
        let cells = crate::hash::cells_root(t.data(1).unwrap(), 3, 4);
        assert_eq!(t.leaves()[1], t.info()[1].leaf(&cells));
        assert_ne!(t.leaves()[1], honest.leaves()[1]);
        assert!(!t.corrupt(1, 6) && !t.corrupt(2, 0));
        assert!(!Trace::new().corrupt(0, 0));
    }

    const CELLS: &str = "d4b9710a894f45d2021387f2d81a90a32b7d8c15ea0d5200111e0adfd60647a2";
    const LEAF_1: &str = "a3bc8e7d5c70b6471398750fb86afaa8bf6bfb22a63e6a3d73d05e6cb94b7339";
    const TREE: &str = "35b4bd881146377b618301ad7088677ef995cd67358b3f82663f2b63747f1c61";
    const ROOT: &str = "0b3a081921f5c9095d5b4619e8335b0d962aa00dadf3ccfc48794f8227ad6435";
}
