//! Verifier integration tests: native engine vs the WASM module in wasmtime (ops on random and
//! adversarial tensors, whole jobs), error reporting, and the command line.

mod cli;
mod differential;
mod errors;
mod support;
