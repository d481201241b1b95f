//! `assay-verifier`: the arbitrators' replay tool. It runs the deterministic engine's WASM module
//! (`assay-engine-module`: `crates/engine-wasm` built for wasm32 and embedded, with its hash) in
//! wasmtime configured for determinism, serving it weight chunks checked against the model root.
//!
//! Layout:
//! - [`runtime`]: wasmtime configuration, limits, the chunk server and the ABI calls.
//! - [`replay`]: whole-job replay from a job file.
//! - [`op`]: single-op replay from a JSON description.
//! - [`check`]: what the chain says about a signed receipt (`check-receipt`).
//! - [`diff`]: where two records' traces first differ (`diff`).
//! - [`arbitrate`]: the unattended arbitrator (`arbitrate`): checks asserted results, claims
//!   against wrong ones with a bond, plays the games, keeps its progress in SQLite.
//! - [`cli`]: the `verifier` command line.

pub mod arbitrate;
pub mod check;
pub mod cli;
pub mod diff;
pub mod op;
pub mod replay;
pub mod runtime;

/// Verifier errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The model directory holds another model than the job names.
    #[error("wrong model: the job names model {expected}, the directory holds {actual}")]
    WrongModel {
        /// Model id in the job.
        expected: alloy_primitives::B256,
        /// Model id of the directory.
        actual: alloy_primitives::B256,
    },
    /// The model directory is unreadable, tampered with or malformed.
    #[error(transparent)]
    Model(#[from] assay_protocol::model_dir::ModelDirError),
    /// The job file is not valid JSON of a job.
    #[error("job file: {0}")]
    JobFile(#[from] serde_json::Error),
    /// A chunk served to the module did not hash to its committed value.
    #[error("chunk {0} does not match the model root")]
    ChunkMismatch(u32),
    /// The replay ran out of fuel.
    #[error("out of fuel (the replay needs more than {0} units; raise --fuel)")]
    OutOfFuel(u64),
    /// The module tried to grow its memory past the limit.
    #[error("out of memory (the replay needs more than {0} bytes; raise --max-memory-mib)")]
    OutOfMemory(usize),
    /// The op replay named an op the engine does not have.
    #[error("unknown op: {0}")]
    UnknownOp(String),
    /// The engine rejected the model or the input.
    #[error("engine error (status {status}): {message}")]
    Engine {
        /// ABI status code.
        status: i32,
        /// The engine's message.
        message: String,
    },
    /// The op description is malformed.
    #[error("invalid op description: {0}")]
    BadOp(String),
    /// wasmtime failed (compilation, instantiation, a trap other than fuel or memory).
    #[error("wasm runtime: {0}")]
    Runtime(String),
    /// The receipt file is not JSON of a signed receipt.
    #[error("receipt: {0}")]
    BadReceipt(serde_json::Error),
    /// A chain call failed.
    #[error(transparent)]
    Chain(#[from] assay_chain::ChainError),
    /// The deployment file cannot be read.
    #[error(transparent)]
    Deployment(#[from] assay_protocol::deployment::DeploymentError),
    /// The record's model is not registered in the deployment's `ModelRegistry`.
    #[error("model {0} is not registered")]
    NotRegistered(alloy_primitives::B256),
    /// The record's model is registered for another engine than the one this verifier embeds:
    /// its replay here would not be the result the network checks.
    #[error("model {model} is registered for engine {registered}; this verifier runs {verifier}")]
    OtherEngine {
        /// The model.
        model: alloy_primitives::B256,
        /// The engine hash it is registered with.
        registered: alloy_primitives::B256,
        /// This verifier's engine hash.
        verifier: alloy_primitives::B256,
    },
    /// The arbitrator's key cannot be read.
    #[error(transparent)]
    Key(#[from] assay_chain::KeyError),
    /// The arbitrator's database failed.
    #[error("arbitrator database: {0}")]
    Store(String),
}

/// Verifier result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
