//! ASSAY, the Assay network's ERC-20 reward and staking token (interface:
//! `contracts/interfaces/IAssayToken.sol`).
//!
//! - Standard ERC-20 with ERC-6093 custom errors.
//! - New supply comes only from [`AssayToken::mint`], callable by the minter (the job market,
//!   paying epoch rewards) or the owner (bootstrap allocation; renounce ownership to end it).
//! - `burn` destroys the caller's tokens (the staking contract burns the unpaid part of slashes).
//! - `totalMinted` only grows: `totalSupply + burned == totalMinted` always holds.
//!
//! State: balances, allowances, total supply, total minted, minter, owner.
#![cfg_attr(not(any(test, feature = "export-abi")), no_main)]

extern crate alloc;

mod erc20;

use alloc::string::String;

use alloy_primitives::{Address, U256};
use alloy_sol_types::sol;
use assay_contract_kit::Ownable;
use stylus_sdk::{
    prelude::*,
    storage::{StorageAddress, StorageMap, StorageU256},
};

sol!(
    #[sol(all_derives)]
    "../interfaces/IAssayToken.sol"
);

/// Token name.
pub const NAME: &str = "Assay";
/// Token symbol.
pub const SYMBOL: &str = "ASSAY";
/// Token decimals.
pub const DECIMALS: u8 = 18;

/// The token's storage.
#[storage]
#[entrypoint]
pub struct AssayToken {
    balances: StorageMap<Address, StorageU256>,
    allowances: StorageMap<Address, StorageMap<Address, StorageU256>>,
    total_supply: StorageU256,
    total_minted: StorageU256,
    minter: StorageAddress,
    ownable: Ownable,
}

/// Every revert of the token, each a named Solidity error.
#[derive(SolidityError, Debug)]
pub enum TokenError {
    /// `ERC20InsufficientBalance`.
    InsufficientBalance(IAssayToken::ERC20InsufficientBalance),
    /// `ERC20InvalidSender`.
    InvalidSender(IAssayToken::ERC20InvalidSender),
    /// `ERC20InvalidReceiver`.
    InvalidReceiver(IAssayToken::ERC20InvalidReceiver),
    /// `ERC20InsufficientAllowance`.
    InsufficientAllowance(IAssayToken::ERC20InsufficientAllowance),
    /// `ERC20InvalidApprover`.
    InvalidApprover(IAssayToken::ERC20InvalidApprover),
    /// `ERC20InvalidSpender`.
    InvalidSpender(IAssayToken::ERC20InvalidSpender),
    /// `UnauthorizedMinter`.
    UnauthorizedMinter(IAssayToken::UnauthorizedMinter),
    /// `SupplyOverflow`.
    SupplyOverflow(IAssayToken::SupplyOverflow),
    /// `OwnableUnauthorizedAccount`.
    Unauthorized(assay_contract_kit::OwnableUnauthorizedAccount),
    /// `OwnableInvalidOwner`.
    InvalidOwner(assay_contract_kit::OwnableInvalidOwner),
}

assay_contract_kit::ownable_errors_into!(TokenError);

#[public]
impl AssayToken {
    /// Sets the owner, who may mint the bootstrap allocation and appoint the minter.
    #[constructor]
    pub fn constructor(&mut self, owner: Address) -> Result<(), TokenError> {
        Ok(self.ownable.init(owner)?)
    }

    /// The token name.
    pub fn name(&self) -> String {
        NAME.into()
    }

    /// The token symbol.
    pub fn symbol(&self) -> String {
        SYMBOL.into()
    }

    /// The token decimals.
    pub fn decimals(&self) -> u8 {
        DECIMALS
    }

    /// Tokens in existence.
    pub fn total_supply(&self) -> U256 {
        self.total_supply.get()
    }

    /// Tokens ever minted; never decreases.
    pub fn total_minted(&self) -> U256 {
        self.total_minted.get()
    }

    /// Balance of `account`.
    pub fn balance_of(&self, account: Address) -> U256 {
        self.balances.get(account)
    }

