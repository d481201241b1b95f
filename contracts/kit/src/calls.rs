//! Typed cross-contract calls: encode a `sol!` call struct, call, decode its return values.
//!
//! Both helpers flush the storage cache as the SDK requires before leaving the contract. Failures
//! (a revert, or return data that does not decode) come back as `None`, for the caller to turn
//! into its own named error.

use alloc::vec::Vec;

use alloy_primitives::{Address, U256};
use alloy_sol_types::SolCall;
use stylus_sdk::{call::RawCall, prelude::*, stylus_core::Host};

/// Calls `call` on `to`, letting the callee change state. Storage is written back first, so
/// update state before calling out (checks, effects, interactions).
pub fn call_mut<S, C>(storage: &mut S, to: Address, call: &C) -> Option<C::Return>
where
    S: TopLevelStorage + HostAccess,
    C: SolCall,
{
    let out = raw_call(storage.vm(), to, &call.abi_encode(), true)?;
    C::abi_decode_returns(&out).ok()
}

/// Calls `call` on `to` as a static call (the callee cannot change state).
pub fn call_view<S, C>(storage: &S, to: Address, call: &C) -> Option<C::Return>
where
    S: HostAccess,
    C: SolCall,
{
    let out = raw_call(storage.vm(), to, &call.abi_encode(), false)?;
    C::abi_decode_returns(&out).ok()
}

/// The one copy of the call itself, shared by every call type (only the encoding and decoding
/// around it depend on the call): a mutating call with no value after flushing and clearing the
/// storage cache, or a static call after flushing it, with all the gas the 63/64 rule leaves,
/// as `stylus_sdk::call::{call, static_call}` make them.
#[inline(never)]
fn raw_call<H: Host + ?Sized>(
    host: &H,
    to: Address,
    data: &[u8],
    mutating: bool,
) -> Option<Vec<u8>> {
    host.flush_cache(mutating);
    let call = if mutating {
        RawCall::new_with_value(host, U256::ZERO)
    } else {
        RawCall::new_static(host)
    };
    // SAFETY: the storage cache was flushed above (and cleared before a mutating call, whose
    // callee may change this contract's state), as `stylus_sdk::call` does.
    unsafe { call.call(to, data).ok() }
}
