//! One-step proofs: the inputs of the disputed element, each opened against the agreed trace or
//! the job's model, and the recomputation of the element with `assay-step` (the engine's own
//! definitions).
//!
//! A proof is the disputed leaf's header, openings of earlier leaves, then openings of model
//! cells (all little endian):
//!
//! ```text
//! proof   = header_len u16 ‖ header ‖ n u8 ‖ opening*n ‖ model*
//! opening = leaf u64 ‖ preimage_len u16 ‖ preimage ‖ k u8 ‖ sibling*k      (tree path, bottom up)
//!           ‖ cell_len u16 ‖ cell ‖ m u8 ‖ sibling*m                       (cells path, bottom up)
//! model   = preimage_len u16 ‖ tensor preimage ‖ index u32 ‖ width u32 ‖ k u8 ‖ sibling*k
//!           ‖ cell u64 ‖ cell_len u16 ‖ cell ‖ m u8 ‖ sibling*m
//! ```
//!
//! The header is the disputed leaf's preimage (any cells root). A leaf's tree path proves it
//! under either side's tree root: every leaf before the disputed one is the same in both trees
//! (the bisection compared the subtrees left of it). A cell of length 0 opens the header only;
//! otherwise it is the cell holding the target's `(row, col)`. A model opening is a tensor leaf
//! (`crates/engine/TRACE.md`, "Model id") at `index` of the model tree's `width` leaves, proven
//! against the job's model id, and one of its cells. Which leaves and tensors an op reads, at which
//! distance and with which ops around them, is fixed per op below: the agreed leaves before the
//! disputed one follow the engine's schedule, so exactly one reading type-checks.

use alloc::vec::Vec;

use assay_step::{
    attention,
    commit::{self, Hash, Keccak, OpLeaf},
    nonlin::{self, LUT_LEN},
    op,
};

/// The element in dispute and what the game has agreed about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// Index of the disputed leaf.
    pub leaf: u64,
    /// Its header (both sides opened the same); `cells_root` is not used.
    pub header: OpLeaf,
    /// Row and column of the element in the leaf's output (`rows x row_len`).
    pub row: u64,
    pub col: u64,
}

/// An opened earlier leaf, and the bytes of the element at the target's `(row, col)` when the
/// opening includes its cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened<'a> {
    pub index: u64,
    pub leaf: OpLeaf,
    pub element: Option<&'a [u8]>,
}

/// A cell of a model tensor, opened against the model id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelCell<'a> {
    pub name: &'a [u8],
    pub dtype: u8,
    pub dims: &'a [u8],
    pub cell: u64,
    pub bytes: &'a [u8],
}

impl ModelCell<'_> {
    /// Whether this is a cell of tensor `name`, an i32 vector of `len` entries, holding entry
    /// `entry`; then that entry.
    fn i32_entry(&self, name: &[u8], len: u32, entry: u64) -> Option<i32> {
        let per_cell = (commit::CELL_BYTES / 4) as u64;
        (self.name == name
            && self.dtype == op::DTYPE_I32
            && self.dims == len.to_le_bytes()
            && self.cell == entry.checked_div(per_cell)?)
        .then_some(())?;
        let at = usize::try_from(entry.checked_rem(per_cell)?).ok()?.checked_mul(4)?;
        Some(i32::from_le_bytes(self.bytes.get(at..at.checked_add(4)?)?.try_into().ok()?))
    }
}

/// Everything a proof opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Openings<'a> {
    pub leaves: Vec<Opened<'a>>,
    pub model: Vec<ModelCell<'a>>,
}

/// What openings are checked against: the two sides' tree roots, lifted to `height` levels, and
/// the job's model id.
#[derive(Debug, Clone, Copy)]
pub struct Agreed {
    pub roots: [Hash; 2],
    pub height: u32,
    pub model: Hash,
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn uint<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn hashes(&mut self, n: usize) -> Option<Vec<Hash>> {
        (0..n).map(|_| self.uint::<32>()).collect()
    }
}

/// Parses and checks every opening of `proof` (after its header) against `agreed`, for the
/// element at `target`'s `(row, col)`. `None` for malformed bytes, a leaf at or after the target,
/// a path that does not reach an agreed root or the model id, or a cell that is not the element's
/// cell of that leaf.
pub fn open<'a, K: Keccak>(
    k: &K,
    proof: &'a [u8],
    agreed: &Agreed,
    target: &Target,
) -> Option<Openings<'a>> {
    let mut r = Reader(proof);
    let n = r.uint::<1>()?[0];
    let mut leaves = Vec::new();
    for _ in 0..n {
        leaves.push(open_leaf(k, &mut r, agreed, target)?);
    }
    let mut model = Vec::new();
    while !r.0.is_empty() {
        model.push(open_model(k, &mut r, agreed)?);
    }
    Some(Openings { leaves, model })
}

