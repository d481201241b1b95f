//! `assay-worker`: the miner's binary. For now it converts published weights into the engine's
//! model format and runs jobs natively on the CPU, printing job records that `verifier replay`
//! reproduces bit for bit.
//!
//! Layout:
//! - [`kernels`]: the engine's kernels parallelised over output channels with rayon.
//! - [`cli`]: the `worker` command line (`convert`, `infer`).

pub mod cli;
pub mod kernels;
