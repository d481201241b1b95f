//! One side of a dispute game (`contracts/interfaces/IDisputeGame.sol`): what a trace answers in
//! each phase. The formats are `crates/engine/TRACE.md`'s; the contract checks every answer
//! against the side's own commitment, so a side that answers from its own trace never reverts.

use assay_engine::{
    hash::{self, Hash},
    model::{ModelFile, TensorCell},
    trace::{LeafInfo, Trace},
};
use assay_step::{nonlin::lut_entry, op};
use thiserror::Error;

/// Why a trace cannot answer a move.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GameError {
    /// The game asks for a leaf the trace does not have.
    #[error("the trace has {leaves} leaves; leaf {leaf} was asked for")]
    NoLeaf {
        /// The leaf asked for.
        leaf: u64,
        /// Leaves in the trace.
        leaves: usize,
    },
    /// The trace was run without keeping this leaf's output (`trace::Keep`).
    #[error("leaf {0}'s output was not kept")]
    NotKept(u64),
    /// The one-step prover does not decide this op (or this leaf's inputs are not the engine's).
    #[error("no one-step proof for leaf {leaf} (op {op})")]
    NotProvable {
        /// The leaf.
        leaf: u64,
        /// Its op code.
        op: u32,
    },
    /// A one-step proof of this op opens the model, which the side was not given, or the model
    /// lacks the tensor.
    #[error("the proof needs model tensor {0}")]
    NoTensor(String),
    /// A node index past the tree's width.
    #[error("node {index} at level {level} is outside a tree of {width} base nodes")]
    NoNode {
        /// Level above the base.
        level: u32,
        /// Index in that level.
        index: u64,
        /// Base nodes.
        width: u64,
    },
}

/// A trace, run with its outputs kept, as one side of a game, and the model it ran (for the
/// one-step proofs that open weights and tables).
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    trace: &'a Trace,
    model: Option<&'a ModelFile<'a>>,
}

impl<'a> Side<'a> {
    /// The side playing `trace`.
    pub fn new(trace: &'a Trace) -> Self {
        Self { trace, model: None }
    }

    /// The side playing `trace` of `model`.
    pub fn with_model(trace: &'a Trace, model: &'a ModelFile<'a>) -> Self {
        Self { trace, model: Some(model) }
    }

    /// Phase Roots: `(n_leaves, tree_root)`, the opening of the trace root.
    pub fn root(&self) -> (u32, Hash) {
        (self.trace.leaves().len() as u32, hash::tree_root(self.trace.leaves()))
    }

    /// Phase Leaves: the nodes `down` levels below node `(level, index)` of the leaf tree of
    /// `width` leaves (the game's `disputedNode`), as `bisect` posts them.
    ///
    /// # Errors
    /// [`GameError::NoNode`] for a node outside the tree.
    pub fn leaf_children(
        &self,
        width: u64,
        (level, index): (u32, u64),
        down: u32,
    ) -> Result<Vec<Hash>, GameError> {
        children(self.trace.leaves(), width, (level, index), down)
    }

    /// Phase Leaf: the preimage of leaf `leaf`.
    ///
    /// # Errors
    /// [`GameError::NoLeaf`], [`GameError::NotKept`].
    pub fn leaf_preimage(&self, leaf: u64) -> Result<Vec<u8>, GameError> {
        let (info, cells) = self.cells(leaf)?;
        Ok(info.preimage(&hash::merkle_root(&cells)))
    }

    /// Phase Cells: the nodes `down` levels below node `(level, index)` of leaf `leaf`'s cells
    /// tree.
    ///
    /// # Errors
    /// [`GameError::NoLeaf`], [`GameError::NotKept`], [`GameError::NoNode`].
    pub fn cell_children(
        &self,
        leaf: u64,
        (level, index): (u32, u64),
        down: u32,
    ) -> Result<Vec<Hash>, GameError> {
        let (_, cells) = self.cells(leaf)?;
        children(&cells, cells.len() as u64, (level, index), down)
    }

