//! ArbRetryableTx (0x6e), following Nitro's `precompiles/ArbRetryableTx.go`: ticket queries,
//! `redeem` (schedules a retry that runs right after the calling transaction, in the same block,
//! with all of the call's remaining gas), `keepalive`, `cancel` by the beneficiary, and
//! `getCurrentRedeemer`. Unknown and expired tickets revert `NoTicketWithID()`; Nitro's
//! non-Solidity errors (self-modification, not the beneficiary, timeout too far out) revert
//! with empty data; calls breaking the methods' purity (value, writes in a static call, a
//! delegate call) revert consuming all gas.

use std::convert::Infallible;

use alloy_primitives::{B256, U256};
use alloy_sol_types::{SolCall, SolError, SolInterface};
use revm::{
    context::{Block, Cfg, ContextTr, JournalTr},
    database::Database,
    interpreter::InterpreterResult,
};

use super::call::PrecompileCall;
use crate::arbos::ARB_RETRYABLE_TX;
use crate::retryables::{
    ArbRetryableTx::{self as abi, ArbRetryableTxCalls as C},
    LIFETIME_SECONDS, MIN_RETRY_GAS, REAP_PRICE, precompile_log,
    retry::CurrentRetry,
    state::{KeepaliveError, TicketStore, words},
    tx::RetryTx,
};

/// Gas per word copied in or out (`params.CopyGas`).
const COPY_GAS: u64 = 3;
/// `params.SloadGas`, charged per word of a ticket by `redeem`.
const SLOAD_GAS: u64 = 50;
/// `params.SstoreSetGas`, of which `keepalive` charges a hundredth per word of the ticket.
const SSTORE_SET_GAS: u64 = 20_000;

/// The gas of a log with `topics` topics and `data` bytes of data.
fn log_gas(topics: u64, data: u64) -> u64 {
    375 + 375 * topics + 8 * data
}

/// Serves a call to ArbRetryableTx; `current` is the retry the transaction runs, if any.
pub(super) fn run<CTX>(
    ctx: &mut CTX,
    mut call: PrecompileCall<'_>,
    current: Option<CurrentRetry>,
) -> InterpreterResult
where
    CTX: ContextTr<Db: Database<Error = Infallible>>,
{
    let Ok(decoded) = C::abi_decode(&call.input) else {
        return call.fail();
    };
    let writes = matches!(decoded, C::redeem(_) | C::keepalive(_) | C::cancel(_));
    let inputs = call.inputs;
    if !inputs.value.get().is_zero()
        || (writes && inputs.is_static)
        || inputs.target_address != ARB_RETRYABLE_TX
    {
        return call.fail();
    }
    if !call.charge(COPY_GAS * words(call.input.len().saturating_sub(4) as u64)) {
        return call.out_of_gas();
    }
    let now: u64 = ctx.block().timestamp().saturating_to();
    match decoded {
        C::getLifetime(_) => {
            returns(call, &abi::getLifetimeCall::abi_encode_returns(&U256::from(LIFETIME_SECONDS)))
        }
        C::getTimeout(args) => {
            let mut store = TicketStore::new(ctx.journal_mut());
            let ticket = store.open(args.ticketId, now);
            let burned = store.burned();
            match ticket {
                _ if !call.charge(burned) => call.out_of_gas(),
                Some(ticket) => returns(
                    call,
                    &abi::getTimeoutCall::abi_encode_returns(&U256::from(ticket.expiry())),
                ),
                None => no_ticket(call),
            }
        }
        C::getBeneficiary(args) => {
            let mut store = TicketStore::new(ctx.journal_mut());
            let ticket = store.open(args.ticketId, now);
            let burned = store.burned();
            match ticket {
                _ if !call.charge(burned) => call.out_of_gas(),
                Some(ticket) => {
                    returns(call, &abi::getBeneficiaryCall::abi_encode_returns(&ticket.beneficiary))
                }
                None => no_ticket(call),
            }
        }
        C::getCurrentRedeemer(_) => {
            let redeemer = current.map(|retry| retry.refund_to).unwrap_or_default();
            returns(call, &abi::getCurrentRedeemerCall::abi_encode_returns(&redeemer))
        }
        C::keepalive(args) => keepalive(ctx, call, args.ticketId, now),
        C::cancel(args) => cancel(ctx, call, args.ticketId, now, current),
        C::redeem(args) => redeem(ctx, call, args.ticketId, now, current),
        C::submitRetryable(_) => {
            let data = abi::NotCallable {}.abi_encode();
            revert_with(call, data)
        }
    }
}

/// Returns `output`, paying for copying it out.
fn returns(mut call: PrecompileCall<'_>, output: &[u8]) -> InterpreterResult {
    if !call.charge(COPY_GAS * words(output.len() as u64)) {
        return call.out_of_gas();
    }
    call.ok(output.to_vec())
}

/// Reverts with Solidity error data, paying for copying it out.
fn revert_with(mut call: PrecompileCall<'_>, data: Vec<u8>) -> InterpreterResult {
    if !call.charge(COPY_GAS * words(data.len() as u64)) {
        return call.out_of_gas();
    }
    call.revert(data)
}

fn no_ticket(call: PrecompileCall<'_>) -> InterpreterResult {
    revert_with(call, abi::NoTicketWithID {}.abi_encode())
}

