//! One-step proofs: the inputs of the disputed element, each opened against the agreed trace or
//! the job's model, and the recomputation of the element with `assay-step` (the engine's own
//! definitions).
//!
//! A proof is the disputed leaf's header, openings of earlier leaves, then openings of model
//! tensors (all little endian):
//!
//! ```text
//! proof   = header_len u16 ‖ header ‖ n u8 ‖ opening*n ‖ model*
//! opening = leaf u64 ‖ preimage_len u16 ‖ preimage ‖ k u8 ‖ sibling*k ‖ cells
//! model   = preimage_len u16 ‖ tensor preimage ‖ index u32 ‖ width u32 ‖ k u8 ‖ sibling*k ‖ cells
//! cells   = c u8 ‖ (cell u64 ‖ cell_len u16 ‖ bytes ‖ m u8 ‖ sibling*m)*c
//! ```
//!
//! The header is the disputed leaf's preimage (any cells root). A leaf's tree path (bottom up)
//! proves it under either side's tree root: every leaf before the disputed one is the same in
//! both trees (the bisection compared the subtrees left of it). A model opening is a tensor leaf
//! (`crates/engine/TRACE.md`, "Model id") at `index` of the model tree's `width` leaves, proven
//! against the job's model id (odd nodes carried up, so a level without a sibling has none in
//! the path). Each opened cell comes with its path up its leaf's or tensor's cells root. When
//! both leaf trees are equal and the outputs differ, the proof is instead one opening of the
//! last leaf, the `Output` op, with every cell ([`output_of`]). Which
//! leaves, cells and tensors an op reads, at which distance and with which ops around them, is
//! fixed per op below: the agreed leaves before the disputed one follow the engine's schedule,
//! so exactly one reading type-checks.

use alloc::vec::Vec;

use assay_step::{
    attention,
    commit::{self, Hash, Keccak, OpLeaf},
    fixed::{self, Multiplier},
    linear,
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

/// Cells of one tensor (a trace leaf's output or a model tensor), each checked against its
/// cells root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cells<'a> {
    pub geometry: commit::Cells,
    pub opened: Vec<(u64, &'a [u8])>,
}

impl<'a> Cells<'a> {
    /// The bytes of element `(row, col)`, when its cell was opened.
    pub(crate) fn element(&self, row: u64, col: u64) -> Option<&'a [u8]> {
        let g = &self.geometry;
        (row < g.rows && col < g.row_len).then_some(())?;
        let cell = row.checked_mul(g.per_row())?.checked_add(col.checked_div(g.per_cell())?)?;
        let (_, bytes) = self.opened.iter().find(|(i, _)| *i == cell)?;
        let at = usize::try_from(col.checked_rem(g.per_cell())?).ok()?.checked_mul(g.size)?;
        bytes.get(at..at.checked_add(g.size)?)
    }

    /// Row `row` whole, when all its cells were opened, as its elements' bytes.
    fn row(&self, row: u64) -> Option<Vec<&'a [u8]>> {
        let g = &self.geometry;
        (row < g.rows).then_some(())?;
        let first = row.checked_mul(g.per_row())?;
        let mut out = Vec::new();
        for cell in first..first.checked_add(g.per_row())? {
            let (_, bytes) = self.opened.iter().find(|(i, _)| *i == cell)?;
            out.extend(bytes.chunks_exact(g.size));
        }
        (out.len() as u64 == g.row_len).then_some(out)
    }

    pub(crate) fn i32_at(&self, row: u64, col: u64) -> Option<i32> {
        Some(i32::from_le_bytes(self.element(row, col)?.try_into().ok()?))
    }

    /// Row `row` whole as i32 values, when all its cells were opened.
    fn i32_row(&self, row: u64) -> Option<Vec<i32>> {
        self.row(row)?.iter().map(|e| Some(i32::from_le_bytes((*e).try_into().ok()?))).collect()
    }
}

/// An opened earlier leaf and the cells opened with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened<'a> {
    pub index: u64,
    pub leaf: OpLeaf,
    pub cells: Cells<'a>,
}

/// An opened model tensor and the cells opened with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tensor<'a> {
    pub name: &'a [u8],
    pub dtype: u8,
    pub dims: &'a [u8],
    pub cells: Cells<'a>,
}

impl Tensor<'_> {
    /// Whether this is tensor `name` of `dtype` and dimensions `dims`.
    pub(crate) fn is(&self, name: &[u8], dtype: u8, dims: &[u32]) -> bool {
        self.name == name
            && self.dtype == dtype
            && self.dims.len() == dims.len().saturating_mul(4)
            && self.dims.chunks_exact(4).zip(dims).all(|(b, d)| *b == d.to_le_bytes())
    }
}

/// The model's config leaf, opened: `0x20 ‖ n u32 ‖ (name_len u8 ‖ name ‖ value u64)*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config<'a>(&'a [u8]);

