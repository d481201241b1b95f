//! Building blocks embedded by the Assay Stylus contracts.
//!
//! - [`ownable`]: single-owner access control (OpenZeppelin `Ownable` semantics).
//! - [`calls`]: typed calls to other contracts through the `sol!` bindings of the shared
//!   `contracts/interfaces/*.sol` files, so no ABI is written twice.
//! - [`events`]: typed events through one out-of-line emitter (`emit`).
//! - [`errors`]: compact revert data (`solidity_errors!`), one out-of-line encoder per contract.
//! - `testing` (feature `testing`): a test host whose mocked calls answer with their own data.

extern crate alloc;

pub mod calls;
pub mod errors;
pub mod events;
pub mod ownable;
#[cfg(feature = "testing")]
pub mod testing;

pub use events::emit;
pub use ownable::{
    Ownable, OwnableError, OwnableInvalidOwner, OwnableUnauthorizedAccount, OwnershipTransferred,
};