/// Emits `event` from 0x6e, paying for it; `false` when the gas runs out.
fn emit<CTX: ContextTr>(
    ctx: &mut CTX,
    call: &mut PrecompileCall<'_>,
    event: &impl alloy_sol_types::SolEvent,
) -> bool {
    let log = precompile_log(event);
    let gas = log_gas(log.topics().len() as u64, log.data.data.len() as u64);
    if !call.charge(gas) {
        return false;
    }
    ctx.journal_mut().log(log);
    true
}

/// `keepalive(ticketId)`: one more lifetime, when the ticket expires within one from now.
fn keepalive<CTX>(
    ctx: &mut CTX,
    mut call: PrecompileCall<'_>,
    id: B256,
    now: u64,
) -> InterpreterResult
where
    CTX: ContextTr<Db: Database<Error = Infallible>>,
{
    let mut store = TicketStore::new(ctx.journal_mut());
    let Some(ticket) = store.open(id, now) else {
        let burned = store.burned();
        return if call.charge(burned) { no_ticket(call) } else { call.out_of_gas() };
    };
    let update_cost = words(ticket.size_bytes()) * SSTORE_SET_GAS / 100;
    let extended = store.keepalive(id, now);
    let burned = store.burned();
    if !call.charge(update_cost + burned) {
        return call.out_of_gas();
    }
    let new_timeout = match extended {
        Ok(timeout) => U256::from(timeout),
        Err(KeepaliveError::NotFound) => return no_ticket(call),
        // "timeout too far into the future"
        Err(KeepaliveError::TooFarInFuture) => return call.revert(Vec::new()),
    };
    if !call.charge(REAP_PRICE)
        || !emit(ctx, &mut call, &abi::LifetimeExtended { ticketId: id, newTimeout: new_timeout })
    {
        return call.out_of_gas();
    }
    returns(call, &abi::keepaliveCall::abi_encode_returns(&new_timeout))
}

/// `cancel(ticketId)`: the beneficiary deletes the ticket and gets the escrow.
fn cancel<CTX>(
    ctx: &mut CTX,
    mut call: PrecompileCall<'_>,
    id: B256,
    now: u64,
    current: Option<CurrentRetry>,
) -> InterpreterResult
where
    CTX: ContextTr<Db: Database<Error = Infallible>>,
{
    if current.is_some_and(|retry| retry.ticket_id == id) {
        // "retryable cannot modify itself"
        return call.revert(Vec::new());
    }
    let caller = call.inputs.caller;
    let mut store = TicketStore::new(ctx.journal_mut());
    let ticket = store.open(id, now);
    let is_beneficiary = ticket.as_ref().is_some_and(|ticket| ticket.beneficiary == caller);
    if is_beneficiary {
        store.delete(id);
    }
    let burned = store.burned();
    if !call.charge(burned) {
        return call.out_of_gas();
    }
    if ticket.is_none() {
        return no_ticket(call);
    }
    if !is_beneficiary {
        // "only the beneficiary may cancel a retryable"
        return call.revert(Vec::new());
    }
    if !emit(ctx, &mut call, &abi::Canceled { ticketId: id }) {
        return call.out_of_gas();
    }
    call.ok(Vec::new())
}

/// `redeem(ticketId)`: schedules a retry with all the gas left after this call's own costs
/// and burns that gas here; the retry runs after the transaction, in the same block.
fn redeem<CTX>(
    ctx: &mut CTX,
    mut call: PrecompileCall<'_>,
    id: B256,
    now: u64,
    current: Option<CurrentRetry>,
) -> InterpreterResult
where
    CTX: ContextTr<Db: Database<Error = Infallible>>,
{
    if current.is_some_and(|retry| retry.ticket_id == id) {
        // "retryable cannot modify itself"
        return call.revert(Vec::new());
    }
    let chain_id = ctx.cfg().chain_id();
    let base_fee = U256::from(ctx.block().basefee());
    let mut store = TicketStore::new(ctx.journal_mut());
    let Some(ticket) = store.open(id, now) else {
        let burned = store.burned();
        return if call.charge(burned) { no_ticket(call) } else { call.out_of_gas() };
    };
    let size_cost = SLOAD_GAS * words(ticket.size_bytes());
    let tries = store.increment_tries(id);
    let burned = store.burned();
    if !call.charge(size_cost + burned) {
        return call.out_of_gas();
    }
    let event_gas = log_gas(4, 4 * 32);
    // Gas still to be charged after the donation: the event and copying the result out.
    let future_gas = event_gas + COPY_GAS;
    let Some(donated) = call.gas.remaining().checked_sub(future_gas) else {
        return call.out_of_gas();
    };
    if donated < MIN_RETRY_GAS {
        // "not enough gas to run redeem attempt"
        return call.revert(Vec::new());
    }
    let retry = RetryTx {
        chain_id,
        nonce: tries - 1,
        from: ticket.from,
        gas_fee_cap: base_fee,
        gas: donated,
        to: ticket.to,
        value: ticket.callvalue,
        data: ticket.calldata,
        ticket_id: id,
        refund_to: call.inputs.caller,
        max_refund: U256::MAX,
        submission_fee_refund: U256::ZERO,
    };
    let retry_hash = retry.hash();
    let event = abi::RedeemScheduled {
        ticketId: id,
        retryTxHash: retry_hash,
        sequenceNum: retry.nonce,
        donatedGas: donated,
        gasDonor: retry.refund_to,
        maxRefund: retry.max_refund,
        submissionFeeRefund: retry.submission_fee_refund,
    };
    if !emit(ctx, &mut call, &event) || !call.charge(donated) {
        return call.out_of_gas();
    }
    returns(call, &abi::redeemCall::abi_encode_returns(&retry_hash))
}
