//! The JSON-RPC request: one enum tagged by method name, parsed in one place.

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rpc_types_eth::{Filter, TransactionRequest, state::StateOverride};
use serde::Deserialize;
use serde_json::Value;

use crate::{error::Error, retryables::RetryableMessage};

/// A number given either as JSON number or as hex / decimal string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Quantity(pub(crate) u64);

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        match Value::deserialize(deserializer)? {
            Value::Number(n) => n.as_u64().map(Self).ok_or_else(|| D::Error::custom("not a u64")),
            Value::String(s) => match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).map(Self).map_err(D::Error::custom),
                None => s.parse().map(Self).map_err(D::Error::custom),
            },
            other => Err(D::Error::custom(format!("expected a quantity, got {other}"))),
        }
    }
}

/// Every method the node serves, with its positional parameters.
#[derive(Debug, Deserialize)]
#[serde(tag = "method", content = "params")]
pub(crate) enum Request {
    #[serde(rename = "web3_clientVersion")]
    ClientVersion,
    #[serde(rename = "net_version")]
    NetVersion,
    #[serde(rename = "net_listening")]
    NetListening,
    #[serde(rename = "eth_chainId")]
    ChainId,
    #[serde(rename = "eth_syncing")]
    Syncing,
    #[serde(rename = "eth_accounts")]
    Accounts,
    #[serde(rename = "eth_blockNumber")]
    BlockNumber,
    #[serde(rename = "eth_gasPrice")]
    GasPrice,
    #[serde(rename = "eth_maxPriorityFeePerGas")]
    MaxPriorityFee,
    #[serde(rename = "eth_feeHistory")]
    FeeHistory(Quantity, BlockNumberOrTag, Option<Vec<f64>>),
    #[serde(rename = "eth_getBlockByNumber")]
    BlockByNumber(BlockNumberOrTag, Option<bool>),
    #[serde(rename = "eth_getBlockByHash")]
    BlockByHash(B256, Option<bool>),
    #[serde(rename = "eth_getBlockTransactionCountByNumber")]
    BlockTxCountByNumber((BlockNumberOrTag,)),
    #[serde(rename = "eth_getBlockTransactionCountByHash")]
    BlockTxCountByHash((B256,)),
    #[serde(rename = "eth_getTransactionByBlockNumberAndIndex")]
    TransactionByNumberAndIndex(BlockNumberOrTag, Quantity),
    #[serde(rename = "eth_getTransactionByBlockHashAndIndex")]
    TransactionByHashAndIndex(B256, Quantity),
    #[serde(rename = "eth_coinbase")]
    Coinbase,
    #[serde(rename = "eth_getBalance")]
    Balance(Address, Option<BlockId>),
    #[serde(rename = "eth_getTransactionCount")]
    TransactionCount(Address, Option<BlockId>),
    #[serde(rename = "eth_getCode")]
    Code(Address, Option<BlockId>),
    #[serde(rename = "eth_getStorageAt")]
    StorageAt(Address, U256, Option<BlockId>),
    #[serde(rename = "eth_call")]
    Call(TransactionRequest, Option<BlockId>, Option<StateOverride>),
    #[serde(rename = "eth_estimateGas")]
    EstimateGas(TransactionRequest, Option<BlockId>, Option<StateOverride>),
    #[serde(rename = "eth_sendRawTransaction")]
    SendRawTransaction((Bytes,)),
    #[serde(rename = "eth_sendTransaction")]
    SendTransaction((TransactionRequest,)),
    #[serde(rename = "eth_getTransactionByHash")]
    TransactionByHash((B256,)),
    #[serde(rename = "eth_getTransactionReceipt")]
    TransactionReceipt((B256,)),
    #[serde(rename = "eth_getBlockReceipts")]
    BlockReceipts((BlockId,)),
    #[serde(rename = "eth_getLogs")]
    Logs((Filter,)),
    #[serde(rename = "eth_newFilter")]
    NewFilter((Filter,)),
    #[serde(rename = "eth_newBlockFilter")]
    NewBlockFilter,
    #[serde(rename = "eth_getFilterChanges")]
    FilterChanges((Quantity,)),
    #[serde(rename = "eth_getFilterLogs")]
    FilterLogs((Quantity,)),
    #[serde(rename = "eth_uninstallFilter")]
    UninstallFilter((Quantity,)),
    #[serde(rename = "anvil_setBalance", alias = "hardhat_setBalance")]
    SetBalance(Address, U256),
    #[serde(rename = "anvil_setCode", alias = "hardhat_setCode")]
    SetCode(Address, Bytes),
    #[serde(rename = "anvil_setNonce", alias = "hardhat_setNonce")]
    SetNonce(Address, Quantity),
    #[serde(rename = "anvil_setStorageAt", alias = "hardhat_setStorageAt")]
    SetStorageAt(Address, U256, B256),
    #[serde(rename = "anvil_impersonateAccount", alias = "hardhat_impersonateAccount")]
    Impersonate((Address,)),
    #[serde(rename = "anvil_stopImpersonatingAccount", alias = "hardhat_stopImpersonatingAccount")]
    StopImpersonating((Address,)),
    #[serde(rename = "anvil_mine", alias = "hardhat_mine")]
    MineMany(Option<Quantity>, Option<Quantity>),
    #[serde(rename = "evm_mine")]
    Mine((Option<Value>,)),
    #[serde(rename = "evm_snapshot", alias = "anvil_snapshot")]
    Snapshot,
    #[serde(rename = "evm_revert", alias = "anvil_revert")]
    Revert((Quantity,)),
    #[serde(rename = "evm_increaseTime", alias = "anvil_increaseTime")]
    IncreaseTime((Quantity,)),
    #[serde(rename = "evm_setNextBlockTimestamp", alias = "anvil_setNextBlockTimestamp")]
    SetNextBlockTimestamp((Quantity,)),
    #[serde(rename = "evm_setAutomine", alias = "anvil_setAutomine")]
    SetAutomine((bool,)),
    #[serde(rename = "anvil_getAutomine", alias = "hardhat_getAutomine")]
    GetAutomine,
    #[serde(rename = "evm_setIntervalMining", alias = "anvil_setIntervalMining")]
    SetIntervalMining((Quantity,)),
    #[serde(rename = "anvil_dumpState", alias = "hardhat_dumpState")]
    DumpState,
    #[serde(rename = "anvil_loadState", alias = "hardhat_loadState")]
    LoadState((Bytes,)),
    /// Test-node specific: an L1 `createRetryableTicket` message arriving on L2.
    #[serde(rename = "testnode_submitRetryable")]
    SubmitRetryable((Box<RetryableMessage>,)),
}

