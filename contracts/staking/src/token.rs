//! Calls to the ASSAY token. Each maps a failed call to `TokenCallFailed`.

use alloy_primitives::{Address, U256};
use assay_contract_kit::calls::{call_mut, call_view};
use stylus_sdk::prelude::*;

use crate::{IAssayToken, IStaking, Result, Staking};

impl Staking {
    fn token_failed(&self) -> crate::StakingError {
        IStaking::TokenCallFailed { token: self.token.get() }.into()
    }

    /// Pulls `amount` from `from` into this contract (needs an allowance).
    pub(crate) fn _pull(&mut self, from: Address, amount: U256) -> Result<()> {
        let to = self.vm().contract_address();
        let call = IAssayToken::transferFromCall { from, to, value: amount };
        match call_mut(self, self.token.get(), &call) {
            Some(true) => Ok(()),
            _ => Err(self.token_failed()),
        }
    }

    /// Sends `amount` of this contract's tokens to `to`.
    pub(crate) fn _pay(&mut self, to: Address, amount: U256) -> Result<()> {
        if amount.is_zero() {
            return Ok(());
        }
        let call = IAssayToken::transferCall { to, value: amount };
        match call_mut(self, self.token.get(), &call) {
            Some(true) => Ok(()),
            _ => Err(self.token_failed()),
        }
    }

    /// Burns `amount` of this contract's tokens.
    pub(crate) fn _burn(&mut self, amount: U256) -> Result<()> {
        if amount.is_zero() {
            return Ok(());
        }
        let call = IAssayToken::burnCall { value: amount };
        call_mut(self, self.token.get(), &call).map(|_| ()).ok_or_else(|| self.token_failed())
    }

    /// This contract's token balance.
    pub(crate) fn _token_balance(&self) -> Result<U256> {
        let call = IAssayToken::balanceOfCall { account: self.vm().contract_address() };
        call_view(self, self.token.get(), &call).ok_or_else(|| self.token_failed())
    }
}
