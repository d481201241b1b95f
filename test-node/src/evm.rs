//! Runs one transaction on revm: the Arbitrum-flavoured configuration (Prague rules, EIP-3541
//! relaxed for Stylus prefixes, Nitro's coinbase and difficulty) and the mapping of revm's
//! validation errors to geth's messages.

use std::convert::Infallible;

use alloy_primitives::{Address, B256, U256, address};
use revm::{
    Database,
    context::{
        BlockEnv, CfgEnv, TxEnv,
        result::{EVMError, ExecutionResult, InvalidTransaction, ResultAndState},
    },
    database::{CacheDB, EmptyDB},
};

use crate::{
    arb_evm::{ArbContext, ArbEvm},
    arbos::BASE_FEE,
    error::Error,
    retryables::retry::CurrentRetry,
};

/// The live state: an in-memory database over nothing.
pub(crate) type Db = CacheDB<EmptyDB>;

/// Nitro's block coinbase (`"sequencer"` in the low bytes).
pub const COINBASE: Address = address!("A4B000000000000000000073657175656e636572");
/// Header gas limit Nitro reports (`GethBlockGasLimit`).
pub(crate) const HEADER_GAS_LIMIT: u64 = 1 << 50;
/// Per-transaction gas limit (`InitialPerTxGasLimitV50`), also the `eth_call` default.
pub(crate) const TX_GAS_LIMIT: u64 = 32_000_000;

/// What a block looks like to the transactions in it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BlockInfo {
    pub(crate) number: u64,
    pub(crate) timestamp: u64,
}

impl BlockInfo {
    fn env(self) -> BlockEnv {
        BlockEnv {
            number: U256::from(self.number),
            beneficiary: COINBASE,
            timestamp: U256::from(self.timestamp),
            gas_limit: HEADER_GAS_LIMIT,
            basefee: BASE_FEE,
            difficulty: U256::from(1),
            prevrandao: Some(B256::with_last_byte(1)),
            ..BlockEnv::default()
        }
    }
}

/// Configuration for a transaction that goes into a block.
pub(crate) fn tx_cfg(chain_id: u64) -> CfgEnv {
    let mut cfg = CfgEnv::new_with_spec(crate::arb_evm::SPEC);
    cfg.chain_id = chain_id;
    cfg
}

/// Configuration for `eth_call` / `eth_estimateGas`: no fee floor, no nonce check, and contract
/// callers allowed.
pub(crate) fn call_cfg(chain_id: u64) -> CfgEnv {
    let mut cfg = tx_cfg(chain_id);
    cfg.disable_base_fee = true;
    cfg.disable_nonce_check = true;
    cfg.disable_eip3607 = true;
    cfg
}

/// Executes `tx` on `db` without committing; the caller commits the returned state if wanted.
pub(crate) fn transact<DB>(
    db: DB,
    block: BlockInfo,
    cfg: CfgEnv,
    tx: TxEnv,
) -> Result<ResultAndState, Error>
where
    DB: Database<Error = Infallible>,
{
    transact_as(db, block, cfg, tx, None)
}

/// Executes `tx` as the retry `retry` of a ticket (an `ArbitrumRetryTx`), or as a plain
/// transaction for `None`; nothing is committed.
pub(crate) fn transact_as<DB>(
    db: DB,
    block: BlockInfo,
    cfg: CfgEnv,
    tx: TxEnv,
    retry: Option<CurrentRetry>,
) -> Result<ResultAndState, Error>
where
    DB: Database<Error = Infallible>,
{
    let ctx = ArbContext::<DB>::new(db, cfg.spec).with_block(block.env()).with_cfg(cfg);
    let mut evm = ArbEvm::new(ctx);
    evm.set_current_retry(retry);
    evm.transact(tx).map_err(|err| map_evm_error(err, evm.tx()))
}

