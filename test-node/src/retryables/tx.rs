//! The ArbOS transaction types of retryables, as go-ethereum-arbitrum's `core/types/arb_types.go`
//! defines them: `ArbitrumSubmitRetryableTx` (0x69, its hash is the ticket id) and
//! `ArbitrumRetryTx` (0x68, one redeem attempt). Both are unsigned; their EIP-2718 form is the
//! type byte followed by the RLP list of the fields in declaration order, with a missing `to`
//! encoded as the empty string.

use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_rlp::{Encodable, Header};
use alloy_sol_types::SolCall;
use serde_json::{Map, Value, json};

use super::ArbRetryableTx::submitRetryableCall;
use crate::arbos::ARB_RETRYABLE_TX;

/// Type byte of `ArbitrumRetryTx`.
pub(crate) const RETRY_TX_TYPE: u8 = 0x68;
/// Type byte of `ArbitrumSubmitRetryableTx`.
pub(crate) const SUBMIT_RETRYABLE_TX_TYPE: u8 = 0x69;

/// `ArbitrumSubmitRetryableTx`: an L1 `createRetryableTicket` as L2 executes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SubmitRetryableTx {
    pub(crate) chain_id: u64,
    /// The delayed-inbox message number, as a word.
    pub(crate) request_id: B256,
    /// The aliased L1 sender.
    pub(crate) from: Address,
    pub(crate) l1_base_fee: U256,
    /// ETH that came with the message, minted to `from`.
    pub(crate) deposit_value: U256,
    pub(crate) gas_fee_cap: U256,
    pub(crate) gas: u64,
    pub(crate) retry_to: Option<Address>,
    pub(crate) retry_value: U256,
    pub(crate) beneficiary: Address,
    pub(crate) max_submission_fee: U256,
    pub(crate) fee_refund_addr: Address,
    pub(crate) retry_data: Bytes,
}

/// `ArbitrumRetryTx`: one attempt to redeem a ticket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RetryTx {
    pub(crate) chain_id: u64,
    /// The attempt's sequence number (the ticket's tries before it).
    pub(crate) nonce: u64,
    /// The ticket's `from`: the retry's sender.
    pub(crate) from: Address,
    pub(crate) gas_fee_cap: U256,
    pub(crate) gas: u64,
    pub(crate) to: Option<Address>,
    pub(crate) value: U256,
    pub(crate) data: Bytes,
    pub(crate) ticket_id: B256,
    /// Who gets the refund of unused gas (the auto-redeem's fee refund address, or the
    /// redeemer).
    pub(crate) refund_to: Address,
    /// The most `refund_to` gets; the rest of the refunds goes to `from`.
    pub(crate) max_refund: U256,
    /// The submission fee refunded when the retry succeeds.
    pub(crate) submission_fee_refund: U256,
}

/// An ArbOS-made transaction in a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ArbTx {
    SubmitRetryable(SubmitRetryableTx),
    Retry(RetryTx),
}

fn kind(to: Option<Address>) -> TxKind {
    to.map_or(TxKind::Create, TxKind::Call)
}

/// `ty ‖ rlp([fields])`.
fn encode_typed(ty: u8, fields: &[&dyn Encodable], out: &mut Vec<u8>) {
    let payload_length = fields.iter().map(|field| field.length()).sum();
    out.push(ty);
    Header { list: true, payload_length }.encode(out);
    for field in fields {
        field.encode(out);
    }
}

fn hex_u64(value: u64) -> Value {
    json!(format!("{value:#x}"))
}

impl SubmitRetryableTx {
    /// The EIP-2718 encoding.
    pub(crate) fn encode_2718(&self, out: &mut Vec<u8>) {
        let fields: [&dyn Encodable; 13] = [
            &U256::from(self.chain_id),
            &self.request_id,
            &self.from,
            &self.l1_base_fee,
            &self.deposit_value,
            &self.gas_fee_cap,
            &self.gas,
            &kind(self.retry_to),
            &self.retry_value,
            &self.beneficiary,
            &self.max_submission_fee,
            &self.fee_refund_addr,
            &self.retry_data,
        ];
        encode_typed(SUBMIT_RETRYABLE_TX_TYPE, &fields, out);
    }

