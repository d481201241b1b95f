//! Single-owner access control with OpenZeppelin's `Ownable` names and errors (interface:
//! `contracts/interfaces/IOwnable.sol`).
//!
//! A contract embeds [`Ownable`] as a storage field, sets the first owner in its constructor with
//! [`Ownable::init`], guards owner-only entry points with [`Ownable::only_owner`] and forwards
//! `owner`, `transferOwnership` and `renounceOwnership` from its public interface.

use alloy_primitives::Address;
use alloy_sol_types::sol;
use stylus_sdk::{prelude::*, storage::StorageAddress};

sol!(
    #[sol(all_derives)]
    "../interfaces/IOwnable.sol"
);

pub use IOwnable::{OwnableInvalidOwner, OwnableUnauthorizedAccount, OwnershipTransferred};

/// Errors of the ownership checks.
#[derive(SolidityError, Debug)]
pub enum OwnableError {
    /// The caller is not the owner.
    Unauthorized(OwnableUnauthorizedAccount),
    /// The zero address cannot own the contract (use `renounceOwnership`).
    InvalidOwner(OwnableInvalidOwner),
}

/// Storage of the owner's address.
#[storage]
pub struct Ownable {
    owner: StorageAddress,
}

impl Ownable {
    /// Sets the first owner; called from the embedding contract's constructor.
    ///
    /// # Errors
    /// [`OwnableError::InvalidOwner`] when `owner` is zero.
    ///
    /// # Events
    /// `OwnershipTransferred(0, owner)`.
    pub fn init(&mut self, owner: Address) -> Result<(), OwnableError> {
        if owner.is_zero() {
            return Err(OwnableError::InvalidOwner(OwnableInvalidOwner { owner }));
        }
        self.set_owner(owner);
        Ok(())
    }

    /// The current owner (zero once renounced).
    pub fn owner(&self) -> Address {
        self.owner.get()
    }

    /// Reverts unless the caller is the owner.
    ///
    /// # Errors
    /// [`OwnableError::Unauthorized`] for any other caller.
    pub fn only_owner(&self) -> Result<(), OwnableError> {
        let caller = self.vm().msg_sender();
        if caller != self.owner.get() {
            return Err(OwnableError::Unauthorized(OwnableUnauthorizedAccount { account: caller }));
        }
        Ok(())
    }

    /// Hands ownership to `new_owner`; owner only.
    ///
    /// # Errors
    /// [`OwnableError::Unauthorized`], or [`OwnableError::InvalidOwner`] for the zero address.
    ///
    /// # Events
    /// `OwnershipTransferred`.
    pub fn transfer_ownership(&mut self, new_owner: Address) -> Result<(), OwnableError> {
        self.only_owner()?;
        if new_owner.is_zero() {
            return Err(OwnableError::InvalidOwner(OwnableInvalidOwner { owner: new_owner }));
        }
        self.set_owner(new_owner);
        Ok(())
    }

    /// Leaves the contract without an owner; owner-only functions become unreachable.
    ///
    /// # Errors
    /// [`OwnableError::Unauthorized`].
    ///
    /// # Events
    /// `OwnershipTransferred(owner, 0)`.
    pub fn renounce_ownership(&mut self) -> Result<(), OwnableError> {
        self.only_owner()?;
        self.set_owner(Address::ZERO);
        Ok(())
    }

    fn set_owner(&mut self, new_owner: Address) {
        let previous_owner = self.owner.get();
        self.owner.set(new_owner);
        crate::emit(
            self.vm(),
            OwnershipTransferred { previousOwner: previous_owner, newOwner: new_owner },
        );
    }
}

/// Implements `From<OwnableError>` for a contract's error enum whose variants
/// `Unauthorized(OwnableUnauthorizedAccount)` and `InvalidOwner(OwnableInvalidOwner)` carry the
/// ownership errors, so owner-only entry points can use `?` on [`Ownable`]'s checks.
#[macro_export]
macro_rules! ownable_errors_into {
    ($error:ty) => {
        impl From<$crate::OwnableError> for $error {
            fn from(e: $crate::OwnableError) -> Self {
                match e {
                    $crate::OwnableError::Unauthorized(e) => Self::Unauthorized(e),
                    $crate::OwnableError::InvalidOwner(e) => Self::InvalidOwner(e),
                }
            }
        }
    };
}