impl Config<'_> {
    /// The value of config entry `name`.
    pub(crate) fn value(&self, name: &[u8]) -> Option<u64> {
        let mut r = Reader(self.0.get(5..)?);
        while !r.0.is_empty() {
            let len = usize::from(r.uint::<1>()?[0]);
            let (key, value) = (r.take(len)?, u64::from_le_bytes(r.uint()?));
            if key == name {
                return Some(value);
            }
        }
        None
    }
}

/// Everything a proof opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Openings<'a> {
    pub leaves: Vec<Opened<'a>>,
    pub model: Vec<Tensor<'a>>,
    pub config: Option<Config<'a>>,
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

    /// `c u8 ‖ (cell u64 ‖ cell_len u16 ‖ bytes ‖ m u8 ‖ sibling*m)*c`, each cell checked
    /// against `cells_root` in `geometry`.
    fn cells<K: Keccak>(
        &mut self,
        k: &K,
        geometry: Option<commit::Cells>,
        cells_root: &Hash,
    ) -> Option<Cells<'a>> {
        let c = self.uint::<1>()?[0];
        let mut opened = Vec::new();
        let geometry = match (c, geometry) {
            (0, None) => commit::Cells { rows: 0, row_len: 0, size: 1 },
            (_, g) => g?,
        };
        for _ in 0..c {
            let index = u64::from_le_bytes(self.uint()?);
            let len = usize::from(u16::from_le_bytes(self.uint()?));
            let bytes = self.take(len)?;
            let m = usize::from(self.uint::<1>()?[0]);
            let siblings = self.hashes(m)?;
            let want = geometry.span(index).2.checked_mul(geometry.size as u64)?;
            let cell = commit::cell(k, bytes);
            let root = commit::carried_verify(k, cell, index, geometry.count()?, &siblings)?;
            (bytes.len() as u64 == want && root == *cells_root).then_some(())?;
            opened.push((index, bytes));
        }
        Some(Cells { geometry, opened })
    }
}

/// Parses and checks every opening of `proof` (after its header) against `agreed`: `None` for
/// malformed bytes, a leaf at or after the target, a path that does not reach an agreed root or
/// the model id, or a cell that is not under its cells root.
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
    let (mut model, mut config) = (Vec::new(), None);
    while !r.0.is_empty() {
        match open_model(k, &mut r, agreed)? {
            Ok(tensor) => model.push(tensor),
            Err(opened) if config.is_none() => config = Some(opened),
            Err(_) => return None,
        }
    }
    Some(Openings { leaves, model, config })
}

fn open_leaf<'a, K: Keccak>(
    k: &K,
    r: &mut Reader<'a>,
    agreed: &Agreed,
    target: &Target,
) -> Option<Opened<'a>> {
    open_any_leaf(k, r, agreed).filter(|opened| opened.index < target.leaf)
}

/// `leaf u64 ‖ preimage_len u16 ‖ preimage ‖ k u8 ‖ sibling*k ‖ cells`: a leaf under an agreed
/// root, with the cells opened.
fn open_any_leaf<'a, K: Keccak>(k: &K, r: &mut Reader<'a>, agreed: &Agreed) -> Option<Opened<'a>> {
    let index = u64::from_le_bytes(r.uint()?);
    let pre_len = usize::from(u16::from_le_bytes(r.uint()?));
    let leaf = OpLeaf::parse(r.take(pre_len)?)?;
    let n = usize::from(r.uint::<1>()?[0]);
    let path = r.hashes(n)?;
    let root = commit::tree_verify(k, leaf.hash(k)?, usize::try_from(index).ok()?, &path);
    if n != agreed.height as usize || !agreed.roots.contains(&root) {
        return None;
    }
    let cells = r.cells(k, leaf.cells(), &leaf.cells_root)?;
    Some(Opened { index, leaf, cells })
}

/// The output hash the agreed trace's last leaf, `last`, commits to, when both sides' leaf trees
/// are equal but their outputs differ. The proof is one opening (as in [`open`]) of that leaf:
/// an `Output` op of one row, every cell opened.
pub fn output_of<K: Keccak>(k: &K, proof: &[u8], agreed: &Agreed, last: u64) -> Option<Hash> {
    let mut r = Reader(proof);
    let opened = open_any_leaf(k, &mut r, agreed)?;
    let [1, len] = opened.leaf.dims() else { return None };
    (r.0.is_empty() && opened.index == last && opened.leaf.op == op::OUTPUT).then_some(())?;
    let data: Vec<u8> = if *len == 0 { Vec::new() } else { opened.cells.row(0)?.concat() };
    commit::output_hash(k, opened.leaf.dtype, &data)
}

