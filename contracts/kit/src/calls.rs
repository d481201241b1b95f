//! Typed cross-contract calls: encode a `sol!` call struct, call, decode its return values.
//!
//! Both helpers flush the storage cache as the SDK requires before leaving the contract. Failures
//! (a revert, or return data that does not decode) come back as `None`, for the caller to turn
//! into its own named error.

use alloy_primitives::Address;
use alloy_sol_types::SolCall;
use stylus_sdk::{call, prelude::*};

/// Calls `call` on `to`, letting the callee change state. Storage is written back first, so
/// update state before calling out (checks, effects, interactions).
pub fn call_mut<S, C>(storage: &mut S, to: Address, call: &C) -> Option<C::Return>
where
    S: TopLevelStorage + HostAccess,
    C: SolCall,
{
    let context = Call::new_mutating(storage);
    let out = call::call(storage.vm(), context, to, &call.abi_encode()).ok()?;
    C::abi_decode_returns(&out).ok()
}

/// Calls `call` on `to` as a static call (the callee cannot change state).
pub fn call_view<S, C>(storage: &S, to: Address, call: &C) -> Option<C::Return>
where
    S: HostAccess,
    C: SolCall,
{
    let out = call::static_call(storage.vm(), Call::new(), to, &call.abi_encode()).ok()?;
    C::abi_decode_returns(&out).ok()
}
