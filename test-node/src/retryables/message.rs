//! The entry point's input: an L1 `Inbox.createRetryableTicket` call as it reaches L2, checked
//! with the Inbox's own rules, and what submitting it produced.

use alloy_primitives::{Address, B256, Bytes, U256};
use serde::Deserialize;

use super::{l1_to_l2_alias, submission_fee, tx::SubmitRetryableTx};
use crate::error::{Error, Result};

/// An L1 message creating a retryable ticket: the parameters of
/// `Inbox.createRetryableTicket(to, l2CallValue, maxSubmissionCost, excessFeeRefundAddress,
/// callValueRefundAddress, gasLimit, maxFeePerGas, data)`, the L1 sender and the ETH sent with
/// the call. In JSON (`testnode_submitRetryable`) the fields are camelCase and quantities hex.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryableMessage {
    /// The L1 account calling the Inbox. The ticket's `from` (the deposit's recipient and the
    /// retry's `msg.sender`) is its L2 alias, as the Inbox always aliases the sender.
    pub from: Address,
    /// ETH sent with the L1 call (`msg.value`), minted to the aliased sender on L2. Default:
    /// exactly `maxSubmissionCost + l2CallValue + gasLimit × maxFeePerGas`.
    #[serde(default)]
    pub deposit: Option<U256>,
    /// The call target; the zero address creates a contract with `data` as init code.
    pub to: Address,
    /// The value the retry sends to `to` (escrowed until then).
    pub l2_call_value: U256,
    /// The most the submission fee may be; the excess goes to `excessFeeRefundAddress`.
    pub max_submission_cost: U256,
    /// Receives the unused submission fee and gas refunds (taken as given: the Inbox's
    /// aliasing of L1 contracts is up to the caller).
    pub excess_fee_refund_address: Address,
    /// The ticket's beneficiary: may cancel it and gets the call value back when it is
    /// canceled or expires (taken as given, like `excessFeeRefundAddress`).
    pub call_value_refund_address: Address,
    /// Gas for the auto-redeem; below 21 000 no auto-redeem is attempted.
    pub gas_limit: U256,
    /// Gas price bid for the auto-redeem; below the base fee no auto-redeem is attempted.
    pub max_fee_per_gas: U256,
    /// The retry's calldata.
    #[serde(default)]
    pub data: Bytes,
    /// The L1 base fee the message was sent at (prices the submission fee); default 0.
    #[serde(default)]
    pub l1_base_fee: U256,
    /// The delayed-inbox request id; default: the node's next L1 message number.
    #[serde(default)]
    pub request_id: Option<B256>,
}

/// What submitting a [`RetryableMessage`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryableSubmission {
    /// The ticket id: the hash of the `ArbitrumSubmitRetryableTx` (type 0x69).
    pub ticket_id: B256,
    /// The block holding the submission and the auto-redeem.
    pub block_number: u64,
    /// The auto-redeem, when one was attempted.
    pub auto_redeem: Option<RetryOutcome>,
}

/// One executed redeem attempt (`ArbitrumRetryTx`, type 0x68).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryOutcome {
    /// The retry transaction's hash.
    pub retry_tx_hash: B256,
    /// Whether the call succeeded (then the ticket is gone).
    pub success: bool,
    /// Gas the retry used.
    pub gas_used: u64,
}

impl RetryableMessage {
    /// `maxSubmissionCost + l2CallValue + gasLimit × maxFeePerGas`, the least the Inbox accepts.
    pub fn required_deposit(&self) -> U256 {
        self.max_submission_cost
            .saturating_add(self.l2_call_value)
            .saturating_add(self.gas_limit.saturating_mul(self.max_fee_per_gas))
    }