/// A cells path from `cell`'s bytes at `index` to a tensor's `cells_root`, with the cell's
/// length checked against the geometry.
fn cell_checks<K: Keccak>(
    k: &K,
    geometry: &commit::Cells,
    (index, bytes, siblings): (u64, &[u8], &[Hash]),
    cells_root: &Hash,
) -> Option<()> {
    let len = geometry.span(index).2.checked_mul(geometry.size as u64)?;
    let root =
        commit::carried_verify(k, commit::cell(k, bytes), index, geometry.count()?, siblings)?;
    (bytes.len() as u64 == len && root == *cells_root).then_some(())
}

fn open_leaf<'a, K: Keccak>(
    k: &K,
    r: &mut Reader<'a>,
    agreed: &Agreed,
    target: &Target,
) -> Option<Opened<'a>> {
    let index = u64::from_le_bytes(r.uint()?);
    let pre_len = usize::from(u16::from_le_bytes(r.uint()?));
    let preimage = r.take(pre_len)?;
    let n = usize::from(r.uint::<1>()?[0]);
    let path = r.hashes(n)?;
    let cell_len = usize::from(u16::from_le_bytes(r.uint()?));
    let cell = r.take(cell_len)?;
    let m = usize::from(r.uint::<1>()?[0]);
    let cell_path = r.hashes(m)?;

    let leaf = OpLeaf::parse(preimage)?;
    let root = commit::tree_verify(k, leaf.hash(k)?, usize::try_from(index).ok()?, &path);
    if index >= target.leaf || n != agreed.height as usize || !agreed.roots.contains(&root) {
        return None;
    }
    if cell.is_empty() {
        return (m == 0).then_some(Opened { index, leaf, element: None });
    }
    let cells = leaf.cells()?;
    if target.row >= cells.rows || target.col >= cells.row_len {
        return None;
    }
    // row < rows and col < row_len, so none of this overflows a valid geometry.
    let (per_row, per_cell) = (cells.per_row(), cells.per_cell());
    let cell_index =
        target.row.checked_mul(per_row)?.checked_add(target.col.checked_div(per_cell)?)?;
    cell_checks(k, &cells, (cell_index, cell, &cell_path), &leaf.cells_root)?;
    let at = usize::try_from(target.col.checked_rem(per_cell)?).ok()?.checked_mul(cells.size)?;
    let element = Some(cell.get(at..at.checked_add(cells.size)?)?);
    Some(Opened { index, leaf, element })
}

fn open_model<'a, K: Keccak>(k: &K, r: &mut Reader<'a>, agreed: &Agreed) -> Option<ModelCell<'a>> {
    let pre_len = usize::from(u16::from_le_bytes(r.uint()?));
    let preimage = r.take(pre_len)?;
    let index = u64::from(u32::from_le_bytes(r.uint()?));
    let width = u64::from(u32::from_le_bytes(r.uint()?));
    let n = usize::from(r.uint::<1>()?[0]);
    let path = r.hashes(n)?;
    let cell = u64::from_le_bytes(r.uint()?);
    let cell_len = usize::from(u16::from_le_bytes(r.uint()?));
    let bytes = r.take(cell_len)?;
    let m = usize::from(r.uint::<1>()?[0]);
    let cell_path = r.hashes(m)?;

    // 0x21 ‖ name_len ‖ name ‖ dtype ‖ rank ‖ dims ‖ cells_root
    let mut t = Reader(preimage);
    (t.uint::<1>()?[0] == 0x21).then_some(())?;
    let name_len = usize::from(t.uint::<1>()?[0]);
    let name = t.take(name_len)?;
    let [dtype, rank] = t.uint::<2>()?;
    let dims = t.take(usize::from(rank).checked_mul(4)?)?;
    let cells_root: Hash = t.uint::<32>()?;
    (t.0.is_empty()).then_some(())?;
    let leaf = k.keccak(&[preimage]);
    (commit::carried_verify(k, leaf, index, width, &path)? == agreed.model).then_some(())?;
    let mut shape = [0u32; commit::MAX_RANK];
    for (d, b) in shape.iter_mut().zip(dims.chunks_exact(4)) {
        *d = u32::from_le_bytes(b.try_into().ok()?);
    }
    let geometry =
        OpLeaf { step: 0, layer: 0, op: 0, dtype, rank, dims: shape, cells_root }.cells()?;
    cell_checks(k, &geometry, (cell, bytes, &cell_path), &cells_root)?;
    Some(ModelCell { name, dtype, dims, cell, bytes })
}

