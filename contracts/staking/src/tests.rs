#![allow(clippy::arithmetic_side_effects)] // tests compute expectations freely
use alloy_primitives::{address, Address, U256};
use alloy_sol_types::SolCall;
use proptest::prelude::*;
use stylus_sdk::testing::*;

use super::*;

const OWNER: Address = address!("0x00000000000000000000000000000000000000a1");
const TOKEN: Address = address!("0x00000000000000000000000000000000000000a2");
const STAKING: Address = address!("0x00000000000000000000000000000000000000a3");
const MARKET: Address = address!("0x00000000000000000000000000000000000000a4");
const MINER: Address = address!("0x00000000000000000000000000000000000000b1");
const COORD: Address = address!("0x00000000000000000000000000000000000000b2");
const ALICE: Address = address!("0x00000000000000000000000000000000000000c1");
const BOB: Address = address!("0x00000000000000000000000000000000000000c2");
const DELAY: u64 = 100;
const MIN: u64 = 1_000;

fn u(x: u64) -> U256 {
    U256::from(x)
}

/// Makes the token accept `transferFrom(from, staking, amount)`.
fn mock_pull(vm: &TestVM, from: Address, amount: U256) {
    let call = IAssayToken::transferFromCall { from, to: STAKING, value: amount };
    vm.mock_call(
        TOKEN,
        call.abi_encode(),
        U256::ZERO,
        Ok(IAssayToken::transferFromCall::abi_encode_returns(&true)),
    );
}

/// Makes the token accept `transfer(to, amount)` from the staking contract.
fn mock_pay(vm: &TestVM, to: Address, amount: U256) {
    let call = IAssayToken::transferCall { to, value: amount };
    vm.mock_call(
        TOKEN,
        call.abi_encode(),
        U256::ZERO,
        Ok(IAssayToken::transferCall::abi_encode_returns(&true)),
    );
}

fn mock_burn(vm: &TestVM, amount: U256) {
    vm.mock_call(
        TOKEN,
        IAssayToken::burnCall { value: amount }.abi_encode(),
        U256::ZERO,
        Ok(Vec::new()),
    );
}

fn mock_balance(vm: &TestVM, balance: U256) {
    let call = IAssayToken::balanceOfCall { account: STAKING };
    vm.mock_static_call(
        TOKEN,
        call.abi_encode(),
        Ok(IAssayToken::balanceOfCall::abi_encode_returns(&balance)),
    );
}

fn deploy() -> (TestVM, Staking) {
    let vm = TestVM::default();
    vm.set_contract_address(STAKING);
    vm.set_block_timestamp(1_000);
    let mut staking = Staking::from(&vm);
    vm.set_sender(OWNER);
    staking.constructor(OWNER, TOKEN, u(MIN), u(2 * MIN), DELAY).unwrap();
    staking.set_controller(MARKET, true).unwrap();
    (vm, staking)
}

fn register(vm: &TestVM, staking: &mut Staking, who: Address, role: u8, amount: u64) {
    vm.set_sender(who);
    mock_pull(vm, who, u(amount));
    staking.register_operator(role, u(amount)).unwrap();
}

#[test]
fn register_checks_role_minimum_and_duplicates() {
    let (vm, mut staking) = deploy();
    vm.set_sender(MINER);
    assert!(matches!(staking.register_operator(7, u(MIN)), Err(StakingError::UnknownRole(_))));
    assert!(matches!(
        staking.register_operator(ROLE_MINER, u(MIN - 1)),
        Err(StakingError::BelowMinimumStake(_))
    ));
    register(&vm, &mut staking, MINER, ROLE_MINER, MIN);
    assert!(matches!(
        staking.register_operator(ROLE_MINER, u(MIN)),
        Err(StakingError::AlreadyRegistered(_))
    ));
    assert_eq!(
        staking.operator_info(MINER),
        (ROLE_MINER, u(MIN), u(MIN), U256::ZERO, INITIAL_REPUTATION, 0)
    );
    assert!(staking.is_eligible(MINER, ROLE_MINER));
    assert!(!staking.is_eligible(MINER, ROLE_COORDINATOR));
    assert_eq!(staking.total_accounted(), u(MIN));
}

