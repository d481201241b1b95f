//! What every host function shares: the per-invocation [`HostState`] of a program (the EVM
//! behind it, its arguments and output, the storage cache, the memory limits), the context a
//! host function gets, and Nitro's ink prices of a host call.

use std::collections::BTreeMap;

use alloy_primitives::{Bytes, U256};
use wasmtime::{Caller, Error, ResourceLimiter, Result};

use super::api::{EvmApi, FrameEnv};

/// What a host function gets: the program's store, with its [`HostState`].
pub(crate) type Ctx<'a> = Caller<'a, HostState>;

/// Nitro's base ink per host call.
pub(super) const HOSTIO_INK: u64 = 8_400;
/// Ink for host calls that reach into the EVM.
pub(super) const EVM_API_INK: u64 = 59_673;
/// Nitro's page limit (`StylusParams.PageLimit`): the most pages a program's initial memory may
/// have at activation, and the most a transaction's programs may open.
pub(crate) const PAGE_LIMIT: u64 = 128;
/// Size of a wasm page.
const PAGE_SIZE: usize = 65_536;

/// Why a program stopped early (`exit_early`).
#[derive(Debug, thiserror::Error)]
#[error("exit_early({0})")]
pub(crate) struct ExitEarly(pub(crate) u32);

/// Memory growth limits; also counts pages grown so they can be charged.
#[derive(Debug, Default)]
pub(crate) struct Limits {
    pub(crate) grown_pages: u64,
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> Result<bool> {
        if desired / PAGE_SIZE > PAGE_LIMIT as usize {
            return Ok(false);
        }
        // Creating the memory (current = 0) is paid by the call's entry cost, not as growth.
        if current > 0 {
            self.grown_pages += ((desired - current) / PAGE_SIZE) as u64;
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> Result<bool> {
        Ok(desired <= 4096)
    }
}

/// A slot in the storage cache.
#[derive(Clone, Copy, Debug)]
pub(super) struct Slot {
    pub(super) value: U256,
    pub(super) dirty: bool,
}

/// Per-invocation state of a program.
pub(crate) struct HostState {
    /// The EVM running this program. Valid for the whole synchronous call that owns the store.
    pub(crate) api: *mut (dyn EvmApi + 'static),
    pub(crate) frame: FrameEnv,
    pub(crate) args: Bytes,
    pub(crate) outs: Vec<u8>,
    pub(crate) return_data: Bytes,
    pub(crate) limits: Limits,
    pub(super) cache: BTreeMap<U256, Slot>,
}

impl HostState {
    /// State for a call with `args`.
    pub(crate) fn new(api: *mut (dyn EvmApi + 'static), frame: FrameEnv, args: Bytes) -> Self {
        Self {
            api,
            frame,
            args,
            outs: Vec::new(),
            return_data: Bytes::new(),
            limits: Limits::default(),
            cache: BTreeMap::new(),
        }
    }
}

pub(super) fn api<'a>(caller: &Ctx<'_>) -> &'a mut dyn EvmApi {
    // SAFETY: `api` points at the EVM that created this store and is blocked in the wasm call
    // that runs this host function; nothing else touches it until the call returns, and the
    // store (with this pointer) is dropped before that EVM is used again.
    unsafe { &mut *caller.data().api }
}

pub(super) fn write_protection() -> Error {
    Error::msg("write protection")
}