    /// The transaction hash, which is the ticket id.
    pub(crate) fn hash(&self) -> B256 {
        let mut out = Vec::new();
        self.encode_2718(&mut out);
        keccak256(out)
    }

    /// The transaction's `input`: the `submitRetryable(...)` call that describes it.
    pub(crate) fn input(&self) -> Bytes {
        submitRetryableCall {
            requestId: self.request_id,
            l1BaseFee: self.l1_base_fee,
            deposit: self.deposit_value,
            callvalue: self.retry_value,
            gasFeeCap: self.gas_fee_cap,
            gasLimit: self.gas,
            maxSubmissionFee: self.max_submission_fee,
            feeRefundAddress: self.fee_refund_addr,
            beneficiary: self.beneficiary,
            retryTo: self.retry_to.unwrap_or_default(),
            retryData: self.retry_data.clone(),
        }
        .abi_encode()
        .into()
    }
}

impl RetryTx {
    /// The EIP-2718 encoding.
    pub(crate) fn encode_2718(&self, out: &mut Vec<u8>) {
        let fields: [&dyn Encodable; 12] = [
            &U256::from(self.chain_id),
            &self.nonce,
            &self.from,
            &self.gas_fee_cap,
            &self.gas,
            &kind(self.to),
            &self.value,
            &self.data,
            &self.ticket_id,
            &self.refund_to,
            &self.max_refund,
            &self.submission_fee_refund,
        ];
        encode_typed(RETRY_TX_TYPE, &fields, out);
    }

    /// The transaction hash.
    pub(crate) fn hash(&self) -> B256 {
        let mut out = Vec::new();
        self.encode_2718(&mut out);
        keccak256(out)
    }
}

impl ArbTx {
    /// The type byte.
    pub(crate) fn ty(&self) -> u8 {
        match self {
            Self::SubmitRetryable(_) => SUBMIT_RETRYABLE_TX_TYPE,
            Self::Retry(_) => RETRY_TX_TYPE,
        }
    }

    /// The EIP-2718 encoding.
    pub(crate) fn encode_2718(&self, out: &mut Vec<u8>) {
        match self {
            Self::SubmitRetryable(tx) => tx.encode_2718(out),
            Self::Retry(tx) => tx.encode_2718(out),
        }
    }

    /// The sender.
    pub(crate) fn from(&self) -> Address {
        match self {
            Self::SubmitRetryable(tx) => tx.from,
            Self::Retry(tx) => tx.from,
        }
    }

    /// The recipient: ArbRetryableTx for a submission, the ticket's target for a retry (none
    /// when it creates a contract).
    pub(crate) fn to(&self) -> Option<Address> {
        match self {
            Self::SubmitRetryable(_) => Some(ARB_RETRYABLE_TX),
            Self::Retry(tx) => tx.to,
        }
    }

