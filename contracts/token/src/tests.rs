#![allow(clippy::arithmetic_side_effects)] // tests compute expectations freely
use alloy_primitives::{address, Address, U256};
use alloy_sol_types::SolEvent;
use proptest::prelude::*;
use stylus_sdk::testing::*;

use super::*;

const OWNER: Address = address!("0x00000000000000000000000000000000000000a1");
const MINTER: Address = address!("0x00000000000000000000000000000000000000a2");
const ALICE: Address = address!("0x00000000000000000000000000000000000000b1");
const BOB: Address = address!("0x00000000000000000000000000000000000000b2");

fn deploy() -> (TestVM, AssayToken) {
    let vm = TestVM::default();
    let mut token = AssayToken::from(&vm);
    vm.set_sender(OWNER);
    assert!(token.constructor(OWNER).is_ok());
    (vm, token)
}

fn u(x: u64) -> U256 {
    U256::from(x)
}

#[test]
fn constructor_sets_owner_and_rejects_zero() {
    let (_, token) = deploy();
    assert_eq!(token.owner(), OWNER);
    assert_eq!(
        (token.name(), token.symbol(), token.decimals()),
        ("Assay".into(), "ASSAY".into(), 18)
    );
    let vm = TestVM::default();
    let mut other = AssayToken::from(&vm);
    assert!(matches!(other.constructor(Address::ZERO), Err(TokenError::InvalidOwner(_))));
}

#[test]
fn only_owner_or_minter_mints() {
    let (vm, mut token) = deploy();
    token.mint(ALICE, u(100)).unwrap();
    vm.set_sender(ALICE);
    assert!(matches!(token.mint(ALICE, u(1)), Err(TokenError::UnauthorizedMinter(_))));
    assert!(matches!(token.set_minter(ALICE), Err(TokenError::Unauthorized(_))));
    vm.set_sender(OWNER);
    token.set_minter(MINTER).unwrap();
    vm.set_sender(MINTER);
    token.mint(BOB, u(5)).unwrap();
    assert_eq!(
        (token.total_supply(), token.total_minted(), token.balance_of(BOB)),
        (u(105), u(105), u(5))
    );
    assert!(matches!(token.mint(Address::ZERO, u(1)), Err(TokenError::InvalidReceiver(_))));
    assert!(matches!(token.mint(BOB, U256::MAX), Err(TokenError::SupplyOverflow(_))));
}

#[test]
fn renounced_owner_can_no_longer_mint() {
    let (vm, mut token) = deploy();
    token.renounce_ownership().unwrap();
    assert_eq!(token.owner(), Address::ZERO);
    assert!(matches!(token.mint(ALICE, u(1)), Err(TokenError::UnauthorizedMinter(_))));
    vm.set_sender(ALICE);
    assert!(matches!(token.transfer_ownership(ALICE), Err(TokenError::Unauthorized(_))));
}

#[test]
fn transfer_ownership_moves_the_owner_role() {
    let (vm, mut token) = deploy();
    assert!(matches!(token.transfer_ownership(Address::ZERO), Err(TokenError::InvalidOwner(_))));
    token.transfer_ownership(ALICE).unwrap();
    assert!(matches!(token.set_minter(MINTER), Err(TokenError::Unauthorized(_))));
    vm.set_sender(ALICE);
    token.set_minter(MINTER).unwrap();
    assert_eq!(token.minter(), MINTER);
}

#[test]
fn transfer_moves_balance_and_checks_inputs() {
    let (vm, mut token) = deploy();
    token.mint(ALICE, u(10)).unwrap();
    vm.set_sender(ALICE);
    assert!(token.transfer(BOB, u(4)).unwrap());
    assert_eq!((token.balance_of(ALICE), token.balance_of(BOB)), (u(6), u(4)));
    assert!(matches!(token.transfer(BOB, u(7)), Err(TokenError::InsufficientBalance(_))));
    assert!(matches!(token.transfer(Address::ZERO, u(1)), Err(TokenError::InvalidReceiver(_))));
    let logs = vm.get_emitted_logs();
    let last = logs.last().unwrap();
    assert_eq!(last.0[0], IAssayToken::Transfer::SIGNATURE_HASH);
}

