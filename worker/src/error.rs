//! The worker's error type.

use assay_protocol::{deployment::DeploymentError, model_dir::ModelDirError};

use assay_chain::{ChainError, KeyError};

/// Worker errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Converting published weights failed.
    #[error(transparent)]
    Convert(#[from] assay_convert::Error),
    /// A model directory is unreadable, tampered with or malformed.
    #[error(transparent)]
    Model(#[from] ModelDirError),
    /// The engine rejected the model or the input.
    #[error(transparent)]
    Engine(#[from] assay_engine::Error),
    /// The requested device is unknown or unavailable.
    #[error("device: {0}")]
    Device(String),
    /// The miner's key could not be loaded.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The deployment file could not be read or lacks a contract.
    #[error(transparent)]
    Deployment(#[from] DeploymentError),
    /// A chain call failed (RPC unreachable, wrong chain, reverted transaction).
    #[error("chain: {0}")]
    Chain(#[from] ChainError),
    /// A dispute game player could not be set up.
    #[error(transparent)]
    Play(#[from] assay_player::PlayError),
    /// The chain's state does not allow a registration step (an unfunded key, an unknown
    /// model, a key registered in another role).
    #[error("{0}")]
    Refused(String),
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
