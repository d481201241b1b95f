//! Retryable tickets with Nitro's semantics: an L1 `Inbox.createRetryableTicket` reaches L2 as an
//! `ArbitrumSubmitRetryableTx` (0x69) that funds the sender, escrows the call value and stores a
//! ticket; each redeem attempt is an `ArbitrumRetryTx` (0x68) run right after the transaction
//! that scheduled it, in the same block.
//!
//! Layout:
//! - [`message`]: [`RetryableMessage`], the entry point's input, with the Inbox's checks.
//! - `tx`: the two transaction types (fields, RLP, hashes, RPC form).
//! - `state`: tickets, the timeout queue and the message counter in the storage of the
//!   ArbRetryableTx account (0x6e), so snapshots, reverts and state dumps include them.
//! - `submit`, `retry`: what ArbOS does before and after those transactions (Nitro's
//!   `StartTxHook` / `EndTxHook`), on a revm journal.
//! - `funds`: balance moves on a journal.
//!
//! The precompile at 0x6e is `precompiles::arb_retryable`; blocks and receipts are built in
//! `chain::retryables`.

mod funds;
pub mod message;
pub(crate) mod retry;
pub(crate) mod state;
pub(crate) mod submit;
pub(crate) mod tx;

use alloy_primitives::{Address, B256, Log, U256, keccak256};
use alloy_sol_types::{SolEvent, sol};
pub use message::{RetryOutcome, RetryableMessage, RetryableSubmission};

use crate::arbos::ARB_RETRYABLE_TX;

sol! {
    /// nitro-precompile-interfaces' `ArbRetryableTx.sol` (selectors, events and errors).
    interface ArbRetryableTx {
        function redeem(bytes32 ticketId) external returns (bytes32);
        function getLifetime() external view returns (uint256);
        function getTimeout(bytes32 ticketId) external view returns (uint256);
        function keepalive(bytes32 ticketId) external returns (uint256);
        function getBeneficiary(bytes32 ticketId) external view returns (address);
        function cancel(bytes32 ticketId) external;
        function getCurrentRedeemer() external view returns (address);
        function submitRetryable(bytes32 requestId, uint256 l1BaseFee, uint256 deposit, uint256 callvalue, uint256 gasFeeCap, uint64 gasLimit, uint256 maxSubmissionFee, address feeRefundAddress, address beneficiary, address retryTo, bytes retryData) external;

        event TicketCreated(bytes32 indexed ticketId);
        event LifetimeExtended(bytes32 indexed ticketId, uint256 newTimeout);
        event RedeemScheduled(bytes32 indexed ticketId, bytes32 indexed retryTxHash, uint64 indexed sequenceNum, uint64 donatedGas, address gasDonor, uint256 maxRefund, uint256 submissionFeeRefund);
        event Canceled(bytes32 indexed ticketId);

        error NoTicketWithID();
        error NotCallable();
    }
}

/// How long a ticket lives, and how far one `keepalive` extends it: 7 days.
pub(crate) const LIFETIME_SECONDS: u64 = 7 * 24 * 60 * 60;
/// Gas `keepalive` pays in advance for reaping the extra queue entry (`RetryableReapPrice`).
pub(crate) const REAP_PRICE: u64 = 58_000;
/// The gas a retry needs at least (`params.TxGas`).
pub(crate) const MIN_RETRY_GAS: u64 = 21_000;

/// The account holding a ticket's call value until it is redeemed, canceled or reaped:
/// `keccak256("retryable escrow" ‖ ticketId)[12..]`.
pub fn escrow_address(ticket_id: B256) -> Address {
    let mut preimage = b"retryable escrow".to_vec();
    preimage.extend_from_slice(ticket_id.as_slice());
    Address::from_slice(&keccak256(preimage)[12..])
}

/// The submission fee Nitro charges for a ticket: `(1400 + 6 × len(data)) × l1BaseFee`.
pub fn submission_fee(data_len: usize, l1_base_fee: U256) -> U256 {
    l1_base_fee.saturating_mul(U256::from(1_400 + 6 * data_len as u64))
}

/// Offset Nitro adds to an L1 address to alias it on L2 (`AddressAliasHelper`).
const ALIAS_OFFSET: U256 = U256::from_limbs([0x1111, 0, 0x1111_0000, 0]);

/// The L2 alias of an L1 address: `address + 0x1111000000000000000000000000000000001111`.
pub fn l1_to_l2_alias(l1: Address) -> Address {
    let sum = U256::from_be_slice(l1.as_slice()).wrapping_add(ALIAS_OFFSET);
    Address::from_slice(&sum.to_be_bytes::<32>()[12..])
}

