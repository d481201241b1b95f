//! What ArbOS does for an `ArbitrumSubmitRetryableTx` (Nitro's `StartTxHook`): mint the deposit
//! to the sender, collect the submission fee and refund the excess, escrow the call value,
//! store the ticket (`TicketCreated`) and, when the gas bid allows, pay for the auto-redeem and
//! schedule it (`RedeemScheduled`). The transaction never enters the EVM.
//!
//! Simplified: the auto-redeem's gas (`baseFee × gas`) is burnt here like every base fee on this
//! node, where Nitro pays it to the network fee account (and refunds unused gas out of it).

use alloy_primitives::U256;
use tracing::debug;

use super::{
    ArbRetryableTx::{RedeemScheduled, TicketCreated},
    LIFETIME_SECONDS, MIN_RETRY_GAS, escrow_address,
    funds::{self, StateJournal, take_funds},
    precompile_log,
    state::{Ticket, TicketStore},
    submission_fee,
    tx::{RetryTx, SubmitRetryableTx},
};
use crate::arbos::NETWORK_FEE_ACCOUNT;

/// Why a submission failed (its receipt has status 0; the minted deposit stays, as on Nitro).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SubmitError {
    /// The sender cannot pay the maximum submission fee.
    #[error("insufficient funds for max submission fee: have {have} want {want}")]
    MaxSubmissionFee { have: U256, want: U256 },
    /// The maximum submission fee is below the fee.
    #[error("max submission fee {max} is less than the actual submission fee {fee}")]
    SubmissionFee { max: U256, fee: U256 },
    /// The sender cannot fund the call value.
    #[error("insufficient funds for the retryable's call value {0}")]
    CallValue(U256),
}

/// Runs the submission at time `now` with base fee `base_fee`; returns the gas its receipt
/// reports (the auto-redeem's gas when one was scheduled, else 0).
///
/// # Errors
/// [`SubmitError`] when the sender's funds do not cover the fees or the call value.
///
/// # Events
/// `TicketCreated(ticketId)`, then `RedeemScheduled` for the auto-redeem.
pub(crate) fn submit<J: StateJournal>(
    journal: &mut J,
    tx: &SubmitRetryableTx,
    now: u64,
    base_fee: U256,
) -> Result<u64, SubmitError> {
    let ticket_id = tx.hash();
    let from = tx.from;
    let mut available_refund = tx.deposit_value;
    take_funds(&mut available_refund, tx.retry_value);
    funds::mint(journal, from, tx.deposit_value);

    let have = funds::balance(journal, from);
    if have < tx.max_submission_fee {
        return Err(SubmitError::MaxSubmissionFee { have, want: tx.max_submission_fee });
    }
    let fee = submission_fee(tx.retry_data.len(), tx.l1_base_fee);
    if tx.max_submission_fee < fee {
        return Err(SubmitError::SubmissionFee { max: tx.max_submission_fee, fee });
    }
    funds::transfer(journal, from, NETWORK_FEE_ACCOUNT, fee);
    let withheld_fee = take_funds(&mut available_refund, fee);
    let excess_fee = take_funds(&mut available_refund, tx.max_submission_fee - fee);
    funds::transfer(journal, from, tx.fee_refund_addr, excess_fee);

    if !funds::transfer(journal, from, escrow_address(ticket_id), tx.retry_value) {
        // Undo the fee, refunding as much as the deposit covers to the fee refund address.
        funds::transfer(journal, NETWORK_FEE_ACCOUNT, from, fee);
        funds::transfer(journal, from, tx.fee_refund_addr, withheld_fee);
        return Err(SubmitError::CallValue(tx.retry_value));
    }

    let ticket = Ticket {
        id: ticket_id,
        num_tries: 0,
        from,
        to: tx.retry_to,
        callvalue: tx.retry_value,
        beneficiary: tx.beneficiary,
        calldata: tx.retry_data.clone(),
        timeout: now + LIFETIME_SECONDS,
        windows_left: 0,
    };
    TicketStore::new(journal).create(&ticket);
    journal.log(precompile_log(&TicketCreated { ticketId: ticket_id }));

    let max_gas_cost = tx.gas_fee_cap.saturating_mul(U256::from(tx.gas));
    let balance = funds::balance(journal, from);
    if balance < max_gas_cost || tx.gas < MIN_RETRY_GAS || tx.gas_fee_cap < base_fee {
        // No auto-redeem: refund the gas funds.
        let refund = take_funds(&mut available_refund, max_gas_cost);
        funds::transfer(journal, from, tx.fee_refund_addr, refund);
        debug!(%ticket_id, gas = tx.gas, "ticket created without auto-redeem");
        return Ok(0);
    }

    let gas_cost = base_fee.saturating_mul(U256::from(tx.gas));
    funds::burn(journal, from, gas_cost);
    let withheld_gas = take_funds(&mut available_refund, gas_cost);
    let price_refund = (tx.gas_fee_cap - base_fee).saturating_mul(U256::from(tx.gas));
    let price_refund = take_funds(&mut available_refund, price_refund);
    funds::transfer(journal, from, tx.fee_refund_addr, price_refund);
    available_refund = available_refund.saturating_add(withheld_gas).saturating_add(withheld_fee);

    TicketStore::new(journal).increment_tries(ticket_id);
    let retry = RetryTx {
        chain_id: tx.chain_id,
        nonce: 0,
        from,
        gas_fee_cap: base_fee,
        gas: tx.gas,
        to: tx.retry_to,
        value: tx.retry_value,
        data: tx.retry_data.clone(),
        ticket_id,
        refund_to: tx.fee_refund_addr,
        max_refund: available_refund,
        submission_fee_refund: fee,
    };
    journal.log(precompile_log(&RedeemScheduled {
        ticketId: ticket_id,
        retryTxHash: retry.hash(),
        sequenceNum: 0,
        donatedGas: tx.gas,
        gasDonor: tx.fee_refund_addr,
        maxRefund: available_refund,
        submissionFeeRefund: fee,
    }));
    debug!(%ticket_id, gas = tx.gas, "ticket created, auto-redeem scheduled");
    Ok(tx.gas)
}
