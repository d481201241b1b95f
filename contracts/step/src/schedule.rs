//! The schedule: what leaf `i` of a trace must be, given the agreed leaves before it and the
//! model's config (`crates/engine/TRACE.md`, "Schedule"). A game whose first differing leaves
//! have different headers (or of which one trace has no leaf `i`) is decided by which side's
//! header is the schedule's. Where the schedule depends on what the chain does not know it names
//! both candidates (whether the head samples: the job's seed; whether generation stops after a
//! token that is not the end of turn: the job's `max_tokens`), and the prompt's length (leaf 0,
//! the tokenizer's) is undecided.

use crate::{commit::OpLeaf, op};

/// What leaf `i` must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// A leaf with this header (its `cells_root` is zero).
    Leaf(OpLeaf),
    /// No leaf: the trace ended with its `Output`.
    End,
    /// One of two headers, as what the chain does not know decides.
    Either(OpLeaf, OpLeaf),
    /// The chain cannot tell (the prompt's tokens).
    Undecided,
}

/// The model's shape, as its config leaf gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// A llama decoder (else a BERT encoder).
    pub llama: bool,
    /// Blocks.
    pub layers: u32,
    /// Hidden width.
    pub hidden: u32,
    /// Query heads.
    pub heads: u32,
    /// Width of the keys and values (`hidden` in BERT).
    pub kv_width: u32,
    /// Feed-forward width.
    pub ffn: u32,
    /// Vocabulary.
    pub vocab: u32,
    /// The end-of-turn token (llama).
    pub eos: u32,
}

/// The ops of one block, in order (`TRACE.md`).
const LLAMA_BLOCK: [u32; 15] = [
    op::RMS_NORM,
    op::QUERY,
    op::KEY,
    op::VALUE,
    op::SCORES,
    op::SOFTMAX,
    op::CONTEXT,
    op::ATTN_OUT,
    op::RESIDUAL,
    op::RMS_NORM,
    op::FFN_GATE,
    op::FFN_UP,
    op::ACTIVATION,
    op::FFN_DOWN,
    op::RESIDUAL,
];
const BERT_BLOCK: [u32; 14] = [
    op::QUERY,
    op::KEY,
    op::VALUE,
    op::SCORES,
    op::SOFTMAX,
    op::CONTEXT,
    op::ATTN_OUT,
    op::RESIDUAL,
    op::LAYER_NORM,
    op::FFN_UP,
    op::ACTIVATION,
    op::FFN_DOWN,
    op::RESIDUAL,
    op::LAYER_NORM,
];

/// A header: `(step, layer, op, dtype)` and dims.
fn header(place: (u32, u32, u32), dtype: u8, dims: &[u32]) -> Option<OpLeaf> {
    let mut all = [0u32; crate::commit::MAX_RANK];
    all.get_mut(..dims.len())?.copy_from_slice(dims);
    let (step, layer, op) = place;
    Some(OpLeaf { step, layer, op, dtype, rank: dims.len() as u8, dims: all, cells_root: [0; 32] })
}