/// A model opening: a tensor with its cells, or (`Err`) the config leaf (index 0, no cells).
fn open_model<'a, K: Keccak>(
    k: &K,
    r: &mut Reader<'a>,
    agreed: &Agreed,
) -> Option<Result<Tensor<'a>, Config<'a>>> {
    let pre_len = usize::from(u16::from_le_bytes(r.uint()?));
    let preimage = r.take(pre_len)?;
    let index = u64::from(u32::from_le_bytes(r.uint()?));
    let width = u64::from(u32::from_le_bytes(r.uint()?));
    let n = usize::from(r.uint::<1>()?[0]);
    let path = r.hashes(n)?;
    let leaf = k.keccak(&[preimage]);
    (commit::carried_verify(k, leaf, index, width, &path)? == agreed.model).then_some(())?;
    if preimage.first() == Some(&0x20) {
        return (index == 0 && r.uint::<1>()?[0] == 0).then_some(Err(Config(preimage)));
    }

    // 0x21 ‖ name_len ‖ name ‖ dtype ‖ rank ‖ dims ‖ cells_root
    let mut t = Reader(preimage);
    (t.uint::<1>()?[0] == 0x21).then_some(())?;
    let name_len = usize::from(t.uint::<1>()?[0]);
    let name = t.take(name_len)?;
    let [dtype, rank] = t.uint::<2>()?;
    let dims = t.take(usize::from(rank).checked_mul(4)?)?;
    let cells_root: Hash = t.uint::<32>()?;
    (t.0.is_empty() && usize::from(rank) <= commit::MAX_RANK).then_some(())?;
    let mut shape = [0u32; commit::MAX_RANK];
    for (d, b) in shape.iter_mut().zip(dims.chunks_exact(4)) {
        *d = u32::from_le_bytes(b.try_into().ok()?);
    }
    let geometry =
        OpLeaf { step: 0, layer: 0, op: 0, dtype, rank, dims: shape, cells_root }.cells();
    let cells = r.cells(k, geometry, &cells_root)?;
    Some(Ok(Tensor { name, dtype, dims, cells }))
}

/// An i32 `[rows, row_len]` output in the target's step, like the target's own.
fn same_shape(leaf: &OpLeaf, target: &OpLeaf) -> bool {
    leaf.step == target.step && leaf.dtype == op::DTYPE_I32 && leaf.dims() == target.dims()
}

/// `Residual`: the stream plus the block's delta. Openings: the delta (the leaf just before, an
/// `AttnOut` or `FfnDown` of the same layer) with the element's cell, the stream (an earlier leaf
/// of the same shape) with the element's cell, and the leaf after the stream, header only. The
/// distance and the ops must be the engine's (`assay_step::op::RESIDUAL_STREAMS`).
fn residual(target: &Target, o: &Openings<'_>) -> Option<i32> {
    let ([delta, stream, after], [], None) = (o.leaves.as_slice(), o.model.as_slice(), o.config)
    else {
        return None;
    };
    let t = &target.header;
    let delta_ok = delta.index.checked_add(1) == Some(target.leaf)
        && same_shape(&delta.leaf, t)
        && delta.leaf.layer == t.layer;
    let distance = target.leaf.checked_sub(stream.index)?;
    let schedule = op::residual_stream(delta.leaf.op, distance, stream.leaf.op, after.leaf.op);
    let after_ok = stream.index.checked_add(1) == Some(after.index) && after.leaf.step == t.step;
    (delta_ok && schedule && after_ok && same_shape(&stream.leaf, t)).then_some(())?;
    let (stream_v, delta_v) =
        (stream.cells.i32_at(target.row, target.col)?, delta.cells.i32_at(target.row, target.col)?);
    Some(op::residual(stream_v, delta_v))
}

/// A table activation of `x`: the identity above the table, 0 below it, else the entry of the one
/// model opening (and none when the table is not read).
fn table(o: &Openings<'_>, name: &[u8], x: i32) -> Option<i32> {
    match (nonlin::lut_entry(x), o.model.as_slice()) {
        (Err(value), []) => Some(value),
        (Ok(entry), [t]) if t.is(name, op::DTYPE_I32, &[LUT_LEN as u32]) => {
            t.cells.i32_at(0, entry as u64)
        }
        _ => None,
    }
}

/// `Activation`: llama's `gated(silu(gate), up)` (openings: the `FfnGate` two leaves back and the
/// `FfnUp` just before, with the element's cells, and the `lut.silu` entry) or BERT's `gelu(up)`
/// (the `FfnUp` just before with the element's cell, the leaf before it, header only and not a
/// gate, and the `lut.gelu` entry).
fn activation(target: &Target, o: &Openings<'_>) -> Option<i32> {
    o.config.is_none().then_some(())?;
    let t = &target.header;
    let (row, col) = (target.row, target.col);
    let input = |l: &Opened<'_>, back: u64, code: u32| {
        l.index.checked_add(back) == Some(target.leaf)
            && l.leaf.op == code
            && l.leaf.layer == t.layer
            && same_shape(&l.leaf, t)
    };
    match o.leaves.as_slice() {
        [gate, up] if input(gate, 2, op::FFN_GATE) && input(up, 1, op::FFN_UP) => {
            let act = table(o, b"lut.silu", gate.cells.i32_at(row, col)?)?;
            Some(attention::gated(act, up.cells.i32_at(row, col)?))
        }
        [up, before]
            if input(up, 1, op::FFN_UP)
                && before.index.checked_add(2) == Some(target.leaf)
                && before.cells.opened.is_empty()
                && before.leaf.op != op::FFN_GATE =>
        {
            table(o, b"lut.gelu", up.cells.i32_at(row, col)?)
        }
        _ => None,
    }
}

