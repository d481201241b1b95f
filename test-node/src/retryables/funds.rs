//! Balance moves on a revm journal, as ArbOS makes them outside the EVM (minting deposits,
//! escrow transfers, refunds), and Nitro's `takeFunds` for refund pools.

use std::convert::Infallible;

use alloy_primitives::{Address, U256};
use revm::{
    context::JournalTr, context_interface::journaled_state::account::JournaledAccountTr,
    database::Database,
};

/// A journal over the node's infallible databases.
pub(crate) trait StateJournal: JournalTr<Database: Database<Error = Infallible>> {}

impl<J: JournalTr<Database: Database<Error = Infallible>>> StateJournal for J {}

/// The balance of `address`.
pub(crate) fn balance<J: StateJournal>(journal: &mut J, address: Address) -> U256 {
    let account = journal.load_account(address).unwrap_or_else(|never| match never {});
    account.data.info.balance
}

/// Credits `amount` to `address` out of nothing (deposits, prepaid gas, minted refunds).
pub(crate) fn mint<J: StateJournal>(journal: &mut J, address: Address, amount: U256) {
    let mut account = journal.load_account_mut(address).unwrap_or_else(|never| match never {});
    account.data.incr_balance(amount);
}

/// Removes `amount` from `address`; `false` (and nothing removed) when it has less.
pub(crate) fn burn<J: StateJournal>(journal: &mut J, address: Address, amount: U256) -> bool {
    let mut account = journal.load_account_mut(address).unwrap_or_else(|never| match never {});
    account.data.decr_balance(amount)
}

/// Moves `amount` from `from` to `to`; `false` (and nothing moved) when `from` has less.
pub(crate) fn transfer<J: StateJournal>(
    journal: &mut J,
    from: Address,
    to: Address,
    amount: U256,
) -> bool {
    journal.transfer(from, to, amount).unwrap_or_else(|never| match never {}).is_none()
}

/// Nitro's `takeFunds`: takes up to `take` out of `pool` and returns what was taken.
pub(crate) fn take_funds(pool: &mut U256, take: U256) -> U256 {
    let taken = take.min(*pool);
    *pool -= taken;
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_funds_never_goes_negative() {
        let mut pool = U256::from(10);
        assert_eq!(take_funds(&mut pool, U256::from(4)), U256::from(4));
        assert_eq!(take_funds(&mut pool, U256::from(9)), U256::from(6));
        assert_eq!(pool, U256::ZERO);
        assert_eq!(take_funds(&mut pool, U256::from(1)), U256::ZERO);
    }
}