/// The L1 address behind an L2 alias (Nitro's `InverseRemapL1Address`).
pub fn l2_to_l1_alias(l2: Address) -> Address {
    let difference = U256::from_be_slice(l2.as_slice()).wrapping_sub(ALIAS_OFFSET);
    Address::from_slice(&difference.to_be_bytes::<32>()[12..])
}

/// A log of the ArbRetryableTx precompile.
pub(crate) fn precompile_log(event: &impl SolEvent) -> Log {
    Log { address: ARB_RETRYABLE_TX, data: event.encode_log_data() }
}

/// A redeem attempt some transaction scheduled (a `RedeemScheduled` log of 0x6e).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ScheduledRedeem {
    pub(crate) ticket_id: B256,
    pub(crate) sequence: u64,
    pub(crate) donated_gas: u64,
    pub(crate) gas_donor: Address,
    pub(crate) max_refund: U256,
    pub(crate) submission_fee_refund: U256,
}

impl ScheduledRedeem {
    /// The redeems scheduled by a transaction's logs, in order (Nitro's `ScheduledTxes`).
    pub(crate) fn from_logs(logs: &[Log]) -> Vec<Self> {
        use ArbRetryableTx::RedeemScheduled;
        logs.iter()
            .filter(|log| log.address == ARB_RETRYABLE_TX)
            .filter_map(|log| RedeemScheduled::decode_log_data(&log.data).ok())
            .map(|event| Self {
                ticket_id: event.ticketId,
                sequence: event.sequenceNum,
                donated_gas: event.donatedGas,
                gas_donor: event.gasDonor,
                max_refund: event.maxRefund,
                submission_fee_refund: event.submissionFeeRefund,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{address, b256, hex};
    use alloy_sol_types::{SolCall, SolError};

    use super::{ArbRetryableTx as R, *};

    #[test]
    fn selectors_events_and_errors_match_nitro() {
        assert_eq!(R::redeemCall::SELECTOR, hex!("eda1122c"));
        assert_eq!(R::getLifetimeCall::SELECTOR, hex!("81e6e083"));
        assert_eq!(R::getTimeoutCall::SELECTOR, hex!("9f1025c6"));
        assert_eq!(R::keepaliveCall::SELECTOR, hex!("f0b21a41"));
        assert_eq!(R::getBeneficiaryCall::SELECTOR, hex!("ba20dda4"));
        assert_eq!(R::cancelCall::SELECTOR, hex!("c4d252f5"));
        assert_eq!(R::getCurrentRedeemerCall::SELECTOR, hex!("de4ba2b3"));
        assert_eq!(R::submitRetryableCall::SELECTOR, hex!("c9f95d32"));
        assert_eq!(R::NoTicketWithID::SELECTOR, hex!("80698456"));
        assert_eq!(R::NotCallable::SELECTOR, hex!("902824c1"));
        assert_eq!(
            R::TicketCreated::SIGNATURE_HASH,
            b256!("7c793cced5743dc5f531bbe2bfb5a9fa3f40adef29231e6ab165c08a29e3dd89")
        );
        assert_eq!(
            R::RedeemScheduled::SIGNATURE_HASH,
            b256!("5ccd009502509cf28762c67858994d85b163bb6e451f5e9df7c5e18c9c2e123e")
        );
        assert_eq!(R::LifetimeExtended::SIGNATURE_HASH[..4], hex!("f4c40a5f"));
        assert_eq!(R::Canceled::SIGNATURE_HASH[..4], hex!("134fdd64"));
    }

    #[test]
    fn aliasing_wraps_like_address_alias_helper() {
        assert_eq!(
            l1_to_l2_alias(Address::ZERO),
            address!("1111000000000000000000000000000000001111")
        );
        assert_eq!(
            l1_to_l2_alias(address!("ffffffffffffffffffffffffffffffffffffffff")),
            address!("1111000000000000000000000000000000001110")
        );
        let l1 = address!("d92023E9d9911199a6711321D1277285e6d4e2db");
        assert_eq!(l1_to_l2_alias(l1), address!("eA3123E9d9911199a6711321d1277285e6d4F3EC"));
        assert_eq!(l2_to_l1_alias(l1_to_l2_alias(l1)), l1);
        assert_eq!(l2_to_l1_alias(l1_to_l2_alias(Address::ZERO)), Address::ZERO);
    }

    #[test]
    fn submission_fee_follows_nitro() {
        assert_eq!(submission_fee(10, U256::from(2)), U256::from(2 * (1_400 + 60)));
        assert_eq!(submission_fee(10, U256::ZERO), U256::ZERO);
    }
}