    /// The transaction as `eth_getTransactionByHash` shows it on Nitro (without the block
    /// fields): geth's common fields, zero signature values, and the Arbitrum-specific ones.
    pub(crate) fn rpc_fields(&self, hash: B256) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("type".into(), hex_u64(u64::from(self.ty())));
        map.insert("hash".into(), json!(hash));
        map.insert("from".into(), json!(self.from()));
        map.insert("to".into(), json!(self.to()));
        for signature_value in ["v", "r", "s"] {
            map.insert(signature_value.into(), json!("0x0"));
        }
        match self {
            Self::SubmitRetryable(tx) => {
                map.insert("chainId".into(), hex_u64(tx.chain_id));
                map.insert("nonce".into(), json!("0x0"));
                map.insert("gas".into(), hex_u64(tx.gas));
                map.insert("gasPrice".into(), json!(tx.gas_fee_cap));
                map.insert("maxFeePerGas".into(), json!(tx.gas_fee_cap));
                map.insert("value".into(), json!("0x0"));
                map.insert("input".into(), json!(tx.input()));
                map.insert("requestId".into(), json!(tx.request_id));
                map.insert("l1BaseFee".into(), json!(tx.l1_base_fee));
                map.insert("depositValue".into(), json!(tx.deposit_value));
                map.insert("retryTo".into(), json!(tx.retry_to));
                map.insert("retryValue".into(), json!(tx.retry_value));
                map.insert("retryData".into(), json!(tx.retry_data));
                map.insert("beneficiary".into(), json!(tx.beneficiary));
                map.insert("refundTo".into(), json!(tx.fee_refund_addr));
                map.insert("maxSubmissionFee".into(), json!(tx.max_submission_fee));
            }
            Self::Retry(tx) => {
                map.insert("chainId".into(), hex_u64(tx.chain_id));
                map.insert("nonce".into(), hex_u64(tx.nonce));
                map.insert("gas".into(), hex_u64(tx.gas));
                map.insert("gasPrice".into(), json!(tx.gas_fee_cap));
                map.insert("maxFeePerGas".into(), json!(tx.gas_fee_cap));
                map.insert("value".into(), json!(tx.value));
                map.insert("input".into(), json!(tx.data));
                map.insert("ticketId".into(), json!(tx.ticket_id));
                map.insert("refundTo".into(), json!(tx.refund_to));
                map.insert("maxRefund".into(), json!(tx.max_refund));
                map.insert("submissionFeeRefund".into(), json!(tx.submission_fee_refund));
            }
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{address, b256, hex};

    use super::*;

    /// Arbitrum One's L1 message 0x504c (L1 tx 0x00000a61…aaba, a WETH gateway deposit): the
    /// ticket id arbitrum-sdk's unit test `parentToChildMessageEvents` expects.
    #[test]
    fn ticket_id_is_the_submit_retryable_hash() {
        let refund = address!("a2e06c19EE14255889f0Ec0cA37f6D0778D06754");
        let tx = SubmitRetryableTx {
            chain_id: 42_161,
            request_id: B256::from(U256::from(0x504c)),
            from: address!("eA3123E9d9911199a6711321d1277285e6d4F3EC"),
            l1_base_fee: U256::from(0x05e0fc4c58u64),
            deposit_value: U256::from(0x0854e8ab1802ca80u64),
            gas_fee_cap: U256::from(0x11e1a300u64),
            gas: 0x01d566,
            retry_to: Some(address!("6c411aD3E74De3E7Bd422b94A27770f5B86C623B")),
            retry_value: U256::from(0x0853a0d2313c0000u64),
            beneficiary: refund,
            max_submission_fee: U256::from(0x01270f6740d880u64),
            fee_refund_addr: refund,
            retry_data: hex!("2e567b36000000000000000000000000c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2000000000000000000000000a2e06c19ee14255889f0ec0ca37f6d0778d06754000000000000000000000000a2e06c19ee14255889f0ec0ca37f6d0778d067540000000000000000000000000000000000000000000000000853a0d2313c000000000000000000000000000000000000000000000000000000000000000000a000000000000000000000000000000000000000000000000000000000000000800000000000000000000000000000000000000000000000000000000000000040000000000000000000000000000000000000000000000000000000000000006000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000").into(),
        };
        assert_eq!(
            tx.hash(),
            b256!("8ba13904639c7444d8578cc582a230b8501c9f0f7903f5069d276fdd3a7dea44")
        );
        assert_eq!(tx.input()[..4], hex!("c9f95d32"));
    }

    #[test]
    fn retry_encoding_is_typed_rlp_with_empty_to_for_creation() {
        let tx = RetryTx {
            chain_id: 1,
            nonce: 0,
            from: Address::ZERO,
            gas_fee_cap: U256::ZERO,
            gas: 0,
            to: None,
            value: U256::ZERO,
            data: Bytes::new(),
            ticket_id: B256::ZERO,
            refund_to: Address::ZERO,
            max_refund: U256::ZERO,
            submission_fee_refund: U256::ZERO,
        };
        let mut out = Vec::new();
        tx.encode_2718(&mut out);
        // chain id 1, then 0x80 for every zero/empty scalar, 20-byte and 32-byte strings.
        let payload = 1 + 1 + 21 + 1 + 1 + 1 + 1 + 1 + 33 + 21 + 1 + 1;
        // A list longer than 55 bytes: 0xf8 and one length byte.
        assert_eq!(out[..4], [RETRY_TX_TYPE, 0xf8, payload as u8, 0x01]);
        assert_eq!(out.len(), 3 + payload);
    }
}