/// A linear layer's element `(r, c)`: its input (`assay_step::op::LINEAR_INPUTS`) with row `r`
/// whole (every cell), then the layer's tensors `w` (row `c`), `m` (entry `c`), `r` (row `c`)
/// and `b` (entry `c`) of `l{layer - 1}.{weights}`.
fn linear(target: &Target, o: &Openings<'_>) -> Option<i32> {
    let ([input], [w, m, r, b], None) = (o.leaves.as_slice(), o.model.as_slice(), o.config) else {
        return None;
    };
    let layer = Projection::check(target, input, &op::LINEAR_INPUTS, [w, m, r, b])?;
    layer.element(target.col)
}

/// llama's `Query` and `Key` element `(r, c)` (`assay_step::op::ROTARY_INPUTS`): the linear
/// layer's outputs `c & !1` and `c | 1` of input row `r` (openings as in [`linear`], the
/// tensors at both columns), rotated by `rope_pair` with the `rope.cos` and `rope.sin` entries of
/// the row's position and the pair's index in its head. The position is the row plus the tokens
/// of earlier steps: the step-0 `Tokens` leaf (index 0, header only) gives the prompt's length,
/// and each later step adds one token.
fn rotated(target: &Target, o: &Openings<'_>) -> Option<i32> {
    let ([input, prompt], [w, m, r, b, cos, sin], None) =
        (o.leaves.as_slice(), o.model.as_slice(), o.config)
    else {
        return None;
    };
    let layer = Projection::check(target, input, &op::ROTARY_INPUTS, [w, m, r, b])?;
    let t = &target.header;
    let [1, prompt_len] = prompt.leaf.dims() else { return None };
    (prompt.index == 0 && prompt.leaf.op == op::TOKENS && prompt.leaf.step == 0).then_some(())?;
    let before = match t.step {
        0 => 0,
        step => u64::from(*prompt_len).checked_add(u64::from(step))?.checked_sub(1)?,
    };
    let position = before.checked_add(target.row)?;
    let half = u32::from_le_bytes(cos.dims.get(4..8)?.try_into().ok()?);
    let positions = u32::from_le_bytes(cos.dims.get(..4)?.try_into().ok()?);
    (cos.is(b"rope.cos", op::DTYPE_I32, &[positions, half])
        && sin.is(b"rope.sin", op::DTYPE_I32, &[positions, half]))
    .then_some(())?;
    let c = target.col;
    let pair = c.checked_div(2)?.checked_rem(u64::from(half))?;
    let even = c.checked_sub(c.checked_rem(2)?)?;
    let (a, b) = (layer.element(even)?, layer.element(even.checked_add(1)?)?);
    let (cs, sn) = (cos.cells.i32_at(position, pair)?, sin.cells.i32_at(position, pair)?);
    let (first, second) = attention::rope_pair(a, b, cs, sn);
    Some(if c == even { first } else { second })
}

/// A linear layer whose input and tensors were checked: what [`Projection::element`] computes
/// an output column from.
struct Projection<'o, 'a> {
    x: Vec<i32>,
    w: &'o Tensor<'a>,
    m: &'o Tensor<'a>,
    r: &'o Tensor<'a>,
    b: &'o Tensor<'a>,
}

impl<'o, 'a> Projection<'o, 'a> {
    /// Checks the input leaf against `inputs` (the target's op, distance and input op) and the
    /// tensors against `l{layer - 1}.{weights}.{w,m,r,b}` of the layer's shape; reads the input
    /// row.
    fn check(
        target: &Target,
        input: &Opened<'a>,
        inputs: &[(u32, u64, u32, &str)],
        [w, m, r, b]: [&'o Tensor<'a>; 4],
    ) -> Option<Self> {
        let t = &target.header;
        let back = target.leaf.checked_sub(input.index)?;
        let (_, _, _, name) = inputs
            .iter()
            .find(|(code, k, from, _)| *code == t.op && *k == back && *from == input.leaf.op)?;
        let [rows, n] = t.dims() else { return None };
        let [in_rows, k] = input.leaf.dims() else { return None };
        // BERT's attention projections read the previous block's output norm (the embedding's
        // for the first block); every other projection reads a leaf of its own layer.
        let attention = matches!(t.op, op::QUERY | op::KEY | op::VALUE);
        let previous = attention && input.leaf.op == op::LAYER_NORM;
        let layer = if previous { t.layer.checked_sub(1)? } else { t.layer };
        (input.leaf.step == t.step
            && input.leaf.layer == layer
            && input.leaf.dtype == op::DTYPE_I32
            && in_rows == rows
            && t.layer >= 1)
            .then_some(())?;
        let blocks = k.checked_div(linear::BLOCK as u32)?;
        let mut prefix = [0u8; 32];
        let prefix = layer_prefix(&mut prefix, t.layer.checked_sub(1)?, name.as_bytes())?;
        let tensor = |t: &Tensor<'_>, suffix: &[u8], dtype: u8, dims: &[u32]| {
            let mut full = [0u8; 40];
            let len = prefix.len().checked_add(suffix.len())?;
            full.get_mut(..prefix.len())?.copy_from_slice(prefix);
            full.get_mut(prefix.len()..len)?.copy_from_slice(suffix);
            t.is(full.get(..len)?, dtype, dims).then_some(())
        };
        tensor(w, b".w", 1, &[*n, *k])?;
        tensor(m, b".m", 10, &[*n])?;
        tensor(r, b".r", op::DTYPE_I32, &[*n, blocks])?;
        tensor(b, b".b", op::DTYPE_I32, &[*n])?;
        let x = input.cells.i32_row(target.row)?;
        Some(Self { x, w, m, r, b })
    }

    /// Output column `c`: `linear_element` of the input row with row `c` of the weights and
    /// ratios and entry `c` of the multipliers and biases.
    fn element(&self, c: u64) -> Option<i32> {
        let w_row: Vec<i8> = self.w.cells.row(c)?.iter().map(|e| e[0] as i8).collect();
        let ratios = self.r.cells.i32_row(c)?;
        let mult = Multiplier::from_le_bytes(self.m.cells.element(0, c)?.try_into().ok()?);
        let bias = self.b.cells.i32_at(0, c)?;
        linear::linear_element(&self.x, &w_row, &ratios, mult, bias)
    }
}