    /// Phase Cell: the bytes of cell `cell` of leaf `leaf`.
    ///
    /// # Errors
    /// [`GameError::NoLeaf`], [`GameError::NotKept`], [`GameError::NoNode`].
    pub fn cell(&self, leaf: u64, cell: u64) -> Result<Vec<u8>, GameError> {
        let (info, data) = self.output(leaf)?;
        let width = hash::cells(data, info.row_len(), info.element_size()).count() as u64;
        let none = GameError::NoNode { level: 0, index: cell, width };
        let mut cells = hash::cells(data, info.row_len(), info.element_size());
        cells.nth(usize::try_from(cell).map_err(|_| none.clone())?).map(<[u8]>::to_vec).ok_or(none)
    }

    /// Phase Step: the one-step proof of element `(row, col)` of leaf `leaf`, with tree paths
    /// for a game whose trees are `height` levels high (`contracts/dispute/src/proof.rs`).
    ///
    /// # Errors
    /// [`GameError::NotProvable`] for an op the prover does not decide; [`GameError::NoLeaf`],
    /// [`GameError::NotKept`] for a leaf this trace cannot open.
    pub fn step_proof(&self, leaf: u64, at: (u64, u64), height: u32) -> Result<Vec<u8>, GameError> {
        let (info, _) = self.output(leaf)?;
        let not_provable = GameError::NotProvable { leaf, op: info.op };
        let op_at =
            |i: u64| -> Option<u32> { Some(self.trace.info().get(usize::try_from(i).ok()?)?.op) };
        let back = |k: u64| leaf.checked_sub(k).ok_or(not_provable.clone());
        let Reads { leaves: openings, tables } = match info.op {
            op::RESIDUAL => {
                let delta = back(1)?;
                let delta_op = op_at(delta).ok_or(not_provable.clone())?;
                let stream = op::RESIDUAL_STREAMS
                    .iter()
                    .filter(|(d, ..)| *d == delta_op)
                    .filter_map(|(_, k, ..)| leaf.checked_sub(*k))
                    .find(|s| match (op_at(*s), op_at(s + 1)) {
                        (Some(so), Some(ao)) => op::residual_stream(delta_op, leaf - s, so, ao),
                        _ => false,
                    })
                    .ok_or(not_provable)?;
                Reads {
                    leaves: vec![(delta, true), (stream, true), (stream + 1, false)],
                    tables: vec![],
                }
            }
            op::ACTIVATION => {
                let (up, before) = (back(1)?, back(2)?);
                let gated = op_at(before) == Some(op::FFN_GATE);
                let (x_leaf, table) = if gated { (before, "lut.silu") } else { (up, "lut.gelu") };
                let x = self.i32_at(x_leaf, at)?;
                let tables = match lut_entry(x) {
                    Ok(entry) => vec![(table, entry / hash::cell_elements(4))],
                    Err(_) => vec![],
                };
                let openings = if gated {
                    vec![(before, true), (up, true)]
                } else {
                    vec![(up, true), (before, false)]
                };
                Reads { leaves: openings, tables }
            }
            _ => return Err(not_provable),
        };
        let header = self.leaf_preimage(leaf)?;
        let mut proof = (header.len() as u16).to_le_bytes().to_vec();
        proof.extend_from_slice(&header);
        proof.push(openings.len() as u8);
        for (i, with_element) in openings {
            proof.extend(self.opening(i, with_element.then_some(at), height)?);
        }
        for (name, cell) in tables {
            let opened = self
                .model
                .and_then(|m| m.open_cell(name, cell))
                .ok_or_else(|| GameError::NoTensor(name.into()))?;
            proof.extend(model_opening(&opened));
        }
        Ok(proof)
    }

    /// Element `(row, col)` of i32 leaf `leaf`.
    fn i32_at(&self, leaf: u64, (row, col): (u64, u64)) -> Result<i32, GameError> {
        let (info, data) = self.output(leaf)?;
        let at = (row as usize * info.row_len() + col as usize) * 4;
        let bytes = data.get(at..at + 4).ok_or(GameError::NoNode {
            level: 0,
            index: col,
            width: info.row_len() as u64,
        })?;
        Ok(i32::from_le_bytes(bytes.try_into().expect("4 bytes")))
    }

