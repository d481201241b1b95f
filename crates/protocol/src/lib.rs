//! Assay protocol types for the off-chain crates (coordinator, worker, verifier, deploy).
//!
//! - [`bindings`]: the contracts' ABI, expanded from the same `contracts/interfaces/*.sol` files the
//!   contracts use, so the services and the chain cannot disagree on a selector or an event.
//! - [`math`]: the contracts' own draw, Merkle, record, share and honesty-condition code
//!   (`contracts/common`), so every draw the chain makes can be recomputed off-chain bit for bit.
//! - [`batch`]: building a batch of job records, its root and each record's proof.
//! - [`deployment`]: the manifest `deploy` writes (chain, block, contract addresses, models).
//! - [`wire`]: the worker ⇄ coordinator channel: frames, receipts and their signatures.

pub mod batch;
pub mod bindings;
pub mod deployment;
pub mod wire;

pub use assay_contract_common as math;
