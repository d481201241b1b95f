//! The engine's WASM module, embedded at build time (see `build.rs`).

use assay_engine::hash::{Hash, keccak};

/// The module bytes.
pub static ENGINE_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/engine.wasm"));

/// Keccak-256 of the module: the engine version a job result is defined by.
pub fn engine_hash() -> Hash {
    keccak(ENGINE_WASM)
}
