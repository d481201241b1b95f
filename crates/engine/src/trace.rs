//! Execution trace: every op's output is hashed into a leaf; leaves group into per-layer roots,
//! layers into per-step roots (a step is one forward pass: the whole input for an encoder, one
//! token for a decoder, KV-cache rows included as ops), and the steps plus the output hash into
//! the trace root. Layer and step roots are domain-tagged with their index and size, so the
//! grouping is committed too.

use alloc::vec::Vec;

use crate::hash::{BatchHasher, Element, Hash, keccak, leaf_preimage, merkle_root, tensor_leaf};

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
    /// With a batch hasher, op outputs are encoded into `pending`, with the place of their leaf
    /// (layer within the step, op) in `pending_at`, and hashed together when the step closes (or
    /// a layer closes with [`FLUSH_BYTES`] pending).
    batch: Option<BatchHasher>,
    pending: Vec<Vec<u8>>,
    pending_at: Vec<(usize, usize)>,
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

    /// An empty trace that hashes a step's leaves in one call to `batch` (when given) as the
    /// step closes, instead of each as it is recorded. The leaves are the same.
    pub fn with_batch_hasher(batch: Option<BatchHasher>) -> Self {
        Self { batch, ..Self::default() }
    }

    /// Records the output of one op.
    pub fn op<T: Element>(&mut self, op: Op, dims: &[u32], data: &[T]) {
        if self.batch.is_some() {
            let pre = leaf_preimage(op as u32, dims, data);
            self.pending_bytes += pre.len();
            self.pending.push(pre);
            self.pending_at.push((self.step.len(), self.layer.len()));
            self.layer.push([0; 32]);
        } else {
            self.layer.push(tensor_leaf(op as u32, dims, data));
        }
    }

    /// Closes the current layer (the embedding and the head count as layers too).
    pub fn end_layer(&mut self) {
        let layer = core::mem::take(&mut self.layer);
        self.step.push(layer);
        if self.pending_bytes >= FLUSH_BYTES {
            self.flush();
        }
    }

    /// Closes the current step.
    pub fn end_step(&mut self) {
        if !self.layer.is_empty() {
            self.end_layer();
        }
        self.flush();
        let step = core::mem::take(&mut self.step);
        self.steps.push(step);
    }

    /// Hashes the pending leaves (all in closed layers of the current step).
    fn flush(&mut self) {
        let Some(batch) = self.batch else { return };
        if self.pending.is_empty() {
            return;
        }
        let mut leaves = alloc::vec![[0u8; 32]; self.pending.len()];
        batch(&self.pending, &mut leaves);
        for (&(layer, op), leaf) in self.pending_at.iter().zip(leaves) {
            self.step[layer][op] = leaf;
        }
        self.pending.clear();
        self.pending_at.clear();
        self.pending_bytes = 0;
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
        let mut batched = Trace::with_batch_hasher(Some(crate::hash::keccak_batch));
        batched.op(Op::Embed, &[1], &[1i32]);
        batched.end_layer();
        batched.op(Op::Key, &[1], &[2i32]);
        batched.op(Op::Value, &[1], &[3i32]);
        batched.end_step();
        batched.op(Op::Logits, &[1], &[4i32]);
        batched.end_step();
        assert_eq!(batched.leaves(), t.leaves());
        assert_eq!(batched.root(&[5; 32]), t.root(&[5; 32]));
        // A layer past the flush threshold is hashed before the step closes.
        let big: Vec<i32> = (0..FLUSH_BYTES as i32 / 4 + 1).collect();
        let (mut a, mut b) =
            (Trace::new(), Trace::with_batch_hasher(Some(crate::hash::keccak_batch)));
        for t in [&mut a, &mut b] {
            t.op(Op::FfnUp, &[big.len() as u32], &big);
            t.end_layer();
            t.op(Op::Key, &[1], &[2i32]);
            t.end_step();
        }
        assert_eq!(a.leaves(), b.leaves());
        assert_ne!(run(2, true), run(3, true));
        assert_ne!(run(2, true), run(2, false));
        assert_eq!(run(2, true), run(2, true));
    }
}