    /// One opening of a one-step proof: leaf `leaf` with its tree path, and the cell holding
    /// element `at` with its cells path (or the header only).
    fn opening(
        &self,
        leaf: u64,
        at: Option<(u64, u64)>,
        height: u32,
    ) -> Result<Vec<u8>, GameError> {
        let preimage = self.leaf_preimage(leaf)?;
        let width = 1usize << height;
        let index = leaf as usize;
        let path: Vec<Hash> = (0..height)
            .map(|l| hash::tree_level(self.trace.leaves(), width, l)[(index >> l) ^ 1])
            .collect();
        let mut out = leaf.to_le_bytes().to_vec();
        out.extend_from_slice(&(preimage.len() as u16).to_le_bytes());
        out.extend_from_slice(&preimage);
        out.push(path.len() as u8);
        path.iter().for_each(|h| out.extend_from_slice(h));
        let Some((row, col)) = at else {
            out.extend_from_slice(&[0, 0, 0]);
            return Ok(out);
        };
        let (info, cells) = self.cells(leaf)?;
        let cell = cell_index(info, row, col);
        let bytes = self.cell(leaf, cell)?;
        out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
        out.extend_from_slice(&bytes);
        let mut siblings = Vec::new();
        let (mut index, mut level) = (cell as usize, 0);
        loop {
            let nodes = hash::tree_level(&cells, cells.len(), level);
            if nodes.len() <= 1 {
                break;
            }
            if let Some(s) = nodes.get(index ^ 1) {
                siblings.push(*s);
            }
            index /= 2;
            level += 1;
        }
        out.push(siblings.len() as u8);
        siblings.iter().for_each(|h| out.extend_from_slice(h));
        Ok(out)
    }

    fn output(&self, leaf: u64) -> Result<(&'a LeafInfo, &'a [u8]), GameError> {
        let leaves = self.trace.leaves().len();
        let i = usize::try_from(leaf).ok().filter(|i| *i < leaves);
        let i = i.ok_or(GameError::NoLeaf { leaf, leaves })?;
        let data = self.trace.data(i).ok_or(GameError::NotKept(leaf))?;
        Ok((&self.trace.info()[i], data))
    }

    fn cells(&self, leaf: u64) -> Result<(&'a LeafInfo, Vec<Hash>), GameError> {
        let (info, data) = self.output(leaf)?;
        let cells = hash::cells(data, info.row_len(), info.element_size()).map(hash::cell_hash);
        Ok((info, cells.collect()))
    }
}

/// What a one-step proof opens: earlier leaves (with the element, or the header only), then
/// model cells (tensor, cell index).
struct Reads {
    leaves: Vec<(u64, bool)>,
    tables: Vec<(&'static str, usize)>,
}

/// A model opening of a one-step proof (`contracts/dispute/src/proof.rs`).
fn model_opening(t: &TensorCell) -> Vec<u8> {
    let mut out = (t.preimage.len() as u16).to_le_bytes().to_vec();
    out.extend_from_slice(&t.preimage);
    out.extend_from_slice(&(t.index as u32).to_le_bytes());
    out.extend_from_slice(&(t.width as u32).to_le_bytes());
    out.push(t.path.len() as u8);
    t.path.iter().for_each(|h| out.extend_from_slice(h));
    let cell = u64::try_from(t.cell_index).unwrap_or(u64::MAX);
    out.extend_from_slice(&cell.to_le_bytes());
    out.extend_from_slice(&(t.cell.len() as u16).to_le_bytes());
    out.extend_from_slice(&t.cell);
    out.push(t.cell_path.len() as u8);
    t.cell_path.iter().for_each(|h| out.extend_from_slice(h));
    out
}

/// The cell of `info`'s output that holds element `(row, col)`.
fn cell_index(info: &LeafInfo, row: u64, col: u64) -> u64 {
    let per_cell = hash::cell_elements(info.element_size()) as u64;
    let per_row = (info.row_len() as u64).div_ceil(per_cell);
    row * per_row + col / per_cell
}

/// The nodes `down` levels below `(level, index)` in the tree over `base` of `width` base nodes
/// (fewer at its right edge).
fn children(
    base: &[Hash],
    width: u64,
    (level, index): (u32, u64),
    down: u32,
) -> Result<Vec<Hash>, GameError> {
    let no_node = GameError::NoNode { level, index, width };
    let down = down.min(level);
    let nodes =
        hash::tree_level(base, usize::try_from(width).map_err(|_| no_node.clone())?, level - down);
    let first = usize::try_from(index << down).map_err(|_| no_node.clone())?;
    if first >= nodes.len() {
        return Err(no_node);
    }
    Ok(nodes[first..nodes.len().min(first + (1 << down))].to_vec())
}

#[cfg(test)]
mod tests {
    use assay_engine::trace::{Keep, Op};