    /// Applies `Inbox.createRetryableTicket`'s checks, which revert on L1.
    ///
    /// # Errors
    /// [`Error::InvalidParams`] naming the Inbox's error: `RetryableData` (gas limit or fee of
    /// 1, the estimation trick), `InsufficientValue`, `GasLimitTooLarge`,
    /// `InsufficientSubmissionCost`.
    pub fn check_inbox_rules(&self) -> Result<()> {
        let invalid = |message: String| Err(Error::InvalidParams(message));
        if self.gas_limit == U256::from(1) || self.max_fee_per_gas == U256::from(1) {
            return invalid("gasLimit or maxFeePerGas of 1 makes the Inbox revert RetryableData (its gas-estimation trick)".into());
        }
        let required = self.required_deposit();
        let deposit = self.deposit.unwrap_or(required);
        if deposit < required {
            return invalid(format!(
                "InsufficientValue: deposit {deposit} is less than maxSubmissionCost + l2CallValue + gasLimit * maxFeePerGas = {required}"
            ));
        }
        if self.gas_limit > U256::from(u64::MAX) {
            return invalid("GasLimitTooLarge: gasLimit exceeds 2^64 - 1".into());
        }
        let fee = submission_fee(self.data.len(), self.l1_base_fee);
        if self.max_submission_cost < fee {
            return invalid(format!(
                "InsufficientSubmissionCost: maxSubmissionCost {} is less than the submission fee {fee}",
                self.max_submission_cost
            ));
        }
        Ok(())
    }

    /// The L2 transaction for this message with request id `request_id`.
    pub(crate) fn to_submit_tx(&self, chain_id: u64, request_id: B256) -> SubmitRetryableTx {
        SubmitRetryableTx {
            chain_id,
            request_id,
            from: l1_to_l2_alias(self.from),
            l1_base_fee: self.l1_base_fee,
            deposit_value: self.deposit.unwrap_or_else(|| self.required_deposit()),
            gas_fee_cap: self.max_fee_per_gas,
            gas: self.gas_limit.saturating_to(),
            retry_to: (!self.to.is_zero()).then_some(self.to),
            retry_value: self.l2_call_value,
            beneficiary: self.call_value_refund_address,
            max_submission_fee: self.max_submission_cost,
            fee_refund_addr: self.excess_fee_refund_address,
            retry_data: self.data.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn message() -> RetryableMessage {
        serde_json::from_value(json!({
            "from": Address::repeat_byte(1),
            "to": Address::repeat_byte(2),
            "l2CallValue": "0x5",
            "maxSubmissionCost": "0x10",
            "excessFeeRefundAddress": Address::repeat_byte(3),
            "callValueRefundAddress": Address::repeat_byte(4),
            "gasLimit": "0x186a0",
            "maxFeePerGas": "0x5f5e100",
            "data": "0x1234",
        }))
        .unwrap()
    }

    #[test]
    fn inbox_rules_reject_what_l1_would() {
        let ok = message();
        ok.check_inbox_rules().unwrap();
        assert_eq!(ok.to_submit_tx(1, B256::ZERO).deposit_value, ok.required_deposit());
        let short = RetryableMessage { deposit: Some(U256::from(1)), ..message() };
        assert!(short.check_inbox_rules().unwrap_err().to_string().contains("InsufficientValue"));
        let trick = RetryableMessage { gas_limit: U256::from(1), ..message() };
        assert!(trick.check_inbox_rules().unwrap_err().to_string().contains("RetryableData"));
        let pricey = RetryableMessage { l1_base_fee: U256::from(1), ..message() };
        assert!(
            pricey
                .check_inbox_rules()
                .unwrap_err()
                .to_string()
                .contains("InsufficientSubmissionCost")
        );
        let huge =
            RetryableMessage { gas_limit: U256::MAX, max_fee_per_gas: U256::ZERO, ..message() };
        assert!(huge.check_inbox_rules().unwrap_err().to_string().contains("GasLimitTooLarge"));
        assert!(
            serde_json::from_value::<RetryableMessage>(json!({"from": Address::ZERO, "tpo": 1}))
                .is_err()
        );
    }

    #[test]
    fn the_sender_is_aliased_and_a_zero_target_creates() {
        let creation = RetryableMessage { to: Address::ZERO, ..message() };
        let tx = creation.to_submit_tx(7, B256::ZERO);
        assert_eq!(tx.from, l1_to_l2_alias(Address::repeat_byte(1)));
        assert_eq!(tx.retry_to, None);
        assert_eq!(tx.beneficiary, Address::repeat_byte(4));
    }
}