fn i32_of(bytes: Option<&[u8]>) -> Option<i32> {
    Some(i32::from_le_bytes(bytes?.try_into().ok()?))
}

/// An i32 `[rows, row_len]` output in the target's step, like the target's own.
fn same_shape(leaf: &OpLeaf, target: &OpLeaf) -> bool {
    leaf.step == target.step && leaf.dtype == op::DTYPE_I32 && leaf.dims() == target.dims()
}

/// `Residual`: the stream plus the block's delta. Openings: the delta (the leaf just before, an
/// `AttnOut` or `FfnDown` of the same layer) with its element, the stream (an earlier leaf of
/// the same shape) with its element, and the leaf after the stream, header only. The distance and
/// the ops must be the engine's (`assay_step::op::RESIDUAL_STREAMS`).
fn residual(target: &Target, o: &Openings<'_>) -> Option<i32> {
    let ([delta, stream, after], []) = (o.leaves.as_slice(), o.model.as_slice()) else {
        return None;
    };
    let t = &target.header;
    let delta_ok = delta.index.checked_add(1) == Some(target.leaf)
        && same_shape(&delta.leaf, t)
        && delta.leaf.layer == t.layer;
    let distance = target.leaf.checked_sub(stream.index)?;
    let schedule = op::residual_stream(delta.leaf.op, distance, stream.leaf.op, after.leaf.op);
    let after_ok = stream.index.checked_add(1) == Some(after.index) && after.leaf.step == t.step;
    (delta_ok && schedule && after_ok && same_shape(&stream.leaf, t) && after.element.is_none())
        .then_some(())?;
    Some(op::residual(i32_of(stream.element)?, i32_of(delta.element)?))
}

/// A table activation of `x`: the identity above the table, 0 below it, else the entry the one
/// model opening holds (and no opening when the table is not read).
fn table(o: &Openings<'_>, name: &[u8], x: i32) -> Option<i32> {
    match (nonlin::lut_entry(x), o.model.as_slice()) {
        (Err(value), []) => Some(value),
        (Ok(entry), [cell]) => cell.i32_entry(name, LUT_LEN as u32, entry as u64),
        _ => None,
    }
}

/// `Activation`: llama's `gated(silu(gate), up)` (openings: the `FfnGate` two leaves back and the
/// `FfnUp` just before, with their elements, and the `lut.silu` entry) or BERT's `gelu(up)` (the
/// `FfnUp` just before with its element, the leaf before it, header only and not a gate, and the
/// `lut.gelu` entry).
fn activation(target: &Target, o: &Openings<'_>) -> Option<i32> {
    let t = &target.header;
    let input = |l: &Opened<'_>, back: u64, code: u32| {
        l.index.checked_add(back) == Some(target.leaf)
            && l.leaf.op == code
            && l.leaf.layer == t.layer
            && same_shape(&l.leaf, t)
    };
    match o.leaves.as_slice() {
        [gate, up] if input(gate, 2, op::FFN_GATE) && input(up, 1, op::FFN_UP) => {
            let act = table(o, b"lut.silu", i32_of(gate.element)?)?;
            Some(attention::gated(act, i32_of(up.element)?))
        }
        [up, before]
            if input(up, 1, op::FFN_UP)
                && before.index.checked_add(2) == Some(target.leaf)
                && before.element.is_none()
                && before.leaf.op != op::FFN_GATE =>
        {
            table(o, b"lut.gelu", i32_of(up.element)?)
        }
        _ => None,
    }
}

/// Whether the prover decides elements of op `code` (with element type `dtype`).
pub fn provable(code: u32, dtype: u8) -> bool {
    matches!(code, op::RESIDUAL | op::ACTIVATION) && dtype == op::DTYPE_I32
}

/// The correct value of the target element, little endian, from the checked openings; `None`
/// when they are not the inputs the op reads.
pub fn recompute(target: &Target, o: &Openings<'_>) -> Option<Vec<u8>> {
    let value = match target.header.op {
        op::RESIDUAL => residual(target, o),
        op::ACTIVATION => activation(target, o),
        _ => None,
    }?;
    Some(value.to_le_bytes().to_vec())
}
