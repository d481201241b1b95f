//! Dumping and loading the state (`anvil_dumpState` / `anvil_loadState` and `--state <file>`).
//! The format is anvil's JSON: `{"accounts": {address: {nonce, balance, code, storage}}}`.

use std::collections::BTreeMap;

use alloy_primitives::{Address, Bytes, U256};
use revm::{bytecode::Bytecode, state::AccountInfo};
use serde::{Deserialize, Serialize};

use super::Chain;
use crate::error::{Error, Result};

/// One account in a dump.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct AccountDump {
    nonce: u64,
    balance: U256,
    code: Bytes,
    storage: BTreeMap<U256, U256>,
}

/// The whole state.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct StateDump {
    accounts: BTreeMap<Address, AccountDump>,
}

impl StateDump {
    /// Parses a dump from JSON.
    ///
    /// # Errors
    /// [`Error::InvalidState`] when the JSON does not match.
    pub(crate) fn from_json(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|err| Error::InvalidState(err.to_string()))
    }

    /// Serializes the dump to JSON.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("state dump serializes")
    }
}

impl Chain {
    /// Every account with its code and storage.
    pub(crate) fn dump_state(&self) -> StateDump {
        let db = &self.data.db;
        let accounts = db
            .cache
            .accounts
            .iter()
            .filter_map(|(address, account)| {
                let info = account.info()?;
                let code = info
                    .code
                    .clone()
                    .or_else(|| db.cache.contracts.get(&info.code_hash).cloned())
                    .map(|code| code.original_bytes())
                    .unwrap_or_default();
                let storage = account.storage.iter().map(|(k, v)| (*k, *v)).collect();
                let dump = AccountDump { nonce: info.nonce, balance: info.balance, code, storage };
                Some((*address, dump))
            })
            .collect();
        StateDump { accounts }
    }

    /// Writes every account of `dump` into the live state (merging, like anvil).
    ///
    /// # Errors
    /// [`Error::InvalidState`] for malformed code.
    pub(crate) fn load_state(&mut self, dump: StateDump) -> Result<()> {
        for (address, account) in dump.accounts {
            let bytecode = Bytecode::new_raw_checked(account.code)
                .map_err(|err| Error::InvalidState(err.to_string()))?;
            let info = AccountInfo {
                balance: account.balance,
                nonce: account.nonce,
                code_hash: bytecode.hash_slow(),
                code: Some(bytecode),
                ..AccountInfo::default()
            };
            self.data.db.insert_account_info(address, info);
            self.data
                .db
                .replace_account_storage(address, account.storage.into_iter().collect())
                .unwrap_or_else(|never| match never {});
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genesis::DEV_ACCOUNT;

    #[test]
    fn dump_round_trips_through_json_and_load() {
        let mut chain = Chain::new(1, 1);
        chain.set_balance(DEV_ACCOUNT, U256::from(7));
        chain.set_storage(DEV_ACCOUNT, U256::from(1), alloy_primitives::B256::with_last_byte(9));
        let dump = chain.dump_state();
        let parsed = StateDump::from_json(&dump.to_json()).unwrap();
        assert_eq!(parsed, dump);

        let mut fresh = Chain::new(1, 0);
        fresh.load_state(parsed).unwrap();
        assert_eq!(fresh.dump_state(), dump);
        assert_eq!(fresh.account(DEV_ACCOUNT, None).unwrap().balance, U256::from(7));
    }
}