    /// What `spender` may still move out of `owner`'s balance.
    pub fn allowance(&self, owner: Address, spender: Address) -> U256 {
        self.allowances.getter(owner).get(spender)
    }

    /// Moves `value` from the caller to `to`.
    ///
    /// # Errors
    /// `ERC20InvalidReceiver` for the zero address, `ERC20InsufficientBalance`.
    ///
    /// # Events
    /// `Transfer`.
    pub fn transfer(&mut self, to: Address, value: U256) -> Result<bool, TokenError> {
        let from = self.vm().msg_sender();
        self._transfer(from, to, value)?;
        Ok(true)
    }

    /// Lets `spender` move up to `value` of the caller's tokens.
    ///
    /// # Errors
    /// `ERC20InvalidSpender` for the zero address.
    ///
    /// # Events
    /// `Approval`.
    pub fn approve(&mut self, spender: Address, value: U256) -> Result<bool, TokenError> {
        let owner = self.vm().msg_sender();
        self._approve(owner, spender, value)?;
        Ok(true)
    }

    /// Moves `value` from `from` to `to` using the caller's allowance (an allowance of
    /// `type(uint256).max` is never decreased).
    ///
    /// # Errors
    /// `ERC20InsufficientAllowance`, `ERC20InsufficientBalance`, `ERC20InvalidSender`,
    /// `ERC20InvalidReceiver`.
    ///
    /// # Events
    /// `Transfer`.
    pub fn transfer_from(
        &mut self,
        from: Address,
        to: Address,
        value: U256,
    ) -> Result<bool, TokenError> {
        let spender = self.vm().msg_sender();
        self._spend_allowance(from, spender, value)?;
        self._transfer(from, to, value)?;
        Ok(true)
    }

    /// Destroys `value` of the caller's tokens.
    ///
    /// # Errors
    /// `ERC20InsufficientBalance`.
    ///
    /// # Events
    /// `Transfer(caller, 0, value)`.
    pub fn burn(&mut self, value: U256) -> Result<(), TokenError> {
        let from = self.vm().msg_sender();
        self._burn(from, value)
    }

    /// Creates `value` new tokens for `to`; minter or owner only.
    ///
    /// # Errors
    /// `UnauthorizedMinter`, `ERC20InvalidReceiver`, `SupplyOverflow`.
    ///
    /// # Events
    /// `Transfer(0, to, value)`.
    pub fn mint(&mut self, to: Address, value: U256) -> Result<(), TokenError> {
        let caller = self.vm().msg_sender();
        if caller != self.minter.get() && caller != self.ownable.owner() {
            return Err(IAssayToken::UnauthorizedMinter { account: caller }.into());
        }
        self._mint(to, value)
    }

    /// The account allowed to mint epoch rewards.
    pub fn minter(&self) -> Address {
        self.minter.get()
    }

    /// Appoints the minter (zero to have none); owner only.
    ///
    /// # Errors
    /// `OwnableUnauthorizedAccount`.
    ///
    /// # Events
    /// `MinterSet`.
    pub fn set_minter(&mut self, minter: Address) -> Result<(), TokenError> {
        self.ownable.only_owner()?;
        self.minter.set(minter);
        assay_contract_kit::emit(self.vm(), IAssayToken::MinterSet { minter });
        Ok(())
    }

    /// The owner.
    pub fn owner(&self) -> Address {
        self.ownable.owner()
    }

    /// Hands ownership to `new_owner`.
    ///
    /// # Errors
    /// `OwnableUnauthorizedAccount`, `OwnableInvalidOwner`.
    pub fn transfer_ownership(&mut self, new_owner: Address) -> Result<(), TokenError> {
        Ok(self.ownable.transfer_ownership(new_owner)?)
    }

    /// Ends owner minting for good.
    ///
    /// # Errors
    /// `OwnableUnauthorizedAccount`.
    pub fn renounce_ownership(&mut self) -> Result<(), TokenError> {
        Ok(self.ownable.renounce_ownership()?)
    }
}

#[cfg(test)]
mod tests;
