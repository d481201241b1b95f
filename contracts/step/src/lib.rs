//! `assay-step`: the integer semantics of Assay's deterministic engine, written so that one output
//! element can be recomputed from its inputs alone. It is the single definition shared by the
//! engine (`crates/engine`, whose scalar kernels call it and whose native and wasm kernels must
//! equal it) and by the dispute contract's one-step prover, which recomputes the element a
//! dispute narrows down to (see `crates/engine/TRACE.md`).
//!
//! `no_std` without `alloc`, no SIMD, no floats: it builds with the contracts' pinned toolchain
//! for `wasm32-unknown-unknown` as it is for any native target.
//!
//! - [`fixed`]: rounding shifts, fixed-point multipliers, int8 quantisation, integer square roots.
//! - [`nonlin`]: softmax, layer and RMS norm, lookup-table activations.
//! - [`linear`]: one output element of a block-quantised linear layer.
//! - [`attention`]: rotary pairs, attention scores, context accumulators, gated activations.
//! - [`reduce`]: the choice of the next token (argmax, sampling's CDF walk) one term at a time.
//! - [`op`]: the op codes of trace leaves, and the residual sum.
//! - [`commit`]: cells, Merkle nodes and paths, op leaves and the trace root, over a keccak the
//!   caller passes in.
//!
//! Arithmetic follows the engine's documented ranges (activations are saturated i32 in Q12,
//! accumulators exact in i64/i128); this crate is the reference, so its plain arithmetic is the
//! definition rather than a checked approximation of it.
#![no_std]
#![cfg_attr(not(test), deny(clippy::float_arithmetic))]
#![allow(clippy::arithmetic_side_effects)]

#[cfg(test)]
extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod attention;
pub mod commit;
pub mod decide;
pub mod fixed;
pub mod linear;
pub mod nonlin;
pub mod op;
pub mod reduce;
pub mod schedule;