#[test]
fn failed_token_pull_reverts_with_named_error() {
    // TestVM does not roll storage back on a revert (the chain does), so this runs alone.
    let (vm, mut staking) = deploy();
    vm.set_sender(MINER);
    assert!(matches!(
        staking.register_operator(ROLE_MINER, u(MIN)),
        Err(StakingError::TokenCallFailed(_))
    ));
}

#[test]
fn delegation_shares_rewards_and_slashes_pro_rata() {
    let (vm, mut staking) = deploy();
    register(&vm, &mut staking, MINER, ROLE_MINER, 3_000);
    vm.set_sender(ALICE);
    mock_pull(&vm, ALICE, u(1_000));
    staking.stake(MINER, u(1_000)).unwrap();
    // Reward 400: the miner holds 3/4 of the pool, Alice 1/4.
    vm.set_sender(MARKET);
    mock_balance(&vm, u(4_400));
    staking.add_reward(MINER, u(400)).unwrap();
    assert_eq!(staking.stake_of(MINER, ALICE), u(1_099)); // 1100 minus virtual-share rounding
    assert_eq!(staking.stake_of(MINER, MINER), u(3_299));
    // Slash 2 200: everyone loses half.
    mock_pay(&vm, COORD, u(2_200));
    assert_eq!(staking.slash(MINER, u(2_200), COORD).unwrap(), u(2_200));
    assert_eq!(staking.stake_of(MINER, ALICE), u(550));
    assert_eq!(staking.total_accounted(), u(2_200));
}

#[test]
fn stake_requires_registered_unfrozen_operator_and_amount() {
    let (vm, mut staking) = deploy();
    vm.set_sender(ALICE);
    assert!(matches!(staking.stake(MINER, u(1)), Err(StakingError::NotRegistered(_))));
    register(&vm, &mut staking, MINER, ROLE_MINER, MIN);
    vm.set_sender(ALICE);
    assert!(matches!(staking.stake(MINER, U256::ZERO), Err(StakingError::ZeroAmount(_))));
    vm.set_sender(MARKET);
    staking.freeze(MINER).unwrap();
    vm.set_sender(ALICE);
    assert!(matches!(staking.stake(MINER, u(5)), Err(StakingError::StakeFrozen(_))));
}

#[test]
fn unbonding_waits_for_delay_and_never_releases_frozen_stake() {
    let (vm, mut staking) = deploy();
    register(&vm, &mut staking, MINER, ROLE_MINER, 2_000);
    vm.set_sender(MINER);
    assert!(matches!(staking.withdraw(MINER), Err(StakingError::NothingUnbonding(_))));
    assert!(matches!(
        staking.request_unstake(MINER, u(2_001)),
        Err(StakingError::InsufficientShares(_))
    ));
    assert!(matches!(staking.request_unstake(MINER, U256::ZERO), Err(StakingError::ZeroAmount(_))));
    let release = staking.request_unstake(MINER, u(1_500)).unwrap();
    assert_eq!(release, 1_000 + DELAY);
    assert_eq!(staking.unbonding_of(MINER, MINER), (u(1_500), release));
    // Own active stake (500) is now below the minimum: ineligible, weight zero.
    assert!(!staking.is_eligible(MINER, ROLE_MINER));
    assert_eq!(staking.weights(vec![MINER]), vec![U256::ZERO]);
    assert!(matches!(staking.withdraw(MINER), Err(StakingError::StillUnbonding(_))));
    vm.set_block_timestamp(release);
    vm.set_sender(MARKET);
    staking.freeze(MINER).unwrap();
    vm.set_sender(MINER);
    assert!(matches!(staking.withdraw(MINER), Err(StakingError::StakeFrozen(_))));
    // Unbonding stake is still slashed while frozen.
    vm.set_sender(MARKET);
    mock_burn(&vm, u(1_000));
    staking.slash(MINER, u(1_000), Address::ZERO).unwrap();
    staking.unfreeze(MINER).unwrap();
    assert!(matches!(staking.unfreeze(MINER), Err(StakingError::NotFrozen(_))));
    vm.set_sender(MINER);
    mock_pay(&vm, MINER, u(750));
    assert_eq!(staking.withdraw(MINER).unwrap(), u(750));
    assert_eq!(staking.unbonding_of(MINER, MINER), (U256::ZERO, 0));
}

