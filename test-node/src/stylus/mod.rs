//! Stylus: on-chain program format, activation, the wasmtime runtime and the `vm_hooks` host
//! ABI.
//!
//! Gas model (an approximation of Nitro, see the crate README): one gas is 10 000 ink; wasm
//! operators are metered with wasmtime fuel of [`memory::INK_PER_FUEL`] ink each, priced from
//! Nitro's table for calls, branches, memory access and division; host functions charge
//! Nitro's per-call ink plus EIP-2929/2200 gas for the state they touch; entering a program
//! costs Nitro's `minInitGas` plus 1000 gas per initial page beyond two free ones; memory growth
//! costs 1000 gas a page.

pub(crate) mod api;
mod calls;
pub mod code;
mod env;
pub(crate) mod host;
mod math;
pub mod memory;
pub mod program;
pub(crate) mod runtime;
pub(crate) mod state;
