#![allow(clippy::arithmetic_side_effects)] // tests compute expectations freely
//! TestVM tests of the job market. The registry, staking, token and ArbSys are mocked at the ABI
//! level (`harness`); draws are recomputed with the published formulas from
//! `assay-contract-common`, exactly as an off-chain observer would.

mod batches;
mod claims;
mod harness;
mod lifecycle;
mod pairing;
mod sampling;
mod settlement;
