//! `assay-chain`: the one chain client the worker, the coordinator and `deploy` share.
//!
//! - [`Client`]: an HTTP provider for one chain, signing with one key (or none, for views):
//!   [`Client::view`], and [`Client::send`], which simulates a call first (a revert is reported
//!   by name and costs no gas), signs with a cached nonce (sends from one key may run at once)
//!   and waits at most [`Client::mined_within`] for the receipt; [`Client::logs`] reads logs
//!   over any block range.
//! - [`Revert`]: the named Solidity error of any Assay contract, Arbitrum precompile or the
//!   Stylus deployer, decoded from revert data, so callers match on errors, never on text.
//! - [`key`]: signing keys from a hex file, an encrypted keystore or the environment.

mod client;
pub mod key;
mod revert;

pub use client::{ChainError, Client, DEFAULT_MINED_WITHIN, LOG_RANGE};
pub use key::{Key, KeyError};
pub use revert::Revert;