/// `l{layer}.{name}` into `buf`.
fn layer_prefix<'b>(buf: &'b mut [u8; 32], layer: u32, name: &[u8]) -> Option<&'b [u8]> {
    let mut digits = [0u8; 10];
    let mut n = layer;
    let mut len = 0;
    loop {
        *digits.get_mut(len)? = b'0'.checked_add(u8::try_from(n.checked_rem(10)?).ok()?)?;
        len = len.checked_add(1)?;
        n = n.checked_div(10)?;
        if n == 0 {
            break;
        }
    }
    buf[0] = b'l';
    let mut at = 1usize;
    for d in digits.get(..len)?.iter().rev() {
        *buf.get_mut(at)? = *d;
        at = at.checked_add(1)?;
    }
    *buf.get_mut(at)? = b'.';
    at = at.checked_add(1)?;
    let end = at.checked_add(name.len())?;
    buf.get_mut(at..end)?.copy_from_slice(name);
    buf.get(..end)
}

/// `RmsNorm` (llama): the input row whole (the leaf just before) and the gamma entry, with the
/// config's `eps_q24` and `layers`. The gamma is `l{layer - 1}.attn_norm` after the block's
/// input (an `Embed` or the previous layer's `Residual`), `l{layer - 1}.ffn_norm` after the
/// layer's own `Residual`, and `final_norm` in the head (layer `layers + 1`), which normalises the
/// last row only.
fn rms_norm(target: &Target, o: &Openings<'_>) -> Option<i32> {
    let ([input], [gamma], Some(config)) = (o.leaves.as_slice(), o.model.as_slice(), o.config)
    else {
        return None;
    };
    let (t, i) = (&target.header, &input.leaf);
    let layers = u32::try_from(config.value(b"layers")?).ok()?;
    let eps = config.value(b"eps_q24")?;
    let ([rows, h], [in_rows, in_h]) = (t.dims(), i.dims()) else { return None };
    (input.index.checked_add(1) == Some(target.leaf)
        && i.step == t.step
        && i.dtype == op::DTYPE_I32
        && in_h == h
        && t.layer >= 1)
        .then_some(())?;
    let mut buf = [0u8; 32];
    let (name, row) = if t.layer == layers.checked_add(1)? {
        (i.op == op::RESIDUAL && i.layer == layers && *rows == 1).then_some(())?;
        (&b"final_norm"[..], u64::from(in_rows.checked_sub(1)?))
    } else {
        let attn =
            i.layer.checked_add(1) == Some(t.layer) && matches!(i.op, op::EMBED | op::RESIDUAL);
        let ffn = i.layer == t.layer && i.op == op::RESIDUAL;
        (t.layer <= layers && in_rows == rows && (attn || ffn)).then_some(())?;
        let which = if attn { &b"attn_norm"[..] } else { &b"ffn_norm"[..] };
        (layer_prefix(&mut buf, t.layer.checked_sub(1)?, which)?, target.row)
    };
    gamma.is(name, op::DTYPE_I32, &[*h]).then_some(())?;
    let x = input.cells.i32_row(row)?;
    let inv = nonlin::rms_norm_inv(&x, eps);
    let v = *x.get(usize::try_from(target.col).ok()?)?;
    Some(nonlin::rms_norm_element(v, inv, gamma.cells.i32_at(0, target.col)?))
}