/// The outcome of a call as `Ok(output)` or the geth-shaped error.
pub(crate) fn call_output(result: ExecutionResult) -> Result<alloy_primitives::Bytes, Error> {
    match result {
        ExecutionResult::Success { output, .. } => Ok(output.into_data()),
        ExecutionResult::Revert { output, .. } => Err(Error::Reverted(output)),
        ExecutionResult::Halt { reason, .. } => Err(Error::Halted(halt_message(&reason))),
    }
}

/// geth's wording for a halt.
pub(crate) fn halt_message(reason: &revm::context::result::HaltReason) -> String {
    use revm::context::result::{HaltReason as H, OutOfGasError};
    match reason {
        H::OutOfGas(OutOfGasError::Basic | OutOfGasError::InvalidOperand) => "out of gas".into(),
        H::OutOfGas(_) => "out of gas".into(),
        H::OpcodeNotFound | H::InvalidFEOpcode => "invalid opcode".into(),
        H::StackUnderflow => "stack underflow".into(),
        H::StackOverflow => "stack limit reached 1024 (1023)".into(),
        H::CallTooDeep => "max call depth exceeded".into(),
        H::CreateCollision => "contract address collision".into(),
        H::CreateContractSizeLimit => "max code size exceeded".into(),
        H::CreateContractStartingWithEF => "invalid code: must not begin with 0xef".into(),
        H::OutOfFunds => "insufficient balance for transfer".into(),
        H::StateChangeDuringStaticCall => "write protection".into(),
        H::InvalidJump => "invalid jump destination".into(),
        other => format!("execution halted: {other:?}"),
    }
}

fn map_evm_error(err: EVMError<Infallible>, tx: &TxEnv) -> Error {
    match err {
        EVMError::Transaction(invalid) => Error::Rejected(invalid_message(&invalid, tx)),
        EVMError::Header(header) => Error::Rejected(header.to_string()),
        EVMError::Custom(msg) => Error::Rejected(msg),
        EVMError::CustomAny(err) => Error::Rejected(err.to_string()),
        EVMError::Database(never) => match never {},
    }
}

/// geth's messages for transactions rejected before execution.
fn invalid_message(invalid: &InvalidTransaction, tx: &TxEnv) -> String {
    use InvalidTransaction as I;
    let from = tx.caller;
    match invalid {
        I::NonceTooLow { tx: have, state } => {
            format!("nonce too low: address {from}, tx: {have} state: {state}")
        }
        I::NonceTooHigh { tx: have, state } => {
            format!("nonce too high: address {from}, tx: {have} state: {state}")
        }
        I::LackOfFundForMaxFee { fee, balance } => format!(
            "insufficient funds for gas * price + value: address {from} have {balance} want {fee}"
        ),
        I::CallGasCostMoreThanGasLimit { initial_gas, gas_limit } => {
            format!("intrinsic gas too low: have {gas_limit}, want {initial_gas}")
        }
        I::GasFloorMoreThanGasLimit { gas_floor, gas_limit } => {
            format!("intrinsic gas too low: have {gas_limit}, want {gas_floor}")
        }
        I::GasPriceLessThanBasefee => format!(
            "max fee per gas less than block base fee: address {from}, maxFeePerGas: {}, baseFee: {BASE_FEE}",
            tx.gas_price
        ),
        I::PriorityFeeGreaterThanMaxFee => format!(
            "max priority fee per gas higher than max fee per gas: address {from}, maxPriorityFeePerGas: {}, maxFeePerGas: {}",
            tx.gas_priority_fee.unwrap_or_default(),
            tx.gas_price
        ),
        I::CallerGasLimitMoreThanBlock => "exceeds block gas limit".into(),
        I::RejectCallerWithCode => format!("sender not an eoa: address {from}"),
        I::InvalidChainId => "invalid chain id for signer".into(),
        I::CreateInitCodeSizeLimit => "max initcode size exceeded".into(),
        other => other.to_string(),
    }
}