#[test]
fn transfer_from_spends_allowance_except_infinite() {
    let (vm, mut token) = deploy();
    token.mint(ALICE, u(10)).unwrap();
    vm.set_sender(ALICE);
    token.approve(BOB, u(3)).unwrap();
    assert!(matches!(token.approve(Address::ZERO, u(3)), Err(TokenError::InvalidSpender(_))));
    vm.set_sender(BOB);
    assert!(matches!(
        token.transfer_from(ALICE, BOB, u(4)),
        Err(TokenError::InsufficientAllowance(_))
    ));
    token.transfer_from(ALICE, BOB, u(2)).unwrap();
    assert_eq!(token.allowance(ALICE, BOB), u(1));
    vm.set_sender(ALICE);
    token.approve(BOB, U256::MAX).unwrap();
    vm.set_sender(BOB);
    token.transfer_from(ALICE, BOB, u(5)).unwrap();
    assert_eq!(token.allowance(ALICE, BOB), U256::MAX);
    assert_eq!(token.balance_of(BOB), u(7));
}

#[test]
fn burn_shrinks_supply_but_not_minted() {
    let (vm, mut token) = deploy();
    token.mint(ALICE, u(10)).unwrap();
    vm.set_sender(ALICE);
    token.burn(u(4)).unwrap();
    assert_eq!((token.total_supply(), token.total_minted()), (u(6), u(10)));
    assert!(matches!(token.burn(u(7)), Err(TokenError::InsufficientBalance(_))));
}

#[derive(Debug, Clone)]
enum Op {
    Mint(usize, u64),
    Transfer(usize, usize, u64),
    Approve(usize, usize, u64),
    TransferFrom(usize, usize, usize, u64),
    Burn(usize, u64),
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0usize..3;
    prop_oneof![
        (who.clone(), 0u64..1000).prop_map(|(a, v)| Op::Mint(a, v)),
        (who.clone(), who.clone(), 0u64..1000).prop_map(|(a, b, v)| Op::Transfer(a, b, v)),
        (who.clone(), who.clone(), 0u64..1000).prop_map(|(a, b, v)| Op::Approve(a, b, v)),
        (who.clone(), who.clone(), who.clone(), 0u64..1000)
            .prop_map(|(s, a, b, v)| Op::TransferFrom(s, a, b, v)),
        (who, 0u64..1000).prop_map(|(a, v)| Op::Burn(a, v)),
    ]
}

proptest! {
    /// Token conservation: balances always add up to the supply, and supply plus burned tokens
    /// to everything ever minted, whatever succeeds or reverts.
    #[test]
    fn balances_sum_to_supply_and_supply_plus_burned_to_minted(ops in proptest::collection::vec(op(), 1..40)) {
        let (vm, mut token) = deploy();
        let accounts = [ALICE, BOB, MINTER];
        let mut burned = U256::ZERO;
        for op in ops {
            match op {
                Op::Mint(a, v) => { vm.set_sender(OWNER); let _ = token.mint(accounts[a], u(v)); }
                Op::Transfer(a, b, v) => { vm.set_sender(accounts[a]); let _ = token.transfer(accounts[b], u(v)); }
                Op::Approve(a, b, v) => { vm.set_sender(accounts[a]); let _ = token.approve(accounts[b], u(v)); }
                Op::TransferFrom(s, a, b, v) => {
                    vm.set_sender(accounts[s]);
                    let _ = token.transfer_from(accounts[a], accounts[b], u(v));
                }
                Op::Burn(a, v) => {
                    vm.set_sender(accounts[a]);
                    if token.burn(u(v)).is_ok() { burned += u(v); }
                }
            }
            let sum: U256 = accounts.iter().map(|a| token.balance_of(*a)).sum();
            prop_assert_eq!(sum, token.total_supply());
            prop_assert_eq!(token.total_supply() + burned, token.total_minted());
        }
    }
}