/// `LayerNorm` (BERT): the input row whole (the leaf before), the leaf two back (header only:
/// `Tokens` before the embedding's norm, `AttnOut` before `ln1`, `FfnDown` before `ln2`), the
/// gamma and beta entries of `emb.ln` or `l{layer - 1}.ln1`/`ln2`, and the config's `eps_q24`.
fn layer_norm(target: &Target, o: &Openings<'_>) -> Option<i32> {
    let ([input, before], [gamma, beta], Some(config)) =
        (o.leaves.as_slice(), o.model.as_slice(), o.config)
    else {
        return None;
    };
    let (t, i) = (&target.header, &input.leaf);
    let eps = config.value(b"eps_q24")?;
    let ([rows, h], [in_rows, in_h]) = (t.dims(), i.dims()) else { return None };
    (input.index.checked_add(1) == Some(target.leaf)
        && before.index.checked_add(2) == Some(target.leaf)
        && before.cells.opened.is_empty()
        && i.step == t.step
        && i.dtype == op::DTYPE_I32
        && (in_rows, in_h) == (rows, h))
        .then_some(())?;
    let (mut g_buf, mut b_buf) = ([0u8; 32], [0u8; 32]);
    let (g_name, b_name): (&[u8], &[u8]) = match (t.layer, i.op, i.layer, before.leaf.op) {
        (0, op::EMBED, 0, op::TOKENS) => (b"emb.ln.g", b"emb.ln.b"),
        (l, op::RESIDUAL, il, delta) if l >= 1 && il == l => {
            let which: (&[u8], &[u8]) = match delta {
                op::ATTN_OUT => (b"ln1.g", b"ln1.b"),
                op::FFN_DOWN => (b"ln2.g", b"ln2.b"),
                _ => return None,
            };
            let n = l.checked_sub(1)?;
            (layer_prefix(&mut g_buf, n, which.0)?, layer_prefix(&mut b_buf, n, which.1)?)
        }
        _ => return None,
    };
    (gamma.is(g_name, op::DTYPE_I32, &[*h]) && beta.is(b_name, op::DTYPE_I32, &[*h]))
        .then_some(())?;
    let x = input.cells.i32_row(target.row)?;
    let stats = nonlin::layer_norm_stats(&x, eps);
    let v = *x.get(usize::try_from(target.col).ok()?)?;
    let (g, b) = (gamma.cells.i32_at(0, target.col)?, beta.cells.i32_at(0, target.col)?);
    Some(nonlin::layer_norm_element(v, stats, g, b))
}

/// `Embed` (layer 0): the row's token id from the `Tokens` leaf just before (the id's cell),
/// dequantised from the model's tables at column `col`: llama's `emb` (`w` row id, `m` entry id);
/// BERT's saturating sum of `emb.word` (row id), `emb.pos` (row = the token's position) and
/// `emb.type` (row 0). Each table opens its `w` cell and its `m` entry, in that order.
fn embed(target: &Target, o: &Openings<'_>) -> Option<i32> {
    let ([tokens], None) = (o.leaves.as_slice(), o.config) else { return None };
    let t = &target.header;
    let ([rows, h], [1, count]) = (t.dims(), tokens.leaf.dims()) else { return None };
    (tokens.index.checked_add(1) == Some(target.leaf)
        && tokens.leaf.op == op::TOKENS
        && tokens.leaf.step == t.step
        && tokens.leaf.dtype == op::DTYPE_U32
        && count == rows
        && t.layer == 0
        && t.dtype == op::DTYPE_I32)
        .then_some(())?;
    let id = u64::from(u32::from_le_bytes(tokens.cells.element(0, target.row)?.try_into().ok()?));
    // Element `(row, col)` of table `name`, dequantised: `m[row].apply(w[row][col], 0)`.
    let entry = |w: &Tensor<'_>, m: &Tensor<'_>, name: &[u8], row: u64| -> Option<i32> {
        let table_rows = u32::from_le_bytes(w.dims.get(..4)?.try_into().ok()?);
        let mut full = [0u8; 16];
        let len = name.len().checked_add(2)?;
        full.get_mut(..name.len())?.copy_from_slice(name);
        full.get_mut(name.len()..len)?.copy_from_slice(b".w");
        (w.is(full.get(..len)?, op::DTYPE_I8, &[table_rows, *h])).then_some(())?;
        full.get_mut(name.len()..len)?.copy_from_slice(b".m");
        (m.is(full.get(..len)?, op::DTYPE_MULTIPLIER, &[table_rows])).then_some(())?;
        let weight = i32::from(*w.cells.element(row, target.col)?.first()? as i8);
        let mult = Multiplier::from_le_bytes(m.cells.element(0, row)?.try_into().ok()?);
        Some(mult.apply(weight, 0))
    };
    match o.model.as_slice() {
        [w, m] => entry(w, m, b"emb", id),
        [word_w, word_m, pos_w, pos_m, type_w, type_m] => Some(
            entry(word_w, word_m, b"emb.word", id)?
                .saturating_add(entry(pos_w, pos_m, b"emb.pos", target.row)?)
                .saturating_add(entry(type_w, type_m, b"emb.type", 0)?),
        ),
        _ => None,
    }
}

