//! The error of every deployment step, below the modules that return it.

use std::path::PathBuf;

use alloy_primitives::Address;
use assay_chain::ChainError;
use assay_protocol::deployment::DeploymentError;

/// Errors of a deployment.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad configuration.
    #[error("{0}")]
    Config(String),
    /// The private key or keystore could not be read.
    #[error("deployer key: {0}")]
    Key(#[from] assay_chain::KeyError),
    /// The chain is not the one the manifest or configuration names.
    #[error(
        "wrong chain: {expected_from} is for chain id {expected}, but the RPC endpoint serves chain id {actual}"
    )]
    WrongChain {
        /// What names the expected chain (the manifest file or `--chain-id`).
        expected_from: String,
        /// Expected chain id.
        expected: u64,
        /// The endpoint's chain id.
        actual: u64,
    },
    /// The deployer has no ETH.
    #[error(
        "account {account} has 0 ETH on chain {chain_id}; fund it (on the test node or Nitro's dev node the dev account 0x3f1Eae7D46d88F08fc2F8ed27FCb2AB183EB2d0E is pre-funded)"
    )]
    Unfunded {
        /// The deployer.
        account: Address,
        /// The chain.
        chain_id: u64,
    },
    /// A contract's wasm file is missing.
    #[error("no wasm for {contract}: {path} does not exist; {hint}")]
    MissingWasm {
        /// Manifest name.
        contract: String,
        /// The expected file.
        path: PathBuf,
        /// How to build it.
        hint: String,
    },
    /// A contract's wasm file is not a valid module.
    #[error("{contract}: invalid wasm: {reason}")]
    InvalidWasm {
        /// Manifest name.
        contract: String,
        /// Cause.
        reason: String,
    },
    /// Binaryen's wasm-opt, which the contracts' on-chain code needs, is missing or failed.
    #[error("wasm-opt: {0}")]
    WasmOpt(String),
    /// Building the contracts failed.
    #[error("building the contracts: {0}")]
    Build(String),
    /// A program is over the decompressed wasm limit, which no fragmenting lifts.
    #[error(
        "{contract} is too large to deploy: {wasm_len} bytes of wasm, over the {limit}-byte limit of a Stylus program (even as a root program over fragments)"
    )]
    ProgramTooLarge {
        /// Manifest name.
        contract: String,
        /// Processed wasm size.
        wasm_len: usize,
        /// The limit.
        limit: usize,
    },
    /// A program needs more fragments than the chain allows (or the chain has none).
    #[error(
        "{contract} needs {needed} fragments of compressed code but the chain allows {allowed} (ArbOS 60 or later supports fragmented programs)"
    )]
    TooManyFragments {
        /// Manifest name.
        contract: String,
        /// Fragments needed.
        needed: usize,
        /// Fragments the chain allows.
        allowed: usize,
    },
    /// The StylusDeployer is not on this chain.
    #[error("no StylusDeployer at {0} on this chain (pass its address with --stylus-deployer)")]
    NoDeployer(Address),
    /// A contract belongs to another account, so it cannot be configured.
    #[error("{contract} at {address} is owned by {owner}, not by the deployer {deployer}")]
    NotOwner {
        /// Manifest name.
        contract: String,
        /// Its address.
        address: Address,
        /// Its owner.
        owner: Address,
        /// The deploying account.
        deployer: Address,
    },
    /// Parameters are malformed or unsafe.
    #[error("parameters: {0}")]
    Params(String),
    /// A model directory cannot be registered.
    #[error("model {name}: {detail}")]
    Model {
        /// The model's name.
        name: String,
        /// Cause.
        detail: String,
    },
    /// A chain call failed (a revert comes back named).
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// A deployment step's transaction failed.
    #[error("{step}: {source}")]
    Step {
        /// The step.
        step: String,
        /// Cause.
        source: Box<ChainError>,
    },
    /// The manifest could not be read or written.
    #[error(transparent)]
    Deployment(#[from] DeploymentError),
}