    use super::*;

    fn trace(corrupt: Option<i32>, keep: Keep) -> Trace {
        let mut t = Trace::new().keeping(keep);
        t.op(Op::Tokens, &[1, 2], &[7u32, 9]);
        t.end_layer();
        let mut rows: Vec<i32> = (0..600).collect();
        if let Some(v) = corrupt {
            rows[300 + 270] = v;
        }
        t.op(Op::Residual, &[2, 300], &rows);
        t.end_step();
        t.op(Op::Output, &[1, 1], &[9u32]);
        t.end_step();
        t
    }

    #[test]
    fn a_side_answers_from_its_trace() {
        let (t, lie) = (trace(None, Keep::All), trace(Some(-1), Keep::All));
        let (honest, liar) = (Side::new(&t), Side::new(&lie));
        let (n, root) = honest.root();
        assert_eq!((n, root), (3, hash::tree_root(t.leaves())));
        // Width 4: the root's children are the two halves, then the leaves.
        let top = honest.leaf_children(4, (2, 0), 1).unwrap();
        assert_eq!(hash::node(&top[0], &top[1]), root);
        assert_eq!(honest.leaf_children(4, (2, 0), 3).unwrap().len(), 4);
        assert_eq!(honest.leaf_children(4, (1, 1), 1).unwrap(), [t.leaves()[2], [0; 32]]);
        assert_ne!(liar.leaf_children(4, (1, 0), 1).unwrap()[1], t.leaves()[1]);
        assert_eq!(hash::keccak(&honest.leaf_preimage(1).unwrap()), t.leaves()[1]);
        // Two rows of 300 i32: cells [256, 44, 256, 44]; the lie is in cell 3 (element 14).
        let cells = honest.cell_children(1, (2, 0), 2).unwrap();
        assert_eq!(cells.len(), 4);
        let differ: Vec<bool> = cells
            .iter()
            .zip(liar.cell_children(1, (2, 0), 2).unwrap())
            .map(|(a, b)| *a != b)
            .collect();
        assert_eq!(differ, [false, false, false, true]);
        assert_eq!(honest.cell(1, 3).unwrap().len(), 44 * 4);
        assert_eq!(liar.cell(1, 3).unwrap()[14 * 4..15 * 4], (-1i32).to_le_bytes());
        assert_eq!(honest.cell(1, 4), Err(GameError::NoNode { level: 0, index: 4, width: 4 }));
        assert_eq!(honest.leaf_preimage(3), Err(GameError::NoLeaf { leaf: 3, leaves: 3 }));
        assert_eq!(
            honest.leaf_children(4, (2, 1), 1),
            Err(GameError::NoNode { level: 2, index: 1, width: 4 })
        );
        let unkept = trace(None, Keep::Nothing);
        assert_eq!(Side::new(&unkept).leaf_preimage(1), Err(GameError::NotKept(1)));
    }
}
