//! Assay protocol types: the one layer of types the off-chain crates (coordinator, worker,
//! verifier, deploy, convert) share. It sits on the engine's public API and the contracts'
//! `common` crate, and below everything else.
//!
//! - [`job`]: a job's spec, its output and output hash, and the job file replays read.
//! - [`model_dir`]: model directories and their identity (manifest, chunk hashes, model id).
//! - [`bindings`]: the contracts' ABI, expanded from the same `contracts/interfaces/*.sol` files the
//!   contracts use, so the services and the chain cannot disagree on a selector or an event.
//! - [`math`]: the contracts' own draw, Merkle, record, share and honesty-condition code
//!   (`contracts/common`), so every draw the chain makes can be recomputed off-chain bit for bit.
//! - [`codes`]: the contracts' status, state and role codes as enums (from `contracts/common`).
//! - [`batch`]: building a batch of job records, its root and each record's proof.
//! - [`deployment`]: the deployment file `deploy` writes (chain, block, contract addresses, models).
//! - [`game`]: one side of a dispute game: what its trace answers in each phase.
//! - [`published`]: what a coordinator publishes for arbitrators (disputed jobs, batch records
//!   with proofs).
//! - [`wire`]: the worker ⇄ coordinator channel: frames, receipts and their signatures.

pub mod batch;
pub mod bindings;
pub mod deployment;
pub mod game;
pub mod job;
pub mod model_dir;
pub mod published;
pub mod wire;

pub use assay_contract_common as math;
pub use assay_contract_common::codes;
