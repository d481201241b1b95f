//! Transactions: decoding raw EIP-2718 bytes, recovering senders, and turning signed
//! transactions and RPC requests into revm's `TxEnv`.

use alloy_consensus::{
    SignableTransaction, Transaction as _, TxEnvelope, TxLegacy,
    transaction::{Recovered, SignerRecoverable},
};
use alloy_eips::{Typed2718, eip2718::Decodable2718};
use alloy_primitives::{Address, Signature, TxKind, U256};
use alloy_rpc_types_eth::TransactionRequest;
use revm::context::TxEnv;

use crate::{error::Error, evm::TX_GAS_LIMIT};

/// Decodes a raw transaction (typed or legacy, including pre-EIP-155) and recovers its sender.
///
/// # Errors
/// [`Error::Rejected`] with geth's wording when the bytes do not decode, the type is not
/// accepted over RPC (blobs), or the signature is invalid.
pub(crate) fn decode_raw(raw: &[u8]) -> Result<Recovered<TxEnvelope>, Error> {
    let envelope =
        TxEnvelope::decode_2718_exact(raw).map_err(|err| Error::Rejected(format!("rlp: {err}")))?;
    if envelope.is_eip4844() {
        return Err(Error::Rejected("transaction type not supported".into()));
    }
    let sender = envelope
        .recover_signer()
        .map_err(|_| Error::Rejected("invalid transaction v, r, s values".into()))?;
    Ok(Recovered::new_unchecked(envelope, sender))
}

/// The revm environment of a signed transaction.
pub(crate) fn tx_env(tx: &Recovered<TxEnvelope>) -> TxEnv {
    let envelope = tx.inner();
    let mut env = TxEnv {
        tx_type: envelope.ty(),
        caller: tx.signer(),
        gas_limit: envelope.gas_limit(),
        gas_price: envelope.max_fee_per_gas(),
        gas_priority_fee: envelope.max_priority_fee_per_gas(),
        kind: envelope.kind(),
        value: envelope.value(),
        data: envelope.input().clone(),
        nonce: envelope.nonce(),
        chain_id: envelope.chain_id(),
        access_list: envelope.access_list().cloned().unwrap_or_default(),
        ..TxEnv::default()
    };
    if let Some(auths) = envelope.authorization_list() {
        env.set_signed_authorization(auths.to_vec());
    }
    env
}

/// Defaults for the fields an RPC request may leave out.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequestDefaults {
    pub(crate) nonce: u64,
    pub(crate) gas_limit: u64,
    pub(crate) chain_id: u64,
}

/// The revm environment of an `eth_call` / `eth_estimateGas` / `eth_sendTransaction` request.
pub(crate) fn request_env(req: &TransactionRequest, defaults: RequestDefaults) -> TxEnv {
    let gas_price = req.max_fee_per_gas.or(req.gas_price).unwrap_or_default();
    let mut env = TxEnv {
        tx_type: req.transaction_type.unwrap_or(if req.max_fee_per_gas.is_some() { 2 } else { 0 }),
        caller: req.from.unwrap_or_default(),
        gas_limit: req.gas.unwrap_or(defaults.gas_limit).min(TX_GAS_LIMIT),
        gas_price,
        gas_priority_fee: req.max_priority_fee_per_gas,
        kind: req.to.unwrap_or(TxKind::Create),
        value: req.value.unwrap_or_default(),
        data: req.input.input().cloned().unwrap_or_default(),
        nonce: req.nonce.unwrap_or(defaults.nonce),
        chain_id: Some(defaults.chain_id),
        access_list: req.access_list.clone().unwrap_or_default(),
        ..TxEnv::default()
    };
    if env.tx_type == 2 && env.gas_priority_fee.is_none() {
        env.gas_priority_fee = Some(0);
    }
    if env.tx_type > 2 {
        env.tx_type = 2;
    }
    env
}

/// Builds the stored form of a transaction the node executes on a sender's behalf
/// (`eth_sendTransaction` from an unlocked or impersonated account): a legacy or EIP-1559
/// transaction with a placeholder signature, like anvil's impersonated transactions.
pub(crate) fn unsigned_envelope(env: &TxEnv) -> Recovered<TxEnvelope> {
    let signature = Signature::new(U256::from(1), U256::from(1), false);
    let envelope = if env.tx_type == 2 {
        let tx = alloy_consensus::TxEip1559 {
            chain_id: env.chain_id.unwrap_or_default(),
            nonce: env.nonce,
            gas_limit: env.gas_limit,
            max_fee_per_gas: env.gas_price,
            max_priority_fee_per_gas: env.gas_priority_fee.unwrap_or_default(),
            to: env.kind,
            value: env.value,
            access_list: env.access_list.clone(),
            input: env.data.clone(),
        };
        TxEnvelope::Eip1559(tx.into_signed(signature))
    } else {
        let tx = TxLegacy {
            chain_id: env.chain_id,
            nonce: env.nonce,
            gas_price: env.gas_price,
            gas_limit: env.gas_limit,
            to: env.kind,
            value: env.value,
            input: env.data.clone(),
        };
        TxEnvelope::Legacy(tx.into_signed(signature))
    };
    Recovered::new_unchecked(envelope, env.caller)
}

/// The created address for a CREATE transaction from `sender` with `nonce`.
pub(crate) fn create_address(kind: TxKind, sender: Address, nonce: u64) -> Option<Address> {
    match kind {
        TxKind::Create => Some(sender.create(nonce)),
        TxKind::Call(_) => None,
    }
}
