//! The ERC-20 state transitions behind the public entry points. Each checks its inputs, updates
//! storage with checked arithmetic and emits its event; none calls out of the contract.

use alloy_primitives::{Address, U256};
use stylus_sdk::prelude::*;

use crate::{AssayToken, IAssayToken as I, TokenError};

impl AssayToken {
    pub(crate) fn _transfer(
        &mut self,
        from: Address,
        to: Address,
        value: U256,
    ) -> Result<(), TokenError> {
        if from.is_zero() {
            return Err(I::ERC20InvalidSender { sender: from }.into());
        }
        if to.is_zero() {
            return Err(I::ERC20InvalidReceiver { receiver: to }.into());
        }
        self._debit(from, value)?;
        // Cannot overflow: the sum of all balances is the total supply, itself a U256.
        let to_balance = self.balances.get(to);
        self.balances.insert(to, to_balance.saturating_add(value));
        assay_contract_kit::emit(self.vm(), I::Transfer { from, to, value });
        Ok(())
    }

    pub(crate) fn _approve(
        &mut self,
        owner: Address,
        spender: Address,
        value: U256,
    ) -> Result<(), TokenError> {
        if owner.is_zero() {
            return Err(I::ERC20InvalidApprover { approver: owner }.into());
        }
        if spender.is_zero() {
            return Err(I::ERC20InvalidSpender { spender }.into());
        }
        self.allowances.setter(owner).insert(spender, value);
        assay_contract_kit::emit(self.vm(), I::Approval { owner, spender, value });
        Ok(())
    }

    pub(crate) fn _spend_allowance(
        &mut self,
        owner: Address,
        spender: Address,
        value: U256,
    ) -> Result<(), TokenError> {
        let allowance = self.allowances.getter(owner).get(spender);
        if allowance == U256::MAX {
            return Ok(());
        }
        let Some(remaining) = allowance.checked_sub(value) else {
            return Err(I::ERC20InsufficientAllowance { spender, allowance, needed: value }.into());
        };
        self.allowances.setter(owner).insert(spender, remaining);
        Ok(())
    }

    pub(crate) fn _mint(&mut self, to: Address, value: U256) -> Result<(), TokenError> {
        if to.is_zero() {
            return Err(I::ERC20InvalidReceiver { receiver: to }.into());
        }
        let minted = self.total_minted.get().checked_add(value).ok_or(I::SupplyOverflow {})?;
        // total_supply <= total_minted, so neither addition below can overflow.
        self.total_minted.set(minted);
        self.total_supply.set(self.total_supply.get().saturating_add(value));
        let balance = self.balances.get(to);
        self.balances.insert(to, balance.saturating_add(value));
        assay_contract_kit::emit(self.vm(), I::Transfer { from: Address::ZERO, to, value });
        Ok(())
    }

    pub(crate) fn _burn(&mut self, from: Address, value: U256) -> Result<(), TokenError> {
        self._debit(from, value)?;
        // A balance never exceeds the supply, so this cannot underflow.
        self.total_supply.set(self.total_supply.get().saturating_sub(value));
        assay_contract_kit::emit(self.vm(), I::Transfer { from, to: Address::ZERO, value });
        Ok(())
    }

    fn _debit(&mut self, from: Address, value: U256) -> Result<(), TokenError> {
        let balance = self.balances.get(from);
        let Some(rest) = balance.checked_sub(value) else {
            return Err(I::ERC20InsufficientBalance { sender: from, balance, needed: value }.into());
        };
        self.balances.insert(from, rest);
        Ok(())
    }
}
