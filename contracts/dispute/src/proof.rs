//! One-step proofs: the inputs of the disputed element, each opened against the agreed trace,
//! and the recomputation of the element with `assay-step` (the engine's own definitions).
//!
//! A proof is a sequence of openings of earlier leaves (all little endian):
//!
//! ```text
//! opening = leaf u64 ‖ preimage_len u16 ‖ preimage ‖ n u8 ‖ sibling*n      (tree path, bottom up)
//!           ‖ cell_len u16 ‖ cell ‖ m u8 ‖ sibling*m                       (cells path, bottom up)
//! ```
//!
//! The tree path proves the leaf under either side's tree root: every leaf before the disputed
//! one is the same in both trees (the bisection compared the subtrees left of it). A cell of
//! length 0 opens the header only. Which leaves an op reads, at which distance and with which
//! ops around them, is fixed per op below: the agreed leaves before the disputed one follow the
//! engine's schedule (`crates/engine/TRACE.md`), so exactly one reading type-checks.

use alloc::vec::Vec;

use assay_step::{
    commit::{self, Hash, Keccak, OpLeaf},
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

/// What openings are checked against: the two sides' tree roots, lifted to `height` levels.
#[derive(Debug, Clone, Copy)]
pub struct Agreed {
    pub roots: [Hash; 2],
    pub height: u32,
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

/// Parses and checks every opening of `proof` against `agreed`, for the element at `target`'s
/// `(row, col)`. `None` for malformed bytes, a leaf at or after the target, a path that does not
/// reach an agreed root, or a cell that is not the element's cell of that leaf.
pub fn open<'a, K: Keccak>(
    k: &K,
    proof: &'a [u8],
    agreed: &Agreed,
    target: &Target,
) -> Option<Vec<Opened<'a>>> {
    let mut r = Reader(proof);
    let mut out = Vec::new();
    while !r.0.is_empty() {
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
        let hash = leaf.hash(k)?;
        let root = commit::tree_verify(k, hash, usize::try_from(index).ok()?, &path);
        if index >= target.leaf || n != agreed.height as usize || !agreed.roots.contains(&root) {
            return None;
        }
        let element = if cell.is_empty() {
            (m == 0).then_some(None)?
        } else {
            let cells = leaf.cells()?;
            let (per_row, per_cell) = (cells.per_row(), cells.per_cell());
            if target.row >= cells.rows || target.col >= cells.row_len {
                return None;
            }
            // row < rows and col < row_len, so none of this overflows a valid geometry.
            let cell_index =
                target.row.checked_mul(per_row)?.checked_add(target.col.checked_div(per_cell)?)?;
            let width = cells.count()?;
            let cell_hash = commit::cell(k, cell);
            let cells_root = commit::carried_verify(k, cell_hash, cell_index, width, &cell_path)?;
            let at = usize::try_from(target.col.checked_rem(per_cell)?).ok()?;
            let at = at.checked_mul(cells.size)?;
            (cells_root == leaf.cells_root).then_some(())?;
            Some(cell.get(at..at.checked_add(cells.size)?)?)
        };
        out.push(Opened { index, leaf, element });
    }
    Some(out)
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
fn residual(target: &Target, inputs: &[Opened<'_>]) -> Option<i32> {
    let [delta, stream, after] = inputs else { return None };
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

/// Whether the prover decides elements of op `code` (with element type `dtype`).
pub fn provable(code: u32, dtype: u8) -> bool {
    code == op::RESIDUAL && dtype == op::DTYPE_I32
}

/// The correct value of the target element, little endian, from the checked openings; `None`
/// when they are not the inputs the op reads.
pub fn recompute(target: &Target, inputs: &[Opened<'_>]) -> Option<Vec<u8>> {
    match target.header.op {
        op::RESIDUAL => residual(target, inputs).map(|v| v.to_le_bytes().to_vec()),
        _ => None,
    }
}
