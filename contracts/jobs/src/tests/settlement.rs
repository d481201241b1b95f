//! Epoch seeds, reward claims, fee withdrawals and callbacks.

use alloy_primitives::{Address, B256, U256};
use assay_contract_common::records::seed_commitment;

use super::harness::*;
use crate::MarketError;

#[test]
fn seeds_are_committed_ahead_and_revealed_only_once_matching() {
    let mut env = Env::new(1);
    let seed = B256::repeat_byte(3);
    env.sender(USER);
    env.set_eligible(USER, 2, false);
    assert!(matches!(
        env.market.commit_epoch_seed(1, seed_commitment(1, seed)),
        Err(MarketError::NotCoordinator(_))
    ));
    env.sender(COORD);
    assert!(matches!(
        env.market.commit_epoch_seed(0, seed_commitment(0, seed)),
        Err(MarketError::EpochNotFuture(_))
    ));
    env.market.commit_epoch_seed(1, seed_commitment(1, seed)).unwrap();
    assert!(matches!(
        env.market.commit_epoch_seed(1, B256::ZERO),
        Err(MarketError::SeedAlreadyCommitted(_))
    ));
    assert!(matches!(env.market.reveal_epoch_seed(1, seed), Err(MarketError::EpochNotStarted(_))));
    env.advance(0, EPOCH);
    assert!(matches!(env.market.reveal_epoch_seed(2, seed), Err(MarketError::EpochNotStarted(_))));
    assert!(matches!(env.market.reveal_epoch_seed(0, seed), Err(MarketError::SeedNotCommitted(_))));
    assert!(matches!(
        env.market.reveal_epoch_seed(1, B256::ZERO),
        Err(MarketError::SeedMismatch(_))
    ));
    env.market.reveal_epoch_seed(1, seed).unwrap();
    assert_eq!(env.market.epoch_seed(1), (COORD, seed_commitment(1, seed), seed, 2));
    assert!(matches!(
        env.market.reveal_epoch_seed(1, seed),
        Err(MarketError::SeedAlreadySettled(_))
    ));
    assert!(matches!(env.market.forfeit_epoch_seed(1), Err(MarketError::SeedAlreadySettled(_))));
}

#[test]
fn a_seed_never_revealed_is_forfeited_and_slashed() {
    let mut env = Env::new(1);
    env.sender(COORD);
    env.market.commit_epoch_seed(1, B256::repeat_byte(1)).unwrap();
    let slash =
        crate::IStaking::slashCall { operator: COORD, amount: u(SLASH), recipient: Address::ZERO };
    use alloy_sol_types::SolCall;
    env.vm.mock_call(
        STAKING,
        slash.abi_encode(),
        U256::ZERO,
        Ok(crate::IStaking::slashCall::abi_encode_returns(&u(SLASH))),
    );
    env.advance(0, 2 * EPOCH);
    assert!(matches!(env.market.forfeit_epoch_seed(1), Err(MarketError::RevealGraceOpen(_))));
    assert!(matches!(env.market.forfeit_epoch_seed(5), Err(MarketError::SeedNotCommitted(_))));
    env.advance(0, 600);
    assert_eq!(env.market.forfeit_epoch_seed(1).unwrap(), u(SLASH));
    assert_eq!(env.market.epoch_seed(1).3, 3);
    assert!(matches!(env.market.forfeit_epoch_seed(1), Err(MarketError::SeedAlreadySettled(_))));
}

#[test]
fn rewards_are_claimed_once_after_the_epoch() {
    let mut env = Env::new(1);
    let (_, asserter) = env.asserted(B256::repeat_byte(5));
    env.advance(1, 1);
    env.market.draw_challenge(U256::from(1u8)).unwrap();
    assert!(matches!(env.market.claim_rewards(0, asserter), Err(MarketError::EpochNotOver(_))));
    env.advance(0, EPOCH);
    assert!(matches!(env.market.claim_rewards(0, USER), Err(MarketError::NothingToClaim(_))));
    env.mock_reward_payment(asserter, u(R_A));
    assert_eq!(env.market.claim_rewards(0, asserter).unwrap(), u(R_A));
    assert_eq!(env.market.accrued_reward(0, asserter), U256::ZERO);
    assert!(matches!(env.market.claim_rewards(0, asserter), Err(MarketError::NothingToClaim(_))));
}

/// An asserter with an accepted, paid job.
fn paid_asserter(env: &mut Env) -> Address {
    let (id, asserter) = env.asserted(B256::repeat_byte(5));
    env.advance(1, 1);
    env.market.draw_challenge(id).unwrap();
    env.sender(asserter);
    asserter
}

#[test]
fn fees_are_withdrawn_once() {
    let mut env = Env::new(1);
    let asserter = paid_asserter(&mut env);
    env.vm.mock_call(asserter, Vec::new(), u(PRICE), Ok(Vec::new()));
    assert_eq!(env.market.withdraw_fees().unwrap(), u(PRICE));
    assert!(matches!(env.market.withdraw_fees(), Err(MarketError::NothingToClaim(_))));
}

#[test]
fn a_refused_fee_transfer_is_named() {
    let mut env = Env::new(1);
    let asserter = paid_asserter(&mut env);
    env.vm.mock_call(asserter, Vec::new(), u(PRICE), Err(Vec::new()));
    assert!(matches!(env.market.withdraw_fees(), Err(MarketError::EthTransferFailed(_))));
}

#[test]
fn a_failing_callback_is_logged_and_never_blocks_the_job() {
    let mut env = Env::new(1);
    let consumer = Address::repeat_byte(0xcc);
    env.sender(USER);
    env.vm.set_value(u(PRICE));
    let id = env.market.submit_job(MODEL, INPUT, consumer, env.now + 100).unwrap();
    env.vm.set_value(U256::ZERO);
    env.advance(1, 1);
    let asserter = env.market.assign_job(id).unwrap();
    env.sender(asserter);
    env.market.assert_result(id, B256::repeat_byte(5), B256::ZERO).unwrap();
    env.advance(1, 1);
    env.market.draw_challenge(id).unwrap();
    assert_eq!(env.status(id), crate::status::ACCEPTED);
    let topic = <crate::IJobMarket::CallbackFailed as alloy_sol_types::SolEvent>::SIGNATURE_HASH;
    assert!(env.vm.get_emitted_logs().iter().any(|(topics, _)| topics[0] == topic));
}
