//! One side of a dispute game (`contracts/interfaces/IDisputeGame.sol`): what a trace answers in
//! each phase. The formats are `crates/engine/TRACE.md`'s; the contract checks every answer
//! against the side's own commitment, so a side that answers from its own trace never reverts.

use assay_engine::{
    hash::{self, Hash},
    model::{ModelFile, TensorCells},
    trace::{LeafInfo, Trace},
};
use assay_step::{nonlin::lut_entry, op};
use thiserror::Error;

mod reduction;

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
    /// [`GameError::NotKept`] for a leaf this trace cannot open; [`GameError::NoTensor`] when
    /// the proof opens the model and the side has none (or it lacks the tensor).
    pub fn step_proof(&self, leaf: u64, at: (u64, u64), height: u32) -> Result<Vec<u8>, GameError> {
        let reads = self.reads(leaf, at)?;
        self.assemble(leaf, &reads, height)
    }

    /// A one-step proof of leaf `leaf`'s element: its header, then the openings `reads`.
    fn assemble(&self, leaf: u64, reads: &Reads, height: u32) -> Result<Vec<u8>, GameError> {
        let header = self.leaf_preimage(leaf)?;
        let mut proof = (header.len() as u16).to_le_bytes().to_vec();
        proof.extend_from_slice(&header);
        proof.push(reads.leaves.len() as u8);
        for (i, cells) in &reads.leaves {
            proof.extend(self.opening(*i, cells, height)?);
        }
        if reads.config {
            proof.extend(self.config_opening()?);
        }
        for (name, cells) in &reads.tensors {
            let opened = self
                .model
                .and_then(|m| m.open_cells(name, cells))
                .ok_or_else(|| GameError::NoTensor(name.clone()))?;
            proof.extend(tensor_opening(&opened));
        }
        Ok(proof)
    }

    /// The model's config leaf opened against the model id.
    fn config_opening(&self) -> Result<Vec<u8>, GameError> {
        let model = self.model.ok_or_else(|| GameError::NoTensor("config".into()))?;
        let (preimage, width, path) = model.open_config();
        let mut out = (preimage.len() as u16).to_le_bytes().to_vec();
        out.extend_from_slice(&preimage);
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(width as u32).to_le_bytes());
        out.push(path.len() as u8);
        path.iter().for_each(|h| out.extend_from_slice(h));
        out.push(0);
        Ok(out)
    }

    /// Phase Leaf: leaf `leaf`'s preimage, or nothing when this trace ended before it.
    ///
    /// # Errors
    /// [`GameError::NotKept`].
    pub fn leaf_or_none(&self, leaf: u64) -> Result<Vec<u8>, GameError> {
        if leaf >= self.trace.leaves().len() as u64 {
            return Ok(Vec::new());
        }
        self.leaf_preimage(leaf)
    }

    /// Phase Step when the sides opened different headers for leaf `leaf` (or one has none): the
    /// proof of the header the schedule puts there (`schedule` in `contracts/prover`): leaves
    /// `leaf − 1` to `leaf − 3` (the first with its cell when it is the head's chosen token),
    /// leaf 0 when it is not among them, and the config.
    ///
    /// # Errors
    /// [`GameError::NoLeaf`], [`GameError::NotKept`], [`GameError::NoTensor`].
    pub fn schedule_proof(&self, leaf: u64, height: u32) -> Result<Vec<u8>, GameError> {
        if leaf == 0 {
            return Ok(Vec::new());
        }
        let mut openings: Vec<(u64, Vec<u64>)> =
            (1..=leaf.min(3)).map(|k| (leaf - k, vec![])).collect();
        if leaf > 3 {
            openings.push((0, vec![]));
        }
        let (info, _) = self.output(leaf - 1)?;
        if info.op == op::TOKENS && info.layer >= 1 {
            openings[0].1 = vec![0];
        }
        let mut proof = vec![openings.len() as u8];
        for (i, cells) in &openings {
            proof.extend(self.opening(*i, cells, height)?);
        }
        proof.extend(self.config_opening()?);
        Ok(proof)
    }

    /// Phase Step when both leaf trees are equal but the outputs differ: the opening of the last
    /// leaf (the `Output` op) with every cell, for a game whose trees are `height` levels high
    /// (`proof::output_of` in `contracts/dispute`).
    ///
    /// # Errors
    /// [`GameError::NotKept`] when the last leaf's output was not kept; [`GameError::NotProvable`]
    /// when the last leaf is not the `Output` op.
    pub fn output_proof(&self, height: u32) -> Result<Vec<u8>, GameError> {
        let leaves = self.trace.leaves().len();
        let last = leaves.checked_sub(1).ok_or(GameError::NoLeaf { leaf: 0, leaves })?;
        let info = &self.trace.info()[last];
        if info.op != op::OUTPUT {
            return Err(GameError::NotProvable { leaf: last as u64, op: info.op });
        }
        let (_, cells) = self.cells(last as u64)?;
        let all: Vec<u64> = (0..cells.len() as u64).collect();
        self.opening(last as u64, &all, height)
    }

    /// What the one-step proof of element `(row, col)` of leaf `leaf` opens (the contract's
    /// `proof.rs` fixes it per op).
    fn reads(&self, leaf: u64, (row, col): (u64, u64)) -> Result<Reads, GameError> {
        let (info, _) = self.output(leaf)?;
        let not_provable = GameError::NotProvable { leaf, op: info.op };
        let info_at = |i: u64| usize::try_from(i).ok().and_then(|i| self.trace.info().get(i));
        let op_at = |i: u64| info_at(i).map(|info| info.op);
        let back = |k: u64| leaf.checked_sub(k).ok_or(not_provable.clone());
        let element = |i: u64| -> Result<Vec<u64>, GameError> {
            let info = info_at(i)
                .ok_or(GameError::NoLeaf { leaf: i, leaves: self.trace.leaves().len() })?;
            Ok(vec![cell_index(info, row, col)])
        };
        match info.op {
            op::EMBED => {
                let tokens = back(1)?;
                let tokens_info = info_at(tokens).filter(|i| i.op == op::TOKENS);
                let tokens_info = tokens_info.ok_or(not_provable.clone())?;
                let id = self.i32_at(tokens, (0, row))? as u32 as usize;
                let model = self.model.ok_or_else(|| GameError::NoTensor("emb".into()))?;
                let tables: Vec<(&str, usize)> = if model.dims("emb.w").is_some() {
                    vec![("emb", id)]
                } else {
                    vec![("emb.word", id), ("emb.pos", row as usize), ("emb.type", 0)]
                };
                let mut tensors = Vec::new();
                for (name, table_row) in tables {
                    let w = format!("{name}.w");
                    let dims = model.dims(&w).ok_or_else(|| GameError::NoTensor(w.clone()))?;
                    let per_cell = hash::cell_elements(1);
                    let per_row = (dims.last().copied().unwrap_or(1) as usize).div_ceil(per_cell);
                    tensors.push((w, vec![table_row * per_row + col as usize / per_cell]));
                    tensors.push((format!("{name}.m"), vec![table_row / hash::cell_elements(5)]));
                }
                let leaves = vec![(tokens, vec![cell_index(tokens_info, 0, row)])];
                Ok(Reads { leaves, tensors, config: false })
            }
            op::SCORES => self.scores_reads(leaf, info, (row, col)),
            op::NORMALIZE => {
                let pool = back(1)?;
                let pool_info = info_at(pool).ok_or(not_provable)?;
                let per_row = (pool_info.row_len() as u64).div_ceil(hash::cell_elements(4) as u64);
                Ok(Reads { leaves: vec![(pool, (0..per_row).collect())], ..Reads::default() })
            }
            op::TOKENS if info.layer == 0 && info.step >= 1 => {
                Ok(Reads { leaves: vec![(back(1)?, vec![0])], ..Reads::default() })
            }
            op::OUTPUT if info.dtype == op::DTYPE_U32 => {
                // Element e is the token step e chose: the Tokens leaf of that step's head.
                let chosen = self
                    .trace
                    .info()
                    .iter()
                    .position(|i| i.op == op::TOKENS && i.layer >= 1 && u64::from(i.step) == col)
                    .ok_or(not_provable)?;
                Ok(Reads { leaves: vec![(chosen as u64, vec![0])], ..Reads::default() })
            }
            op::OUTPUT => {
                let normalized = back(1)?;
                Ok(Reads { leaves: vec![(normalized, element(normalized)?)], ..Reads::default() })
            }
            op::LOGITS => {
                let norm = back(1)?;
                let norm_info = info_at(norm).filter(|i| i.op == op::RMS_NORM);
                let norm_info = norm_info.ok_or(not_provable.clone())?;
                let per_row = (norm_info.row_len() as u64).div_ceil(hash::cell_elements(4) as u64);
                let model = self.model.ok_or_else(|| GameError::NoTensor("emb.w".into()))?;
                let dims =
                    model.dims("emb.w").ok_or_else(|| GameError::NoTensor("emb.w".into()))?;
                let per_w_row =
                    (dims.last().copied().unwrap_or(1) as usize).div_ceil(hash::cell_elements(1));
                let c = col as usize;
                let tensors = vec![
                    ("emb.w".to_owned(), (c * per_w_row..(c + 1) * per_w_row).collect()),
                    ("head.m".to_owned(), vec![c / hash::cell_elements(5)]),
                ];
                Ok(Reads { leaves: vec![(norm, (0..per_row).collect())], tensors, config: false })
            }
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
                let leaves = vec![
                    (delta, element(delta)?),
                    (stream, element(stream)?),
                    (stream + 1, vec![]),
                ];
                Ok(Reads { leaves, tensors: vec![], config: false })
            }
            op::ACTIVATION => {
                let (up, before) = (back(1)?, back(2)?);
                let gated = op_at(before) == Some(op::FFN_GATE);
                let (x_leaf, table) = if gated { (before, "lut.silu") } else { (up, "lut.gelu") };
                let tensors = match lut_entry(self.i32_at(x_leaf, (row, col))?) {
                    Ok(entry) => vec![(table.to_owned(), vec![entry / hash::cell_elements(4)])],
                    Err(_) => vec![],
                };
                let leaves = if gated {
                    vec![(before, element(before)?), (up, element(up)?)]
                } else {
                    vec![(up, element(up)?), (before, vec![])]
                };
                Ok(Reads { leaves, tensors, config: false })
            }
            op::RMS_NORM => {
                let input = back(1)?;
                let in_info = info_at(input).ok_or(not_provable.clone())?;
                let model = self.model.ok_or_else(|| GameError::NoTensor("config".into()))?;
                let layers =
                    model.cfg("layers").map_err(|_| GameError::NoTensor("config".into()))?;
                let (name, in_row) = if u64::from(info.layer) == layers + 1 {
                    ("final_norm".to_owned(), in_info.dims[0] as u64 - 1)
                } else if in_info.layer == info.layer {
                    (format!("l{}.ffn_norm", info.layer - 1), row)
                } else {
                    (format!("l{}.attn_norm", info.layer.checked_sub(1).ok_or(not_provable)?), row)
                };
                let per_row = (in_info.row_len() as u64).div_ceil(hash::cell_elements(4) as u64);
                let input_cells = (in_row * per_row..(in_row + 1) * per_row).collect();
                let tensors = vec![(name, vec![col as usize / hash::cell_elements(4)])];
                Ok(Reads { leaves: vec![(input, input_cells)], tensors, config: true })
            }
            op::LAYER_NORM => {
                let (input, before) = (back(1)?, back(2)?);
                let in_info = info_at(input).ok_or(not_provable.clone())?;
                let name = match (info.layer, op_at(before)) {
                    (0, _) => "emb.ln".to_owned(),
                    (l, Some(op::ATTN_OUT)) => format!("l{}.ln1", l - 1),
                    (l, _) => format!("l{}.ln2", l - 1),
                };
                let per_row = (in_info.row_len() as u64).div_ceil(hash::cell_elements(4) as u64);
                let input_cells = (row * per_row..(row + 1) * per_row).collect();
                let cell = vec![col as usize / hash::cell_elements(4)];
                let tensors =
                    vec![(format!("{name}.g"), cell.clone()), (format!("{name}.b"), cell)];
                let leaves = vec![(input, input_cells), (before, vec![])];
                Ok(Reads { leaves, tensors, config: true })
            }
            code => {
                let find = |inputs: &[(u32, u64, u32, &'static str)]| {
                    inputs
                        .iter()
                        .filter(|(c, ..)| *c == code)
                        .find(|(_, k, from, _)| leaf.checked_sub(*k).and_then(op_at) == Some(*from))
                        .map(|(_, k, _, name)| (*k, *name))
                };
                let (rotary, (k, name)) = match find(&op::LINEAR_INPUTS) {
                    Some(found) => (false, found),
                    None => (true, find(&op::ROTARY_INPUTS).ok_or(not_provable.clone())?),
                };
                let input = back(k)?;
                let in_info = info_at(input).ok_or(not_provable.clone())?;
                let per_row = (in_info.row_len() as u64).div_ceil(hash::cell_elements(4) as u64);
                let input_cells = (row * per_row..(row + 1) * per_row).collect();
                let prefix =
                    format!("l{}.{name}", info.layer.checked_sub(1).ok_or(not_provable.clone())?);
                let model = self.model.ok_or_else(|| GameError::NoTensor(format!("{prefix}.w")))?;
                let dims = |suffix: &str| {
                    model
                        .dims(&format!("{prefix}.{suffix}"))
                        .map(<[u32]>::to_vec)
                        .ok_or_else(|| GameError::NoTensor(format!("{prefix}.{suffix}")))
                };
                // A rotated projection reads the pair of columns its element belongs to.
                let cols: Vec<usize> = if rotary {
                    let even = col as usize & !1;
                    vec![even, even + 1]
                } else {
                    vec![col as usize]
                };
                let row_cells = |dims: Vec<u32>, size: usize| {
                    let len = dims.last().copied().unwrap_or(1) as usize;
                    let per = len.div_ceil(hash::cell_elements(size));
                    cols.iter().flat_map(|c| c * per..(c + 1) * per).collect::<Vec<usize>>()
                };
                let entries = |size: usize| {
                    let mut cells: Vec<usize> =
                        cols.iter().map(|c| c / hash::cell_elements(size)).collect();
                    cells.dedup();
                    cells
                };
                let mut tensors = vec![
                    (format!("{prefix}.w"), row_cells(dims("w")?, 1)),
                    (format!("{prefix}.m"), entries(5)),
                    (format!("{prefix}.r"), row_cells(dims("r")?, 4)),
                    (format!("{prefix}.b"), entries(4)),
                ];
                let mut leaves = vec![(input, input_cells)];
                if rotary {
                    // The position: the prompt's length (step 0's Tokens leaf) and the step.
                    let prompt = self.trace.info().first().filter(|i| i.op == op::TOKENS);
                    let prompt_len = prompt.ok_or(not_provable.clone())?.dims[1] as u64;
                    let before =
                        if info.step == 0 { 0 } else { prompt_len + u64::from(info.step) - 1 };
                    let position = (before + row) as usize;
                    let table = model.dims("rope.cos").map(<[u32]>::to_vec);
                    let table = table.ok_or_else(|| GameError::NoTensor("rope.cos".into()))?;
                    let half = table[1] as usize;
                    let per = hash::cell_elements(4);
                    let cell = position * half.div_ceil(per) + (col as usize / 2 % half) / per;
                    tensors.push(("rope.cos".to_owned(), vec![cell]));
                    tensors.push(("rope.sin".to_owned(), vec![cell]));
                    leaves.push((0, vec![]));
                }
                Ok(Reads { leaves, tensors, config: false })
            }
        }
    }

    /// What a `Scores` element reads (`scores` in the contract's `proof.rs`): the query row's
    /// head slice, the key of position `col` (llama: from the step that wrote it, with the
    /// prompt's `Tokens` header), the config and `attn.scale`; a masked element the config alone.
    fn scores_reads(
        &self,
        leaf: u64,
        info: &LeafInfo,
        (row, col): (u64, u64),
    ) -> Result<Reads, GameError> {
        let not_provable = GameError::NotProvable { leaf, op: info.op };
        let model = self.model.ok_or_else(|| GameError::NoTensor("config".into()))?;
        let arch = model.cfg("arch").map_err(|_| GameError::NoTensor("config".into()))?;
        let llama = arch == op::ARCH_LLAMA;
        let [a, b, width] = info.dims[..] else { return Err(not_provable) };
        let (a, b, width) = (u64::from(a), u64::from(b), u64::from(width));
        let (i, hq, heads, rows) =
            if llama { (row / b, row % b, b, a) } else { (row % b, row / b, a, b) };
        let masked = Reads { config: true, ..Reads::default() };
        if llama && col > width - rows + i {
            return Ok(masked);
        }
        let infos = self.trace.info();
        let query = leaf.checked_sub(3).ok_or(not_provable.clone())?;
        let q_info = &infos[query as usize];
        let (key, key_row) = if llama {
            let prompt_len = u64::from(infos[0].dims[1]);
            let (step, key_row) = match col.checked_sub(prompt_len) {
                None => (0, col),
                Some(after) => (after + 1, 0),
            };
            let key = infos
                .iter()
                .position(|k| (u64::from(k.step), k.layer, k.op) == (step, info.layer, op::KEY));
            (key.ok_or(not_provable)? as u64, key_row)
        } else {
            (leaf.checked_sub(2).ok_or(not_provable)?, col)
        };
        let k_info = &infos[key as usize];
        let hd = u64::from(q_info.dims[1]) / heads;
        let group = heads / (u64::from(k_info.dims[1]) / hd);
        let slice = |info: &LeafInfo, row: u64, head: u64| {
            let mut cells: Vec<u64> =
                (head * hd..(head + 1) * hd).map(|c| cell_index(info, row, c)).collect();
            cells.dedup();
            cells
        };
        let mut leaves =
            vec![(query, slice(q_info, i, hq)), (key, slice(k_info, key_row, hq / group))];
        if llama {
            leaves.push((0, vec![]));
        }
        Ok(Reads { leaves, tensors: vec![("attn.scale".to_owned(), vec![0])], config: true })
    }

    /// Element `(row, col)` of i32 leaf `leaf`.
    fn i32_at(&self, leaf: u64, (row, col): (u64, u64)) -> Result<i32, GameError> {
        let (info, data) = self.output(leaf)?;
        let at = (row as usize * info.row_len() + col as usize) * 4;
        let none = GameError::NoNode { level: 0, index: col, width: info.row_len() as u64 };
        let bytes = data.get(at..at + 4).ok_or(none)?;
        Ok(i32::from_le_bytes(bytes.try_into().expect("4 bytes")))
    }

    /// One opening of a one-step proof: leaf `leaf` with its tree path, and cells `cells` of its
    /// output with their cells paths.
    fn opening(&self, leaf: u64, cells: &[u64], height: u32) -> Result<Vec<u8>, GameError> {
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
        let (_, hashes) = self.cells(leaf)?;
        out.push(cells.len() as u8);
        for &cell in cells {
            let bytes = self.cell(leaf, cell)?;
            out.extend(cell_opening(cell, &bytes, &carried_path(&hashes, cell as usize)));
        }
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

/// What a one-step proof opens: earlier leaves with the cells it reads (none: the header only),
/// then model tensors with theirs.
#[derive(Default)]
struct Reads {
    leaves: Vec<(u64, Vec<u64>)>,
    tensors: Vec<(String, Vec<usize>)>,
    /// Whether the model's config leaf is opened (before the tensors).
    config: bool,
}

/// The siblings of base node `index` up an odd-carry tree over `base` (levels where it has none
/// are skipped).
fn carried_path(base: &[Hash], index: usize) -> Vec<Hash> {
    hash::merkle_proof(base, index).into_iter().flatten().collect()
}

/// `cell u64 ‖ cell_len u16 ‖ bytes ‖ m u8 ‖ sibling*m`.
fn cell_opening(cell: u64, bytes: &[u8], siblings: &[Hash]) -> Vec<u8> {
    let mut out = cell.to_le_bytes().to_vec();
    out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    out.extend_from_slice(bytes);
    out.push(siblings.len() as u8);
    siblings.iter().for_each(|h| out.extend_from_slice(h));
    out
}

/// A model opening of a one-step proof (`contracts/dispute/src/proof.rs`).
fn tensor_opening(t: &TensorCells) -> Vec<u8> {
    let mut out = (t.preimage.len() as u16).to_le_bytes().to_vec();
    out.extend_from_slice(&t.preimage);
    out.extend_from_slice(&(t.index as u32).to_le_bytes());
    out.extend_from_slice(&(t.width as u32).to_le_bytes());
    out.push(t.path.len() as u8);
    t.path.iter().for_each(|h| out.extend_from_slice(h));
    out.push(t.cells.len() as u8);
    for (cell, bytes, siblings) in &t.cells {
        out.extend(cell_opening(*cell as u64, bytes, siblings));
    }
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
