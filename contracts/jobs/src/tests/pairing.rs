//! The pairing of the market with its sampling contract: who may call the internal entry points
//! (`settleJob`, `setMarketParams`, `openChallenge`), once-only pairing, and the hand-off state.

use alloy_primitives::{Address, B256, U256};
use assay_sampling::SamplingError;

use super::harness::*;
use crate::{status, MarketError};

#[test]
fn sampling_is_paired_once_by_the_owner() {
    let mut env = Env::deployed();
    env.sender(USER);
    assert!(matches!(env.market.set_sampling(USER), Err(MarketError::Unauthorized(_))));
    env.sender(OWNER);
    assert!(matches!(env.market.set_sampling(USER), Err(MarketError::SamplingAlreadySet(_))));
    let vm = assay_contract_kit::testing::MockHost::default();
    let mut fresh = crate::JobMarket::from(&vm);
    vm.set_sender(OWNER);
    fresh.constructor(OWNER, TOKEN, STAKING, REGISTRY, EPOCH).unwrap();
    assert!(matches!(fresh.set_sampling(Address::ZERO), Err(MarketError::InvalidParams(_))));
    // Unpaired, the market refuses the internal entry points even from a would-be sampler.
    vm.set_sender(Address::ZERO);
    assert!(matches!(
        fresh.settle_job(u(1), status::ACCEPTED, vec![], vec![]),
        Err(MarketError::NotSampling(_))
    ));
}

#[test]
fn only_sampling_settles_and_sets_market_params() {
    let mut env = Env::new(1_000_000);
    env.sender(USER);
    assert!(matches!(
        env.market.settle_job(u(1), status::ACCEPTED, vec![], vec![]),
        Err(MarketError::NotSampling(_))
    ));
    assert!(matches!(
        env.market.set_market_params(1, U256::ZERO, U256::ZERO, 0, 1, 1, 1),
        Err(MarketError::NotSampling(_))
    ));
    // The sampling contract's setParams copied the market's share.
    assert_eq!(env.market.params.challenge_ppm.get().to::<u32>(), 1_000_000);
    assert_eq!(env.market.params.asserter_reward.get(), u(R_A));
    assert_eq!(env.market.params.user_discount_bps.get().to::<u16>(), 1_000);
}

#[test]
fn settlements_follow_the_job_status() {
    let mut env = Env::new(1_000_000);
    let (id, asserter) = env.asserted(B256::repeat_byte(5));
    env.sender(SAMPLING);
    // Not challenged yet: nothing to settle.
    assert!(matches!(
        env.market.settle_job(id, status::ACCEPTED, vec![], vec![]),
        Err(MarketError::WrongStatus(_))
    ));
    assert!(matches!(
        env.market.settle_job(u(99), status::ACCEPTED, vec![], vec![]),
        Err(MarketError::UnknownJob(_))
    ));
    env.advance(1, 1);
    assert!(env.market.draw_challenge(id).unwrap());
    assert_eq!(env.status(id), status::CHALLENGED);
    env.sender(SAMPLING);
    for bad in [status::CHALLENGED, status::SUBMITTED, 9] {
        assert!(matches!(
            env.market.settle_job(id, bad, vec![], vec![]),
            Err(MarketError::InvalidParams(_))
        ));
    }
    assert!(matches!(
        env.market.settle_job(id, status::REJECTED, vec![], vec![]),
        Err(MarketError::WrongStatus(_))
    ));
    assert!(matches!(
        env.market.settle_job(id, status::DISPUTED, vec![asserter], vec![]),
        Err(MarketError::InvalidParams(_))
    ));
    env.market.settle_job(id, status::DISPUTED, vec![], vec![]).unwrap();
    assert_eq!(env.status(id), status::DISPUTED);
    assert!(matches!(
        env.market.settle_job(id, status::DISPUTED, vec![], vec![]),
        Err(MarketError::WrongStatus(_))
    ));
    env.market.settle_job(id, status::REJECTED, vec![USER], vec![u(7)]).unwrap();
    assert_eq!(env.status(id), status::REJECTED);
    assert_eq!(env.market.fee_balance(USER), u(PRICE));
    assert_eq!(env.market.accrued_reward(0, USER), u(7));
}

#[test]
fn open_challenge_takes_each_job_once_and_records_the_hand_off() {
    let mut env = Env::new(1_000_000);
    let (id, asserter) = env.asserted(B256::repeat_byte(5));
    env.advance(1, 1);
    assert!(env.market.draw_challenge(id).unwrap());
    let c = env.sampling.challenge(id);
    assert_eq!((c.0, c.1, c.2), (status::CHALLENGED, asserter, B256::repeat_byte(5)));
    assert_eq!((c.3, c.4), (env.now + 60, env.now + 120));
    env.sender(MARKET);
    assert!(matches!(
        env.sampling.open_challenge(id, B256::ZERO, MODEL, asserter, B256::ZERO, B256::ZERO, true),
        Err(SamplingError::WrongStatus(_))
    ));
    env.sender(USER);
    assert!(matches!(
        env.sampling.open_challenge(
            u(50),
            B256::ZERO,
            MODEL,
            asserter,
            B256::ZERO,
            B256::ZERO,
            true
        ),
        Err(SamplingError::NotJobMarket(_))
    ));
    // A job the market never handed over is unknown to the sampling contract.
    assert!(matches!(
        env.sampling.commit_validation(u(50), B256::ZERO),
        Err(SamplingError::UnknownJob(_))
    ));
}

#[test]
fn a_challenge_with_nobody_to_draw_is_accepted_unchallenged() {
    let mut env = Env::new(1_000_000);
    let (id, asserter) = env.asserted(B256::repeat_byte(5));
    let weights: Vec<u64> = miners().iter().map(|m| if *m == asserter { 100 } else { 0 }).collect();
    env.set_weights(&weights);
    env.advance(1, 1);
    assert!(!env.market.draw_challenge(id).unwrap());
    assert_eq!(env.status(id), status::ACCEPTED);
    assert_eq!(env.sampling.challenge(id).0, 0);
    assert_eq!(env.market.fee_balance(asserter), u(PRICE));
}

#[test]
fn a_refused_settlement_fails_by_name() {
    let mut env = Env::new(1_000_000);
    let (id, _) = env.asserted(B256::repeat_byte(5));
    env.advance(1, 1);
    assert!(env.market.draw_challenge(id).unwrap());
    // The market no longer answers: the sampling contract reports the failed call.
    env.svm.route(MARKET, std::rc::Rc::new(|_: &[u8], _, _| Err(Vec::new())));
    env.advance(1, 200);
    assert!(matches!(
        env.sampling.finalize_challenge(id),
        Err(SamplingError::ExternalCallFailed(_))
    ));
}