#[test]
fn controllers_only_for_slash_reward_freeze_reputation() {
    let (vm, mut staking) = deploy();
    register(&vm, &mut staking, MINER, ROLE_MINER, MIN);
    vm.set_sender(ALICE);
    assert!(matches!(staking.slash(MINER, u(1), ALICE), Err(StakingError::NotController(_))));
    assert!(matches!(staking.add_reward(MINER, u(1)), Err(StakingError::NotController(_))));
    assert!(matches!(staking.freeze(MINER), Err(StakingError::NotController(_))));
    assert!(matches!(staking.unfreeze(MINER), Err(StakingError::NotController(_))));
    assert!(matches!(staking.adjust_reputation(MINER, 1), Err(StakingError::NotController(_))));
    vm.set_sender(MARKET);
    assert!(matches!(staking.slash(ALICE, u(1), ALICE), Err(StakingError::NotRegistered(_))));
}

#[test]
fn rewards_must_be_backed_by_tokens() {
    let (vm, mut staking) = deploy();
    register(&vm, &mut staking, MINER, ROLE_MINER, MIN);
    vm.set_sender(MARKET);
    mock_balance(&vm, u(MIN + 9));
    assert!(matches!(staking.add_reward(MINER, u(10)), Err(StakingError::UnbackedReward(_))));
    mock_balance(&vm, u(MIN + 10));
    staking.add_reward(MINER, u(10)).unwrap();
    assert_eq!(staking.total_accounted(), u(MIN + 10));
}

#[test]
fn slash_is_capped_at_the_pool() {
    let (vm, mut staking) = deploy();
    register(&vm, &mut staking, MINER, ROLE_MINER, MIN);
    vm.set_sender(MARKET);
    mock_pay(&vm, ALICE, u(MIN));
    assert_eq!(staking.slash(MINER, u(10 * MIN), ALICE).unwrap(), u(MIN));
    assert_eq!(staking.operator_info(MINER).1, U256::ZERO);
    assert_eq!(staking.total_accounted(), U256::ZERO);
}

#[test]
fn reputation_is_clamped_and_scales_weight() {
    let (vm, mut staking) = deploy();
    register(&vm, &mut staking, MINER, ROLE_MINER, MIN);
    register(&vm, &mut staking, COORD, ROLE_COORDINATOR, 2 * MIN);
    vm.set_sender(MARKET);
    assert_eq!(staking.adjust_reputation(MINER, -5_000).unwrap(), 5_000);
    assert_eq!(
        staking.weights(vec![MINER, COORD, ALICE]),
        vec![u(MIN / 2), u(2 * MIN), U256::ZERO]
    );
    assert_eq!(staking.adjust_reputation(MINER, i32::MAX).unwrap(), MAX_REPUTATION);
    assert_eq!(staking.adjust_reputation(MINER, i32::MIN).unwrap(), 0);
    staking.freeze(COORD).unwrap();
    assert!(!staking.is_eligible(COORD, ROLE_COORDINATOR));
}

#[test]
fn owner_sets_parameters() {
    let (vm, mut staking) = deploy();
    vm.set_sender(ALICE);
    assert!(matches!(staking.set_min_stake(ROLE_MINER, u(1)), Err(StakingError::Unauthorized(_))));
    assert!(matches!(staking.set_unbonding_delay(1), Err(StakingError::Unauthorized(_))));
    assert!(matches!(staking.set_controller(ALICE, true), Err(StakingError::Unauthorized(_))));
    vm.set_sender(OWNER);
    assert!(matches!(staking.set_min_stake(9, u(1)), Err(StakingError::UnknownRole(_))));
    staking.set_min_stake(ROLE_COORDINATOR, u(7)).unwrap();
    staking.set_unbonding_delay(9).unwrap();
    staking.set_controller(MARKET, false).unwrap();
    assert_eq!((staking.min_stake(ROLE_COORDINATOR), staking.min_stake(3)), (u(7), U256::ZERO));
    assert_eq!(staking.unbonding_delay(), 9);
    assert!(!staking.is_controller(MARKET));
    assert_eq!(staking.token(), TOKEN);
}

