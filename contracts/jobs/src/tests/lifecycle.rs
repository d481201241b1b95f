//! Construction, parameters, submission, assignment, assertion and timeouts.

use alloy_primitives::{Address, B256, U256};
use assay_contract_common::draw;
use assay_contract_kit::testing::MockHost;

use super::harness::*;
use assay_sampling::SamplingError;

use crate::{status, JobMarket, MarketError};

#[test]
fn constructor_rejects_zero_epoch_and_sets_wiring() {
    let vm = MockHost::default();
    let mut market = JobMarket::from(&vm);
    assert!(matches!(
        market.constructor(OWNER, TOKEN, STAKING, REGISTRY, 0),
        Err(MarketError::InvalidParams(_))
    ));
    let env = Env::new(1);
    assert_eq!(env.market.contracts(), (TOKEN, STAKING, REGISTRY, SAMPLING));
    assert_eq!(env.sampling.contracts(), (MARKET, STAKING, REGISTRY, GAME));
    assert_eq!(env.market.epoch_timing(), (T0, EPOCH));
    assert_eq!(env.market.owner(), OWNER);
}

#[test]
fn params_are_owner_only_and_must_keep_cheating_unprofitable() {
    let mut env = Env::new(1);
    let set = |env: &mut Env, p: u32, n: u8, s: u64, c: u64, disc: u16, t: u64| {
        env.sampling.set_params(p, n, u(R_A), u(R_V), u(s), u(c), 100_000, disc, t, t, t, t, t)
    };
    env.sender(USER);
    assert!(matches!(set(&mut env, 10_000, 2, 100, 1, 0, 60), Err(SamplingError::Unauthorized(_))));
    env.sender(OWNER);
    // DESIGN 3.2: S = 100 C needs p near 1 %; 0.9 % fails, 1.1 % passes.
    assert!(matches!(
        set(&mut env, 9_000, 2, 100_000, 1_000, 0, 60),
        Err(SamplingError::HonestyConditionViolated(_))
    ));
    set(&mut env, 11_000, 2, 100_000, 1_000, 0, 60).unwrap();
    for bad in [(9, 0, 60), (2, 10_001, 60), (2, 0, 0), (0, 0, 60)] {
        assert!(matches!(
            set(&mut env, 11_000, bad.0, 100_000, 1_000, bad.1, bad.2),
            Err(SamplingError::InvalidParams(_))
        ));
    }
    let p = env.sampling.params();
    assert_eq!((p.0, p.1, p.4, p.5), (11_000, 2, u(100_000), u(1_000)));
    env.sender(USER);
    assert!(matches!(env.sampling.set_dispute_game(GAME), Err(SamplingError::Unauthorized(_))));
}

#[test]
fn submission_checks_model_fee_and_deadline() {
    let mut env = Env::new(1);
    env.sender(USER);
    env.vm.set_value(u(PRICE - 1));
    let deadline = env.now + 100;
    assert!(matches!(
        env.market.submit_job(MODEL, INPUT, Address::ZERO, deadline),
        Err(MarketError::FeeTooLow(_))
    ));
    env.vm.set_value(u(PRICE));
    assert!(matches!(
        env.market.submit_job(MODEL, INPUT, Address::ZERO, env.now),
        Err(MarketError::DeadlinePassed(_))
    ));
    assert!(matches!(
        env.market.submit_job(INPUT, INPUT, Address::ZERO, deadline),
        Err(MarketError::ExternalCallFailed(_))
    ));
    env.mock_model(false);
    assert!(matches!(
        env.market.submit_job(MODEL, INPUT, Address::ZERO, deadline),
        Err(MarketError::ModelInactive(_))
    ));
    env.mock_model(true);
    let id = env.market.submit_job(MODEL, INPUT, Address::ZERO, deadline).unwrap();
    assert_eq!(id, u(1));
    assert_eq!(
        env.market.job(id),
        (
            status::SUBMITTED,
            USER,
            MODEL,
            INPUT,
            u(PRICE),
            Address::ZERO,
            B256::ZERO,
            B256::ZERO,
            deadline
        )
    );
}

#[test]
fn unknown_models_are_named() {
    let mut env = Env::new(1);
    let ret =
        crate::IModelRegistry::modelCall::abi_encode_returns(&crate::IModelRegistry::modelReturn {
            owner: Address::ZERO,
            engineHash: B256::ZERO,
            pricePerUnit: U256::ZERO,
            active: false,
            serverCount: U256::ZERO,
        });
    use alloy_sol_types::SolCall;
    env.vm.mock_static_call(
        REGISTRY,
        crate::IModelRegistry::modelCall { modelId: MODEL }.abi_encode(),
        Ok(ret),
    );
    env.sender(USER);
    env.vm.set_value(u(PRICE));
    assert!(matches!(
        env.market.submit_job(MODEL, INPUT, Address::ZERO, env.now + 9),
        Err(MarketError::UnknownModel(_))
    ));
}

#[test]
fn assignment_follows_the_published_stake_weighted_draw() {
    let mut env = Env::new(1);
    let id = env.submit();
    assert!(matches!(env.market.assign_job(id), Err(MarketError::TooEarly(_))));
    assert!(matches!(env.market.assign_job(u(9)), Err(MarketError::UnknownJob(_))));
    env.advance(1, 1);
    env.set_weights(&[0, 0, 0, 0]);
    assert!(matches!(env.market.assign_job(id), Err(MarketError::NoEligibleMiner(_))));
    env.set_weights(&[0, 300, 0, 100]);
    let asserter = env.market.assign_job(id).unwrap();
    let weights = [U256::ZERO, u(300), U256::ZERO, u(100)];
    let expected =
        draw::weighted_pick(draw::assignment_seed(id, block_hash(100)), &weights).unwrap();
    assert_eq!(asserter, miners()[expected]);
    assert!(matches!(env.market.assign_job(id), Err(MarketError::WrongStatus(_))));
}

#[test]
fn only_the_asserter_asserts_and_only_in_time() {
    let mut env = Env::new(1);
    let id = env.submit();
    env.advance(1, 1);
    let asserter = env.market.assign_job(id).unwrap();
    let stranger = miners().into_iter().find(|m| *m != asserter).unwrap();
    env.sender(stranger);
    assert!(matches!(
        env.market.assert_result(id, B256::ZERO, B256::ZERO),
        Err(MarketError::NotAsserter(_))
    ));
    env.advance(1, 61);
    env.sender(asserter);
    assert!(matches!(
        env.market.assert_result(id, B256::ZERO, B256::ZERO),
        Err(MarketError::DeadlinePassed(_))
    ));
}

#[test]
fn a_missed_assertion_is_redrawn_then_refunded() {
    let mut env = Env::new(1);
    let id = env.submit();
    assert!(matches!(env.market.timeout_job(id), Err(MarketError::NotTimedOut(_))));
    env.advance(1, 1);
    env.market.assign_job(id).unwrap();
    assert!(matches!(env.market.timeout_job(id), Err(MarketError::NotTimedOut(_))));
    env.advance(1, 61);
    assert_eq!(env.market.timeout_job(id).unwrap(), status::SUBMITTED);
    assert_eq!(env.market.job(id).5, Address::ZERO);
    env.advance(1, 1_000);
    assert_eq!(env.market.timeout_job(id).unwrap(), status::REFUNDED);
    assert_eq!(env.market.fee_balance(USER), u(PRICE));
    assert!(matches!(env.market.timeout_job(id), Err(MarketError::NotTimedOut(_))));
}