/// `Logits` (llama's head): the final norm's row (the `RmsNorm` of the same layer just before,
/// one row, every cell) quantised by `quantize_max`, its int8 dot product with row `col` of the
/// tied `emb.w` table, scaled by the `head.m` entry `col`.
fn logits(target: &Target, o: &Openings<'_>) -> Option<i32> {
    let ([norm], [w, m], None) = (o.leaves.as_slice(), o.model.as_slice(), o.config) else {
        return None;
    };
    let (t, i) = (&target.header, &norm.leaf);
    let ([1, vocab], [1, h]) = (t.dims(), i.dims()) else { return None };
    (norm.index.checked_add(1) == Some(target.leaf)
        && i.op == op::RMS_NORM
        && i.step == t.step
        && i.layer == t.layer
        && i.dtype == op::DTYPE_I32
        && t.dtype == op::DTYPE_I32
        && w.is(b"emb.w", op::DTYPE_I8, &[*vocab, *h])
        && m.is(b"head.m", op::DTYPE_MULTIPLIER, &[*vocab]))
    .then_some(())?;
    let x = norm.cells.i32_row(0)?;
    let mut q = alloc::vec![0i8; x.len()];
    let max = fixed::quantize_max(&x, &mut q);
    let w_row: Vec<i8> = w.cells.row(target.col)?.iter().map(|e| e[0] as i8).collect();
    let mult = Multiplier::from_le_bytes(m.cells.element(0, target.col)?.try_into().ok()?);
    Some(mult.apply_scaled(attention::dot_i8(&q, &w_row), max))
}

/// `Scores` element `(row, j)`: the int8 dot product of query head `hq` of query row `i` and the
/// key of position `j` in that head's key/value head, each quantised by its maximum, scaled by
/// `attn.scale`. llama's scores are `[t, heads, p0 + t]` (row `i · heads + hq`; positions after
/// `p0 + i` are the causal mask's zeros, proven by the header and the config alone); BERT's are
/// `[heads, t, t]` (row `hq · t + i`). Openings: the `Query` leaf three back with the cells of
/// row `i`'s head slice, the `Key` leaf that wrote position `j` with its head slice (llama: the
/// prompt's row `j` in step 0, else row 0 of step `j - prompt + 1`, with the step-0 `Tokens`
/// leaf, header only, for the prompt's length; BERT: the `Key` two back, row `j`), the config
/// (`arch`) and the `attn.scale` entry.
fn scores(target: &Target, o: &Openings<'_>) -> Option<i32> {
    let config = o.config?;
    let t = &target.header;
    let [a, b, width] = t.dims() else { return None };
    let (row, j) = (target.row, target.col);
    let llama = match config.value(b"arch")? {
        op::ARCH_LLAMA => true,
        op::ARCH_BERT => false,
        _ => return None,
    };
    // (query row, query head, heads, query rows)
    let (b64, a64) = (u64::from(*b), u64::from(*a));
    let (i, hq, heads, rows) = if llama {
        (row.checked_div(b64)?, row.checked_rem(b64)?, *b, *a)
    } else {
        (row.checked_rem(b64)?, row.checked_div(b64)?, *a, *b)
    };
    let p0 = u64::from(width.checked_sub(rows)?);
    (t.dtype == op::DTYPE_I32 && t.layer >= 1 && (llama || p0 == 0) && a64 > 0).then_some(())?;
    if llama && j > p0.checked_add(i)? {
        return (o.leaves.is_empty() && o.model.is_empty()).then_some(0);
    }
    let ([scale], leaves) = (o.model.as_slice(), o.leaves.as_slice()) else { return None };
    let (query, key, key_row) = match (leaves, llama) {
        ([query, key, prompt], true) => {
            let [1, prompt_len] = prompt.leaf.dims() else { return None };
            (prompt.index == 0 && prompt.leaf.op == op::TOKENS && prompt.leaf.step == 0)
                .then_some(())?;
            // Step 0 wrote the prompt's positions, each later step one more.
            let (step, key_row) = match j.checked_sub(u64::from(*prompt_len)) {
                None => (0, j),
                Some(after) => (u32::try_from(after.checked_add(1)?).ok()?, 0),
            };
            (key.leaf.step == step).then_some(())?;
            (query, key, key_row)
        }
        ([query, key], false) => {
            (key.index.checked_add(2) == Some(target.leaf) && key.leaf.step == t.step)
                .then_some(())?;
            (query, key, j)
        }
        _ => return None,
    };
    let ([q_rows, h], [_, kvd]) = (query.leaf.dims(), key.leaf.dims()) else { return None };
    let in_layer =
        |l: &OpLeaf, code: u32| l.op == code && l.layer == t.layer && l.dtype == op::DTYPE_I32;
    (query.index.checked_add(3) == Some(target.leaf)
        && query.leaf.step == t.step
        && in_layer(&query.leaf, op::QUERY)
        && in_layer(&key.leaf, op::KEY)
        && *q_rows == rows
        && scale.is(b"attn.scale", op::DTYPE_MULTIPLIER, &[1]))
    .then_some(())?;
    let hd = h.checked_div(heads).filter(|hd| hd.checked_mul(heads) == Some(*h))?;
    let group = heads.checked_div(kvd.checked_div(hd)?)?;
    let hq = u32::try_from(hq).ok()?;
    let (q8, q_max) = head_slice(&query.cells, i, hq, hd)?;
    let (k8, k_max) = head_slice(&key.cells, key_row, hq.checked_div(group)?, hd)?;
    let mult = Multiplier::from_le_bytes(scale.cells.element(0, 0)?.try_into().ok()?);
    Some(attention::score(attention::dot_i8(&q8, &k8), q_max, k_max, mult))
}

