//! Execution trace: every op's output is hashed into a leaf; leaves group into per-layer roots,
//! layers into per-step roots (a step is one forward pass: the whole input for an encoder, one
//! token for a decoder, KV-cache rows included as ops), and the steps plus the output hash into
//! the trace root. Layer and step roots are domain-tagged with their index and size, so the
//! grouping is committed too.

use alloc::vec::Vec;

use crate::hash::{Element, Hash, keccak, merkle_root, tensor_leaf};

/// Identifies the kind of an op in a trace leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Op {
    /// Token, position and type embedding sum (Q12).
    Embed = 1,
    /// Layer norm output (Q12).
    LayerNorm = 2,
    /// RMS norm output (Q12).
    RmsNorm = 3,
    /// Query projection (Q12).
    Query = 4,
    /// Key projection (Q12), or the key row written to the KV cache.
    Key = 5,
    /// Value projection (Q12), or the value row written to the KV cache.
    Value = 6,
    /// Rotary embedding applied to queries and keys (Q12).
    Rope = 7,
    /// Scaled attention scores (Q12).
    Scores = 8,
    /// Attention probabilities (Q16 as u16).
    Softmax = 9,
    /// Attention context, probabilities times values (Q12).
    Context = 10,
    /// Attention output projection (Q12).
    AttnOut = 11,
    /// Residual sum (Q12).
    Residual = 12,
    /// First feed-forward projection (Q12).
    FfnUp = 13,
    /// Activation through a lookup table (Q12).
    Activation = 14,
    /// Second feed-forward projection (Q12).
    FfnDown = 15,
    /// Mean pooling (Q12).
    Pool = 16,
    /// Normalised embedding (Q15 as i16).
    Normalize = 17,
    /// Vocabulary logits.
    Logits = 18,
    /// Gate projection of a gated feed-forward block (Q12).
    FfnGate = 19,
    /// Token ids of the input.
    Tokens = 20,
}

/// Collects the leaves of a run and computes its roots.
#[derive(Debug, Default, Clone)]
pub struct Trace {
    steps: Vec<Vec<Vec<Hash>>>,
    layer: Vec<Hash>,
    step: Vec<Vec<Hash>>,
}

impl Trace {
    /// An empty trace.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the output of one op.
    pub fn op<T: Element>(&mut self, op: Op, dims: &[u32], data: &[T]) {
        self.layer.push(tensor_leaf(op as u32, dims, data));
    }

    /// Closes the current layer (the embedding and the head count as layers too).
    pub fn end_layer(&mut self) {
        let layer = core::mem::take(&mut self.layer);
        self.step.push(layer);
    }

    /// Closes the current step.
    pub fn end_step(&mut self) {
        if !self.layer.is_empty() {
            self.end_layer();
        }
        let step = core::mem::take(&mut self.step);
        self.steps.push(step);
    }

    /// Op leaves, grouped by step and layer.
    pub fn leaves(&self) -> &[Vec<Vec<Hash>>] {
        &self.steps
    }

    /// Root of one layer: `keccak(0x02 ‖ layer u32 ‖ n_ops u32 ‖ merkle(op leaves))`.
    pub fn layer_root(&self, step: usize, layer: usize) -> Hash {
        let ops = &self.steps[step][layer];
        tagged(2, layer, ops.len(), &merkle_root(ops))
    }

    /// Root of one step: `keccak(0x03 ‖ step u32 ‖ n_layers u32 ‖ merkle(layer roots))`.
    pub fn step_root(&self, step: usize) -> Hash {
        let layers: Vec<Hash> =
            (0..self.steps[step].len()).map(|l| self.layer_root(step, l)).collect();
        tagged(3, step, layers.len(), &merkle_root(&layers))
    }

    /// The trace root: Merkle root of the step roots followed by the output hash.
    pub fn root(&self, output_hash: &Hash) -> Hash {
        let mut roots: Vec<Hash> = (0..self.steps.len()).map(|s| self.step_root(s)).collect();
        roots.push(*output_hash);
        merkle_root(&roots)
    }
}

fn tagged(tag: u8, index: usize, count: usize, root: &Hash) -> Hash {
    let mut b = [0u8; 41];
    b[0] = tag;
    b[1..5].copy_from_slice(&(index as u32).to_le_bytes());
    b[5..9].copy_from_slice(&(count as u32).to_le_bytes());
    b[9..].copy_from_slice(root);
    keccak(&b)
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;

    #[test]
    fn roots_depend_on_every_op_and_on_grouping() {
        let run = |x: i32, split: bool| {
            let mut t = Trace::new();
            t.op(Op::Embed, &[2], &[1i32, x]);
            if split {
                t.end_layer();
            }
            t.op(Op::LayerNorm, &[1], &[3i32]);
            t.end_step();
            t.root(&[9; 32])
        };
        let mut t = Trace::new();
        t.op(Op::Embed, &[1], &[1i32]);
        t.end_layer();
        t.op(Op::Key, &[1], &[2i32]);
        t.op(Op::Value, &[1], &[3i32]);
        t.end_step();
        t.op(Op::Logits, &[1], &[4i32]);
        t.end_step();
        let shape: Vec<Vec<usize>> =
            t.leaves().iter().map(|s| s.iter().map(Vec::len).collect()).collect();
        assert_eq!(shape, [vec![1, 2], vec![1]]);
        assert_eq!(t.leaves()[0][1][0], tensor_leaf(Op::Key as u32, &[1], &[2i32]));
        assert_ne!(run(2, true), run(3, true));
        assert_ne!(run(2, true), run(2, false));
        assert_eq!(run(2, true), run(2, true));
    }
}
