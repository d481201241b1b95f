//! `eth_call` and `eth_estimateGas`: execution on a throw-away overlay of the state at a block,
//! with geth's state overrides.

use alloy_eips::BlockId;
use alloy_primitives::{Address, Bytes};
use alloy_rpc_types_eth::{TransactionRequest, state::StateOverride};
use revm::{
    Database,
    bytecode::Bytecode,
    context::result::{ExecutionResult, ResultAndState},
    database::CacheDB,
};

use super::Chain;
use crate::{
    error::{Error, Result},
    evm::{self, BlockInfo, Db, TX_GAS_LIMIT},
    tx::{RequestDefaults, request_env},
};

/// geth's tolerance for `eth_estimateGas`: stop when the window is within 1.5 %.
const ESTIMATE_ERROR_RATIO: f64 = 0.015;

/// A call: the transaction fields, the block it runs on, and state overrides.
#[derive(Clone, Debug, Default)]
pub(crate) struct CallRequest {
    pub(crate) tx: TransactionRequest,
    pub(crate) block: Option<BlockId>,
    pub(crate) overrides: Option<StateOverride>,
}

impl Chain {
    /// Runs a call and returns its output.
    ///
    /// # Errors
    /// [`Error::Reverted`] with the revert data, [`Error::Halted`], [`Error::Rejected`] for
    /// invalid requests (e.g. insufficient funds for the value), [`Error::UnknownBlock`].
    pub(crate) fn call(&self, req: &CallRequest) -> Result<Bytes> {
        evm::call_output(self.run_call(req, req.tx.gas.unwrap_or(TX_GAS_LIMIT))?)
    }

    /// Finds the smallest gas limit that lets the call succeed (within geth's 1.5 %).
    ///
    /// # Errors
    /// As [`Chain::call`] when the call fails even with the maximum gas.
    pub(crate) fn estimate_gas(&self, req: &CallRequest) -> Result<u64> {
        let mut hi = req.tx.gas.unwrap_or(TX_GAS_LIMIT).min(TX_GAS_LIMIT);
        let first = self.run_call(req, hi)?;
        let used = first.tx_gas_used();
        match evm::call_output(first) {
            // geth's wording when even the cap is not enough.
            Err(Error::Halted(reason)) if reason == "out of gas" => {
                return Err(Error::Rejected(format!("gas required exceeds allowance ({hi})")));
            }
            other => {
                other?;
            }
        }
        let mut lo = used.saturating_sub(1);
        // Most calls need a little more than they use (refunds, the 63/64 rule): try that first.
        let optimistic = (used + 2_300) * 64 / 63;
        if optimistic < hi {
            if self.succeeds(req, optimistic)? {
                hi = optimistic;
            } else {
                lo = optimistic;
            }
        }
        while lo + 1 < hi {
            if (hi - lo) as f64 / hi as f64 <= ESTIMATE_ERROR_RATIO {
                break;
            }
            let mid = lo + (hi - lo) / 2;
            if self.succeeds(req, mid)? {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(hi)
    }

    fn succeeds(&self, req: &CallRequest, gas: u64) -> Result<bool> {
        match self.run_call(req, gas) {
            Ok(result) => Ok(result.is_success()),
            // Too little gas for the intrinsic cost is a failure at this limit, not an error.
            Err(Error::Rejected(_)) => Ok(false),
            Err(other) => Err(other),
        }
    }

    fn run_call(&self, req: &CallRequest, gas: u64) -> Result<ExecutionResult> {
        let block = self.block(req.block.unwrap_or_default())?;
        let info = BlockInfo { number: block.number(), timestamp: block.header.timestamp };
        let from = req.tx.from.unwrap_or_default();
        let nonce = self.account(from, req.block)?.nonce;
        let defaults = RequestDefaults { nonce, gas_limit: gas, chain_id: self.chain_id() };
        let mut env = request_env(&req.tx, defaults);
        env.gas_limit = gas;
        let cfg = evm::call_cfg(self.chain_id());
        self.with_state(req.block, |base: &Db| {
            let mut db = CacheDB::new(base);
            if let Some(overrides) = &req.overrides {
                apply_overrides(&mut db, overrides)?;
            }
            let ResultAndState { result, .. } = evm::transact(&mut db, info, cfg, env)?;
            Ok(result)
        })?
    }
}

/// Applies geth's state overrides (`balance`, `nonce`, `code`, `state`, `stateDiff`).
pub(crate) fn apply_overrides<DB>(db: &mut CacheDB<DB>, overrides: &StateOverride) -> Result<()>
where
    DB: revm::DatabaseRef<Error = std::convert::Infallible>,
{
    for (address, account) in overrides {
        let address: Address = *address;
        let mut info = match db.basic(address) {
            Ok(info) => info.unwrap_or_default(),
            Err(never) => match never {},
        };
        if let Some(balance) = account.balance {
            info.balance = balance;
        }
        if let Some(nonce) = account.nonce {
            info.nonce = nonce;
        }
        if let Some(code) = &account.code {
            let bytecode = Bytecode::new_raw_checked(code.clone())
                .map_err(|err| Error::InvalidParams(format!("override code: {err}")))?;
            info.code_hash = bytecode.hash_slow();
            info.code = Some(bytecode);
        }
        db.insert_account_info(address, info);
        if let Some(state) = &account.state {
            let slots = state.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
            db.replace_account_storage(address, slots).unwrap_or_else(|never| match never {});
        }
        if let Some(diff) = &account.state_diff {
            for (slot, value) in diff {
                db.insert_account_storage(address, (*slot).into(), (*value).into())
                    .unwrap_or_else(|never| match never {});
            }
        }
    }
    Ok(())
}
