//! The worker's error type.

use assay_protocol::deployment::ManifestError;

use crate::key::KeyError;

/// Worker errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading, converting or checking a model failed.
    #[error(transparent)]
    Model(#[from] assay_convert::Error),
    /// The engine rejected the model or the input.
    #[error(transparent)]
    Engine(#[from] assay_engine::Error),
    /// The requested device is unknown or unavailable.
    #[error("device: {0}")]
    Device(String),
    /// The miner's key could not be loaded.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The deployment manifest could not be read or lacks a contract.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A chain call failed (RPC unreachable, wrong chain, reverted transaction).
    #[error("chain: {0}")]
    Chain(String),
    /// The miner is not ready on-chain (not staked, not serving a model): run `worker register`.
    #[error("{0}")]
    NotReady(String),
    /// The coordinator speaks another protocol or settles on another chain.
    #[error("coordinator: {0}")]
    Protocol(String),
    /// A command-line or configuration mistake.
    #[error("{0}")]
    Usage(String),
}

/// Results of the worker's library functions.
pub type Result<T, E = Error> = std::result::Result<T, E>;
