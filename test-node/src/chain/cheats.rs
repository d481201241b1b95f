//! anvil's cheat methods on the chain: direct state edits, impersonation, time travel and
//! snapshots.

use alloy_primitives::{Address, B256, Bytes, U256};
use revm::{Database, bytecode::Bytecode, database::CacheDB};

use super::Chain;
use crate::error::{Error, Result};

impl Chain {
    fn edit_account(&mut self, address: Address, edit: impl FnOnce(&mut revm::state::AccountInfo)) {
        let db: &mut CacheDB<_> = &mut self.data.db;
        let mut info = match db.basic(address) {
            Ok(info) => info.unwrap_or_default(),
            Err(never) => match never {},
        };
        edit(&mut info);
        db.insert_account_info(address, info);
    }

    /// `anvil_setBalance`.
    pub(crate) fn set_balance(&mut self, address: Address, balance: U256) {
        self.edit_account(address, |info| info.balance = balance);
    }

    /// `anvil_setNonce`.
    pub(crate) fn set_nonce(&mut self, address: Address, nonce: u64) {
        self.edit_account(address, |info| info.nonce = nonce);
    }

    /// `anvil_setCode`.
    ///
    /// # Errors
    /// [`Error::InvalidParams`] for malformed EIP-7702 code.
    pub(crate) fn set_code(&mut self, address: Address, code: Bytes) -> Result<()> {
        let bytecode = Bytecode::new_raw_checked(code)
            .map_err(|err| Error::InvalidParams(format!("code: {err}")))?;
        self.edit_account(address, |info| {
            info.code_hash = bytecode.hash_slow();
            info.code = Some(bytecode);
        });
        Ok(())
    }

    /// `anvil_setStorageAt`.
    pub(crate) fn set_storage(&mut self, address: Address, slot: U256, value: B256) {
        self.data
            .db
            .insert_account_storage(address, slot, value.into())
            .unwrap_or_else(|never| match never {});
    }

    /// `anvil_impersonateAccount` / `anvil_stopImpersonatingAccount`.
    pub(crate) fn impersonate(&mut self, address: Address, on: bool) {
        if on {
            self.impersonated.insert(address);
        } else {
            self.impersonated.remove(&address);
        }
    }

    /// Whether the node signs for `address` (impersonated).
    pub(crate) fn is_impersonated(&self, address: Address) -> bool {
        self.impersonated.contains(&address)
    }

    /// `evm_increaseTime`: shifts the clock and returns the total shift.
    pub(crate) fn increase_time(&mut self, seconds: i64) -> i64 {
        self.data.time_offset = self.data.time_offset.saturating_add(seconds);
        self.data.time_offset
    }

    /// `evm_setNextBlockTimestamp`.
    ///
    /// # Errors
    /// [`Error::InvalidParams`] when the timestamp is before the latest block's.
    pub(crate) fn set_next_timestamp(&mut self, timestamp: u64) -> Result<()> {
        let latest = self.latest().header.timestamp;
        if timestamp < latest {
            return Err(Error::InvalidParams(format!(
                "timestamp {timestamp} is lower than the latest block's {latest}"
            )));
        }
        self.data.next_timestamp = Some(timestamp);
        Ok(())
    }

    /// `evm_snapshot`: records the whole chain and returns the snapshot id.
    pub(crate) fn snapshot(&mut self) -> u64 {
        let id = self.next_snapshot;
        self.next_snapshot += 1;
        self.snapshots.insert(id, self.data.clone());
        id
    }

    /// `evm_revert`: restores a snapshot; it and all later ones are consumed. Returns whether
    /// the snapshot existed.
    pub(crate) fn revert_to(&mut self, id: u64) -> bool {
        let Some(data) = self.snapshots.remove(&id) else {
            return false;
        };
        self.snapshots.split_off(&id);
        self.data = data;
        true
    }
}
