//! `assay-worker`: the miner's binary. It converts published weights into the engine's model
//! format, runs jobs natively (printing job records that `verifier replay` reproduces bit for
//! bit), and serves a coordinator: executing jobs, signing receipts, validating others' results
//! with commit-reveal.
//!
//! Layout:
//! - [`runner`]: `worker run`, the networked miner ([`runner::run`] takes a [`runner::Config`] and
//!   a shutdown token, so tests run workers in-process).
//! - [`exec`]: loaded models, one job's output and signed receipt, validator commitments, the
//!   capability benchmark.
//! - `delta`: incremental UTF-8 decoding of generated tokens into the text deltas an asserter
//!   streams.
//! - [`chain`]: the on-chain readiness check and `worker register`.
//! - [`games`]: the dispute games the worker is a party to, found on chain and played from its
//!   own replays ([`assay_player`]); [`inputs`]: the inputs of the jobs it ran, kept on disk for
//!   those replays.
//! - `backoff`: reconnection delays.
//! - [`kernels`]: the engine's kernels (the widest x86-64 level, detected at run time)
//!   parallelised over output channels with rayon; trace leaves hashed on the pool.
//! - `float_gemm` (features `candle`, `cuda`): exact int8 GEMMs through candle's f32 matmul in
//!   K-chunks of at most 1024, the route for GPUs.
//! - [`cli`]: the `worker` command line (`convert`, `infer`, `run`, `register`).

mod backoff;
pub mod chain;
pub mod cli;
mod delta;
pub mod error;
pub mod exec;
#[cfg(feature = "candle")]
pub mod float_gemm;
pub mod games;
pub mod inputs;
pub mod kernels;
pub mod runner;

pub use error::{Error, Result};
