//! What ArbOS does around an `ArbitrumRetryTx`: before the EVM runs it, the call value leaves
//! the escrow for the ticket's `from` and the gas is prepaid to `from` (Nitro's `StartTxHook`);
//! afterwards the prepaid gas `from` got back is taken again, unused gas and (on success) the
//! submission fee are refunded to `refundTo` up to `maxRefund` and to `from` beyond it, and the
//! ticket is deleted on success or the call value goes back to escrow on failure (`EndTxHook`).
//!
//! Simplified: unused gas is refunded by minting, since this node burns base fees instead of
//! paying them to the network fee account Nitro refunds from.

use alloy_primitives::{Address, B256, U256};
use tracing::warn;

use super::{
    escrow_address,
    funds::{self, StateJournal, take_funds},
    state::TicketStore,
    tx::RetryTx,
};
use crate::arbos::NETWORK_FEE_ACCOUNT;

/// The retry a transaction is running, as ArbRetryableTx's `getCurrentRedeemer` and its
/// self-modification checks see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CurrentRetry {
    /// The ticket being redeemed.
    pub(crate) ticket_id: B256,
    /// The retry's `refundTo`: the redeemer.
    pub(crate) refund_to: Address,
}

/// Why a retry could not start.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RetryStartError {
    /// The ticket is gone (redeemed, canceled or expired) since it was scheduled.
    #[error("retryable with ticketId {0} not found")]
    TicketGone(B256),
    /// The escrow does not hold the call value.
    #[error("escrow of {0} lacks the call value")]
    Escrow(B256),
}

/// Before the EVM: moves the call value out of escrow to `from` and prepays the gas.
///
/// # Errors
/// [`RetryStartError`] when the ticket is gone or its escrow is short.
pub(crate) fn start<J: StateJournal>(
    journal: &mut J,
    tx: &RetryTx,
    now: u64,
    base_fee: U256,
) -> Result<(), RetryStartError> {
    if TicketStore::new(journal).open(tx.ticket_id, now).is_none() {
        return Err(RetryStartError::TicketGone(tx.ticket_id));
    }
    if !funds::transfer(journal, escrow_address(tx.ticket_id), tx.from, tx.value) {
        return Err(RetryStartError::Escrow(tx.ticket_id));
    }
    funds::mint(journal, tx.from, base_fee.saturating_mul(U256::from(tx.gas)));
    Ok(())
}

/// Splits a refund of `amount`: to `refundTo` as far as `max_refund` reaches, the rest to `from`.
fn split_refund(max_refund: &mut U256, tx: &RetryTx, amount: U256) -> [(Address, U256); 2] {
    let to_refund_to = take_funds(max_refund, amount);
    [(tx.refund_to, to_refund_to), (tx.from, amount - to_refund_to)]
}

/// After the EVM: the refunds and the ticket's fate, given the gas the retry used.
pub(crate) fn end<J: StateJournal>(
    journal: &mut J,
    tx: &RetryTx,
    gas_used: u64,
    success: bool,
    base_fee: U256,
) {
    let gas_left = tx.gas.saturating_sub(gas_used);
    let gas_refund = base_fee.saturating_mul(U256::from(gas_left));
    // The EVM refunded unused prepaid gas to `from`; it is refunded below instead.
    if !funds::burn(journal, tx.from, gas_refund) {
        warn!(ticket = %tx.ticket_id, "retry sender lacks the unused prepaid gas");
    }
    let mut max_refund = tx.max_refund;
    if success {
        for (to, part) in split_refund(&mut max_refund, tx, tx.submission_fee_refund) {
            if !funds::transfer(journal, NETWORK_FEE_ACCOUNT, to, part) {
                warn!(%to, %part, "network fee account cannot refund a submission fee");
            }
        }
    } else {
        take_funds(&mut max_refund, tx.submission_fee_refund);
    }
    take_funds(&mut max_refund, base_fee.saturating_mul(U256::from(gas_used)));
    for (to, part) in split_refund(&mut max_refund, tx, gas_refund) {
        funds::mint(journal, to, part);
    }

    if success {
        TicketStore::new(journal).delete(tx.ticket_id);
    } else if !funds::transfer(journal, tx.from, escrow_address(tx.ticket_id), tx.value) {
        warn!(ticket = %tx.ticket_id, "failed retry cannot return the call value to escrow");
    }
}
