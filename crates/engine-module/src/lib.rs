//! `assay-engine-module`: the deterministic engine as the wasm32 module the verifier replays,
//! embedded at build time, and its hash. No runtime: the verifier runs [`WASM`] in wasmtime,
//! `deploy` registers models under [`engine_hash`].
//!
//! `build.rs` builds `crates/engine-wasm` for `wasm32-unknown-unknown` (release, simd128 on,
//! relaxed SIMD off, source paths remapped so the bytes do not depend on where the repository is
//! checked out) into `ASSAY_WASM_TARGET_DIR` (default `target/engine-wasm`).

use assay_engine::hash::{Hash, keccak};

/// The module bytes.
pub static WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/engine.wasm"));

/// Keccak-256 of [`WASM`]: the engine version a job result is defined by.
pub fn engine_hash() -> Hash {
    keccak(WASM)
}
