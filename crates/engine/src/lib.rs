//! `assay-engine`: the deterministic, integer-only transformer inference engine.
//!
//! One `no_std` + `alloc` source compiled natively for workers and to `wasm32-unknown-unknown`
//! for the verifier's replay; with no float on the execution path, both give the same bits.
//!
//! Semantics (what every implementation, CPU, GPU or WASM, must reproduce bit for bit):
//! - Real-valued activations are i32 in Q12. Rounding is half away from zero; conversions
//!   saturate; accumulators are exact (i32 for int8 dots, i64/i128 for wider sums).
//! - Linear layers quantise each activation row per block of 32 channels to int8 with scale
//!   `max / 127`; weights are int8 per output channel with a Q16 ratio per 32-block (from 4-bit or
//!   float sources); `y = m · Σ_b dot_b · max_b · r_b >> 16`, one rounding ([`linear`]).
//! - Softmax reads `exp` from a 16-bit table and outputs u16 probabilities in Q16; layer and RMS
//!   norm use integer mean, variance and `rsqrt`; GELU and SiLU are 16-bit tables over
//!   `[-8, 8)` in Q12 with identity/zero tails; rotary embeddings use Q14 cos/sin tables.
//!   Tables and multipliers are part of the model blob, so the model id commits to them.
//! - Every op output becomes a [`trace`] leaf (its place, kind, dtype, shape and the Merkle root
//!   of its ≤ 1 KiB cells); the output hash covers the output tokens and embedding. The format
//!   and the model id's row-by-row commitment are specified in `crates/engine/TRACE.md`.
//!
//! Layout:
//! - [`fixed`], [`nonlin`] (from `assay-step`, the per-element definition the dispute contract
//!   shares): rounding shifts, fixed-point multipliers, int8 quantisation, isqrt/rsqrt; softmax
//!   (16-bit output), layer/RMS norm, 16-bit lookup tables (GELU, SiLU, exp).
//! - [`gemm`]: exact int8 GEMM.
//! - [`kernels`]: the [`kernels::Kernels`] seam the forward passes call (native parallelism and
//!   SIMD plug in there) and its [`kernels::Scalar`] reference.
//! - `x86` (x86-64 only): AVX2 / AVX-512 VNNI GEMM kernels and a four-way (AVX2) / eight-way
//!   (AVX-512) keccak, chosen at run time by a caller that can detect CPU features.
//! - [`linear`]: quantised linear layers.
//! - [`hash`], [`trace`]: keccak-256 cells, Merkle trees, the per-op execution trace.
//! - [`model`]: the model blob format and its row-by-row commitment (the model id).
//! - [`tokenizer`], [`bert`]: WordPiece and the BERT encoder (all-MiniLM-L6-v2).
//! - [`bpe`], [`chat`], [`llama`]: byte-level BPE (llama.cpp's `smollm` pre-tokenizer), the chat
//!   template and the llama decoder (SmolLM2-135M-Instruct).
//! - [`prng`]: integer PRNG and token selection.
//! - [`job`]: job inputs and outputs, running a job.
//! - [`ops`]: single-op replay from committed inputs (what a dispute re-executes).
#![no_std]
#![cfg_attr(not(test), deny(clippy::float_arithmetic))]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod bert;
pub mod bpe;
pub mod chat;
pub mod gemm;
pub mod hash;
pub mod job;
pub mod kernels;
pub mod linear;
pub mod llama;
pub mod model;
pub mod ops;
pub mod prng;
pub mod tokenizer;
pub mod trace;

pub use assay_step::{fixed, nonlin};
#[cfg(target_arch = "x86_64")]
pub mod x86;

/// Engine errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The model blob is malformed or does not match the architecture.
    #[error("model format: {0}")]
    Format(alloc::string::String),
    /// The job input is invalid for this model.
    #[error("invalid input: {0}")]
    Input(alloc::string::String),
    /// A job was run before a model was loaded.
    #[error("no model loaded")]
    NoModel,
    /// An op replay named an op kind the engine does not have.
    #[error("unknown op kind {0}")]
    UnknownOp(u32),
}

/// Engine result.
pub type Result<T, E = Error> = core::result::Result<T, E>;