/// Head `head` (`hd` wide) of row `row`, quantised by its maximum (`fixed::quantize_max`).
fn head_slice(cells: &Cells<'_>, row: u64, head: u32, hd: u32) -> Option<(Vec<i8>, u32)> {
    let first = u64::from(head.checked_mul(hd)?);
    let x = (first..first.checked_add(u64::from(hd))?)
        .map(|c| cells.i32_at(row, c))
        .collect::<Option<Vec<i32>>>()?;
    let mut q = alloc::vec![0i8; x.len()];
    let max = fixed::quantize_max(&x, &mut q);
    Some((q, max))
}

/// `Normalize` (BERT's head): the pooled row whole (the `Pool` leaf just before) scaled by its
/// inverse norm, an i16.
fn normalize(target: &Target, o: &Openings<'_>) -> Option<i16> {
    let ([pool], [], None) = (o.leaves.as_slice(), o.model.as_slice(), o.config) else {
        return None;
    };
    let (t, p) = (&target.header, &pool.leaf);
    (pool.index.checked_add(1) == Some(target.leaf)
        && p.op == op::POOL
        && (p.step, p.layer) == (t.step, t.layer)
        && p.dtype == op::DTYPE_I32
        && p.dims() == t.dims()
        && t.dtype == op::DTYPE_I16)
        .then_some(())?;
    let x = pool.cells.i32_row(0)?;
    let v = *x.get(usize::try_from(target.col).ok()?)?;
    Some(nonlin::normalize_element(v, nonlin::normalize_inv(&x)))
}

/// A copied element: a decode step's input token (`Tokens` at layer 0 of step `s ≥ 1`) is the
/// token step `s - 1` chose (its head's `Tokens`, the leaf just before); a decoder's `Output`
/// element `e` is the token step `e` chose; an encoder's `Output` element `c` is element `c` of
/// the `Normalize` leaf just before. Openings: that leaf with the element's cell.
fn copied(target: &Target, o: &Openings<'_>) -> Option<Vec<u8>> {
    let ([from], [], None) = (o.leaves.as_slice(), o.model.as_slice(), o.config) else {
        return None;
    };
    let (t, f) = (&target.header, &from.leaf);
    let just_before = from.index.checked_add(1) == Some(target.leaf);
    let chosen = |step: u64| {
        f.op == op::TOKENS
            && f.layer >= 1
            && u64::from(f.step) == step
            && f.dtype == op::DTYPE_U32
            && f.dims() == [1, 1]
    };
    let at = match (t.op, t.dtype) {
        (op::TOKENS, op::DTYPE_U32) if t.layer == 0 && t.dims() == [1, 1] => {
            (just_before && chosen(u64::from(t.step.checked_sub(1)?))).then_some((0, 0))
        }
        (op::OUTPUT, op::DTYPE_U32) => chosen(target.col).then_some((0, 0)),
        (op::OUTPUT, op::DTYPE_I16) => (just_before
            && f.op == op::NORMALIZE
            && f.dtype == op::DTYPE_I16
            && f.dims() == t.dims())
        .then_some((0, target.col)),
        _ => None,
    }?;
    from.cells.element(at.0, at.1).map(<[u8]>::to_vec)
}

/// The correct value of the target element, little endian, from the checked openings; `None`
/// when they are not the inputs the op reads.
pub fn recompute(target: &Target, o: &Openings<'_>) -> Option<Vec<u8>> {
    let value = match target.header.op {
        op::NORMALIZE => return Some(normalize(target, o)?.to_le_bytes().to_vec()),
        op::TOKENS | op::OUTPUT => return copied(target, o),
        op::SCORES => scores(target, o),
        op::EMBED => embed(target, o),
        op::LOGITS => logits(target, o),
        op::RESIDUAL => residual(target, o),
        op::ACTIVATION => activation(target, o),
        op::RMS_NORM => rms_norm(target, o),
        op::LAYER_NORM => layer_norm(target, o),
        // BERT's query and key are plain projections, llama's rotated ones.
        code if op::LINEAR_INPUTS.iter().any(|(c, ..)| *c == code) => {
            linear(target, o).or_else(|| rotated(target, o))
        }
        _ => None,
    }?;
    Some(value.to_le_bytes().to_vec())
}
