//! `assay-worker`: the miner's binary. For now it converts published weights into the engine's
//! model format and runs jobs natively on the CPU, printing job records that `verifier replay`
//! reproduces bit for bit.
//!
//! Layout:
//! - [`kernels`]: the engine's kernels parallelised over output channels with rayon.
//! - `float_gemm` (features `candle`, `cuda`): exact int8 GEMMs through candle's f32 matmul in
//!   K-chunks of at most 1024, the route for GPUs.
//! - [`cli`]: the `worker` command line (`convert`, `infer`).

pub mod cli;
#[cfg(feature = "candle")]
pub mod float_gemm;
pub mod kernels;