/// Leaf `i`'s header from the agreed leaves before it: `back` holds leaves `i − 1`, `i − 2` and
/// `i − 3` (as many as exist), `prompt` is leaf 0 (the prompt's `Tokens`) and `chosen` the token
/// leaf `i − 1` holds when it is the head's choice.
pub fn next(shape: &Shape, prompt: &OpLeaf, back: &[OpLeaf], chosen: Option<u32>) -> Option<Next> {
    let prev = back.first()?;
    let [1, prompt_len] = prompt.dims() else { return None };
    let (s, l) = (prev.step, prev.layer);
    // Rows of step `s` and the positions cached before it.
    let t = if s == 0 { *prompt_len } else { 1 };
    let p0 = if s == 0 { 0 } else { prompt_len.checked_add(s)?.checked_sub(1)? };
    let (h, f, kvd, nh, v) = (shape.hidden, shape.ffn, shape.kv_width, shape.heads, shape.vocab);
    let head = shape.layers.checked_add(1)?;
    let block_op = |layer: u32, code: u32| -> Option<OpLeaf> {
        let scores: [u32; 3] = if shape.llama { [t, nh, p0.checked_add(t)?] } else { [nh, t, t] };
        let (dtype, dims): (u8, &[u32]) = match code {
            op::KEY | op::VALUE => (op::DTYPE_I32, &[t, kvd]),
            op::SCORES => (op::DTYPE_I32, &scores),
            op::SOFTMAX => (op::DTYPE_U16, &scores),
            op::FFN_GATE | op::FFN_UP | op::ACTIVATION => (op::DTYPE_I32, &[t, f]),
            _ => (op::DTYPE_I32, &[t, h]),
        };
        header((s, layer, code), dtype, dims)
    };
    let block: &[u32] = if shape.llama { &LLAMA_BLOCK } else { &BERT_BLOCK };
    let leaf = |place: (u32, u32, u32), dtype: u8, dims: &[u32]| {
        header(place, dtype, dims).map(Next::Leaf)
    };
    match (l, prev.op) {
        (_, op::OUTPUT) => Some(Next::End),
        (0, op::TOKENS) => leaf((s, 0, op::EMBED), op::DTYPE_I32, &[t, h]),
        (0, op::EMBED) if shape.llama => block_op(1, block[0]).map(Next::Leaf),
        (0, op::EMBED) => leaf((s, 0, op::LAYER_NORM), op::DTYPE_I32, &[t, h]),
        (0, op::LAYER_NORM) => block_op(1, block[0]).map(Next::Leaf),
        (l, code) if l >= 1 && l <= shape.layers => {
            // Where the previous leaf is in its block: the ops repeated in a block (the norms,
            // the residual sums) are told apart by the leaves before them.
            let at = position(block, code, back, l)?;
            match block.get(at.checked_add(1)?) {
                Some(next) => block_op(l, *next).map(Next::Leaf),
                None if l < shape.layers => block_op(l.checked_add(1)?, block[0]).map(Next::Leaf),
                None if shape.llama => leaf((s, head, op::RMS_NORM), op::DTYPE_I32, &[1, h]),
                None => leaf((s, head, op::POOL), op::DTYPE_I32, &[1, h]),
            }
        }
        (l, code) if l == head => match (code, shape.llama) {
            (op::RMS_NORM, true) => leaf((s, head, op::LOGITS), op::DTYPE_I32, &[1, v]),
            // Greedy (the choice) or sampled (a softmax first): the job's seed decides.
            (op::LOGITS, true) => Some(Next::Either(
                header((s, head, op::SOFTMAX), op::DTYPE_U16, &[1, v])?,
                header((s, head, op::TOKENS), op::DTYPE_U32, &[1, 1])?,
            )),
            (op::SOFTMAX, true) => leaf((s, head, op::TOKENS), op::DTYPE_U32, &[1, 1]),
            (op::TOKENS, true) if chosen? == shape.eos => {
                leaf((s.checked_add(1)?, 0, op::OUTPUT), op::DTYPE_U32, &[1, s])
            }
            // Another step, or the output once `max_tokens` is reached: the job decides.
            (op::TOKENS, true) => {
                let next = s.checked_add(1)?;
                Some(Next::Either(
                    header((next, 0, op::TOKENS), op::DTYPE_U32, &[1, 1])?,
                    header((next, 0, op::OUTPUT), op::DTYPE_U32, &[1, next])?,
                ))
            }
            (op::POOL, false) => leaf((s, head, op::NORMALIZE), op::DTYPE_I16, &[1, h]),
            (op::NORMALIZE, false) => {
                leaf((s.checked_add(1)?, 0, op::OUTPUT), op::DTYPE_I16, &[1, h])
            }
            _ => None,
        },
        _ => None,
    }
}

/// The index in `block` of the previous leaf (`back[0]`, of op `code`, in layer `l`).
fn position(block: &[u32], code: u32, back: &[OpLeaf], l: u32) -> Option<usize> {
    let mut at = block.iter().enumerate().filter(|(_, c)| **c == code).map(|(i, _)| i);
    let first = at.next()?;
    let Some(second) = at.next() else { return Some(first) };
    // A repeated op: the one whose predecessors in the block match the leaves before it.
    let fits = |i: usize| {
        (1..=2).all(|k| match (i.checked_sub(k).and_then(|j| block.get(j)), back.get(k)) {
            (Some(want), Some(got)) => got.op == *want && got.layer == l,
            // Before the block's first op: the previous block or the embedding.
            (None, Some(got)) => got.layer < l,
            (_, None) => true,
        })
    };
    match (fits(first), fits(second)) {
        (true, false) => Some(first),
        (false, true) => Some(second),
        _ => None,
    }
}
