//! The op codes of trace leaves (`crates/engine/TRACE.md`): the engine's `trace::Op` takes its
//! discriminants from here, and the dispute contract matches leaf headers against them.

/// Token, position and type embedding sum (Q12).
pub const EMBED: u32 = 1;
/// Layer norm output (Q12).
pub const LAYER_NORM: u32 = 2;
/// RMS norm output (Q12).
pub const RMS_NORM: u32 = 3;
/// Query projection (Q12).
pub const QUERY: u32 = 4;
/// Key projection (Q12).
pub const KEY: u32 = 5;
/// Value projection (Q12).
pub const VALUE: u32 = 6;
/// Rotary embedding (Q12).
pub const ROPE: u32 = 7;
/// Scaled attention scores (Q12).
pub const SCORES: u32 = 8;
/// Attention probabilities (Q16 as u16).
pub const SOFTMAX: u32 = 9;
/// Attention context (Q12).
pub const CONTEXT: u32 = 10;
/// Attention output projection (Q12).
pub const ATTN_OUT: u32 = 11;
/// Residual sum (Q12).
pub const RESIDUAL: u32 = 12;
/// First feed-forward projection (Q12).
pub const FFN_UP: u32 = 13;
/// Lookup-table activation (Q12).
pub const ACTIVATION: u32 = 14;
/// Second feed-forward projection (Q12).
pub const FFN_DOWN: u32 = 15;
/// Mean pooling (Q12).
pub const POOL: u32 = 16;
/// Normalised embedding (Q15 as i16).
pub const NORMALIZE: u32 = 17;
/// Vocabulary logits.
pub const LOGITS: u32 = 18;
/// Gate projection of a gated feed-forward block (Q12).
pub const FFN_GATE: u32 = 19;
/// Token ids.
pub const TOKENS: u32 = 20;
/// The job's output, alone in the last step.
pub const OUTPUT: u32 = 21;

/// The config's `arch` of BERT encoders.
pub const ARCH_BERT: u64 = 1;
/// The config's `arch` of llama decoders.
pub const ARCH_LLAMA: u64 = 2;

/// Element type tag of i32 outputs.
pub const DTYPE_I32: u8 = 5;
/// Element type tag of u32 outputs (token ids).
pub const DTYPE_U32: u8 = 6;
/// Element type tag of u16 outputs (probabilities).
pub const DTYPE_U16: u8 = 4;
/// Element type tag of i16 outputs (an embedding).
pub const DTYPE_I16: u8 = 3;
/// Element type tag of i8 model tensors (quantised weights).
pub const DTYPE_I8: u8 = 1;
/// Element type tag of per-row multiplier model tensors (`fixed::Multiplier`, 5 bytes).
pub const DTYPE_MULTIPLIER: u8 = 10;

/// A residual sum's element: the stream plus the block's delta, saturated (the engine's
/// `Residual` op).
pub fn residual(stream: i32, delta: i32) -> i32 {
    stream.saturating_add(delta)
}

/// Where a residual sum reads its stream, by the op of its delta (the leaf just before the sum):
/// `(delta op, leaves from the stream to the sum, stream ops, op of the leaf after the stream)`.
/// Llama: `Embed|Residual, RmsNorm, … AttnOut, Residual` and `Residual, RmsNorm, … FfnDown,
/// Residual`; BERT: `LayerNorm, Query, … AttnOut, Residual` and `LayerNorm, FfnUp, Activation,
/// FfnDown, Residual`. In a trace of either model exactly one entry matches each sum.
pub const RESIDUAL_STREAMS: [(u32, u64, &[u32], u32); 4] = [
    (ATTN_OUT, 9, &[EMBED, RESIDUAL], RMS_NORM),
    (FFN_DOWN, 6, &[RESIDUAL], RMS_NORM),
    (ATTN_OUT, 8, &[LAYER_NORM], QUERY),
    (FFN_DOWN, 4, &[LAYER_NORM], FFN_UP),
];

/// Whether a residual sum with this delta op reads the stream `distance` leaves back, of op
/// `stream`, followed by a leaf of op `after` ([`RESIDUAL_STREAMS`]).
pub fn residual_stream(delta: u32, distance: u64, stream: u32, after: u32) -> bool {
    RESIDUAL_STREAMS.iter().any(|(d, k, streams, a)| {
        *d == delta && *k == distance && streams.contains(&stream) && *a == after
    })
}

/// llama's rotated projections: `(op, leaves back, input op, weights)` as in [`LINEAR_INPUTS`];
/// the output pair `(2i, 2i + 1)` of the linear layer is rotated by the `rope.cos`/`rope.sin`
/// angle of the row's position and the pair's index within its head.
pub const ROTARY_INPUTS: [(u32, u64, u32, &str); 2] =
    [(QUERY, 1, RMS_NORM, "q"), (KEY, 2, RMS_NORM, "k")];

/// Where a linear layer's input is, by the layer's op: `(op, leaves back, input op, weights)`,
/// the weights being the model's `l{layer - 1}.{weights}.{w,m,r,b}` tensors. In a trace of either
/// model exactly one entry matches each layer. BERT's query and key are here; llama's, rotated
/// after the projection, are [`ROTARY_INPUTS`] (an op counts as decided only when every model's
/// variant of it is: a game that reaches an op nobody can prove must end without a verdict, not
/// against the defender's clock).
pub const LINEAR_INPUTS: [(u32, u64, u32, &str); 9] = [
    (QUERY, 1, LAYER_NORM, "q"),
    (KEY, 2, LAYER_NORM, "k"),
    (VALUE, 3, LAYER_NORM, "v"),
    (VALUE, 3, RMS_NORM, "v"),
    (ATTN_OUT, 1, CONTEXT, "o"),
    (FFN_GATE, 1, RMS_NORM, "gate"),
    (FFN_UP, 2, RMS_NORM, "up"),
    (FFN_UP, 1, LAYER_NORM, "up"),
    (FFN_DOWN, 1, ACTIVATION, "down"),
];
