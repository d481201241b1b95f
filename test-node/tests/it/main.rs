//! Integration tests: a node started in-process with `spawn`, driven over real HTTP and
//! WebSocket JSON-RPC by alloy's provider and raw requests.

mod arbitrum;
mod assay_contracts;
mod cargo_stylus;
mod cheats;
mod common;
mod contracts;
mod errors;
mod retryables;
mod stylus;
mod tools;
mod transactions;