/// The largest number of positional parameters any method takes.
const MAX_PARAMS: usize = 3;

impl Request {
    /// Parses `method` and `params`. Optional trailing parameters may be left out: missing ones
    /// are filled with `null` until the method's arity is met.
    ///
    /// # Errors
    /// [`Error::MethodNotFound`] for unknown methods, [`Error::InvalidParams`] otherwise.
    pub(crate) fn parse(method: &str, params: Option<Value>) -> Result<Self, Error> {
        let mut params = match params {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(Error::InvalidParams(format!("params must be an array, got {other}")));
            }
        };
        loop {
            let mut object = serde_json::Map::new();
            object.insert("method".into(), Value::String(method.into()));
            if !params.is_empty() {
                object.insert("params".into(), Value::Array(params.clone()));
            }
            match serde_json::from_value::<Self>(Value::Object(object)) {
                Ok(request) => return Ok(request),
                Err(err) => {
                    let message = err.to_string();
                    if message.starts_with("unknown variant") {
                        return Err(Error::MethodNotFound(method.into()));
                    }
                    let short =
                        message.contains("invalid length") || message.contains("missing field");
                    if !short || params.len() >= MAX_PARAMS {
                        return Err(Error::InvalidParams(message));
                    }
                    params.push(Value::Null);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn optional_params_may_be_omitted() {
        let addr = "0x3f1Eae7D46d88F08fc2F8ed27FCb2AB183EB2d0E";
        let r = Request::parse("eth_getBalance", Some(json!([addr]))).unwrap();
        assert!(matches!(r, Request::Balance(_, None)));
        let r = Request::parse("eth_getBalance", Some(json!([addr, "latest"]))).unwrap();
        assert!(matches!(r, Request::Balance(_, Some(_))));
        assert!(matches!(
            Request::parse("eth_chainId", Some(json!([]))).unwrap(),
            Request::ChainId
        ));
        assert!(matches!(Request::parse("eth_chainId", None).unwrap(), Request::ChainId));
        assert!(matches!(Request::parse("evm_mine", None).unwrap(), Request::Mine((None,))));
        assert!(matches!(
            Request::parse("hardhat_setBalance", Some(json!([addr, "0x1"]))).unwrap(),
            Request::SetBalance(..)
        ));
    }

    #[test]
    fn unknown_methods_and_bad_params_are_distinguished() {
        assert!(matches!(Request::parse("eth_nope", None), Err(Error::MethodNotFound(_))));
        assert!(matches!(
            Request::parse("eth_getBalance", Some(json!(["0x12"]))),
            Err(Error::InvalidParams(_))
        ));
        assert!(matches!(Request::parse("eth_getBalance", None), Err(Error::InvalidParams(_))));
    }
}
