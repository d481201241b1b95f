//! Pure protocol math shared by the Assay Stylus contracts and the off-chain services.
//!
//! Everything here is deterministic integer arithmetic over `alloy-primitives` types, `no_std`, and
//! free of host calls, so the contracts, the coordinator and any observer compute the same draws,
//! roots and share amounts bit for bit.
//!
//! - [`codes`]: the `uint8` status, state and role codes the contracts store, as enums.
//! - [`draw`]: stake-weighted selection and the challenge coin, from a seed nobody controls alone.
//! - [`merkle`]: commutative-keccak Merkle roots and proofs (batched job records).
//! - [`shares`]: pro-rata stake-pool accounting (delegation, rewards, slashes).
//! - [`records`]: hashes committing to job records, validator commitments and epoch seeds.
//! - [`honesty`]: the Proof-of-Sampling safety inequality `p * (1 - r^n) * (R_A + S) > C`.
//! - [`wide`]: compact 256-bit remainder and small-divisor division (no `ruint` division code).
#![no_std]

extern crate alloc;

pub mod codes;
pub mod draw;
pub mod honesty;
pub mod merkle;
pub mod records;
pub mod shares;
pub mod wide;

/// Fixed-point scale for probabilities and fractions: parts per million.
pub const PPM: u32 = 1_000_000;