#[derive(Debug, Clone)]
enum Op {
    Stake(usize, usize, u64),
    Unstake(usize, usize, u64),
    Withdraw(usize, usize),
    Slash(usize, u64),
    Reward(usize, u64),
    Freeze(usize),
    Unfreeze(usize),
    Wait(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..4, 0usize..2, 1u64..5_000).prop_map(|(s, o, a)| Op::Stake(s, o, a)),
        (0usize..4, 0usize..2, 1u64..5_000).prop_map(|(s, o, a)| Op::Unstake(s, o, a)),
        (0usize..4, 0usize..2).prop_map(|(s, o)| Op::Withdraw(s, o)),
        (0usize..2, 0u64..3_000).prop_map(|(o, a)| Op::Slash(o, a)),
        (0usize..2, 0u64..3_000).prop_map(|(o, a)| Op::Reward(o, a)),
        (0usize..2).prop_map(Op::Freeze),
        (0usize..2).prop_map(Op::Unfreeze),
        (0u64..2 * DELAY).prop_map(Op::Wait),
    ]
}

proptest! {
    /// Over random action sequences: the tokens the contract holds always equal what it accounts
    /// for (deposits + rewards - withdrawals - slashes), a slash never takes more than the pool
    /// holds, stakers are never owed more than the pool holds, and a withdrawal never succeeds
    /// while the operator is frozen.
    #[test]
    fn conservation_and_safety_over_random_sequences(ops in proptest::collection::vec(op(), 1..40)) {
        let (vm, mut staking) = deploy();
        let operators = [MINER, COORD];
        let stakers = [MINER, COORD, ALICE, BOB];
        register(&vm, &mut staking, MINER, ROLE_MINER, 2 * MIN);
        register(&vm, &mut staking, COORD, ROLE_COORDINATOR, 2 * MIN);
        let mut held = u(4 * MIN);
        let mut now = 1_000u64;
        for op in ops {
            match op {
                Op::Stake(s, o, a) => {
                    vm.set_sender(stakers[s]);
                    mock_pull(&vm, stakers[s], u(a));
                    if staking.stake(operators[o], u(a)).is_ok() { held += u(a); }
                }
                Op::Unstake(s, o, a) => {
                    vm.set_sender(stakers[s]);
                    let _ = staking.request_unstake(operators[o], u(a));
                }
                Op::Withdraw(s, o) => {
                    let frozen = staking.operator_info(operators[o]).5 > 0;
                    let (shares, _) = staking.unbonding_of(operators[o], stakers[s]);
                    let pool = staking.operator_info(operators[o]);
                    let owed = assay_contract_common::shares::assets_for_shares(shares, pool.2, pool.1).unwrap();
                    vm.set_sender(stakers[s]);
                    mock_pay(&vm, stakers[s], owed);
                    if let Ok(paid) = staking.withdraw(operators[o]) {
                        prop_assert!(!frozen, "withdrawal while frozen");
                        prop_assert_eq!(paid, owed);
                        held -= paid;
                    }
                }
                Op::Slash(o, a) => {
                    let before = staking.operator_info(operators[o]).1;
                    vm.set_sender(MARKET);
                    mock_burn(&vm, u(a).min(before));
                    let taken = staking.slash(operators[o], u(a), Address::ZERO).unwrap();
                    prop_assert!(taken <= before);
                    held -= taken;
                }
                Op::Reward(o, a) => {
                    vm.set_sender(MARKET);
                    mock_balance(&vm, held + u(a));
                    staking.add_reward(operators[o], u(a)).unwrap();
                    held += u(a);
                }
                Op::Freeze(o) => { vm.set_sender(MARKET); staking.freeze(operators[o]).unwrap(); }
                Op::Unfreeze(o) => { vm.set_sender(MARKET); let _ = staking.unfreeze(operators[o]); }
                Op::Wait(dt) => { now += dt; vm.set_block_timestamp(now); }
            }
            let pools: Vec<_> = operators.iter().map(|o| staking.operator_info(*o)).collect();
            let assets: U256 = pools.iter().map(|p| p.1).sum();
            prop_assert_eq!(staking.total_accounted(), assets);
            prop_assert_eq!(staking.total_accounted(), held);
            for (o, pool) in operators.iter().zip(&pools) {
                let shares: U256 = stakers.iter()
                    .map(|s| staking.shares_of(*o, *s) + staking.unbonding_of(*o, *s).0)
                    .sum();
                prop_assert_eq!(shares, pool.2);
                let owed = assay_contract_common::shares::assets_for_shares(shares, pool.2, pool.1).unwrap();
                prop_assert!(owed <= pool.1);
            }
        }
    }
}
