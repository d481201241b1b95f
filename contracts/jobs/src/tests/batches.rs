//! Batched off-chain jobs: commit, seal, open challenged records, claim the rest exactly once.

use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::SolCall;
use assay_contract_common::{
    draw, merkle,
    records::{seed_commitment, validation_commitment, JobRecord},
};
use proptest::prelude::*;

use super::harness::*;
use crate::{batches::CLAIM_PERIOD, status, IModelRegistry, MarketError};

pub(super) fn records(n: u64, fee: u64) -> Vec<JobRecord> {
    (0..n)
        .map(|i| JobRecord {
            job_key: alloy_primitives::keccak256(i.to_be_bytes()),
            model_id: MODEL,
            input_root: INPUT,
            asserter: miners()[(i % 4) as usize],
            output_hash: B256::repeat_byte(0x55),
            trace_root: B256::repeat_byte(0x77),
            fee: u(fee),
        })
        .collect()
}

pub(super) fn commit(env: &mut Env, recs: &[JobRecord], escrow: u64) -> U256 {
    let leaves: Vec<B256> = recs.iter().map(JobRecord::leaf).collect();
    env.sender(COORD);
    env.vm.set_value(u(escrow));
    let id = env.market.commit_batch(merkle::root(&leaves), recs.len() as u32).unwrap();
    env.vm.set_value(U256::ZERO);
    id
}

pub(super) fn proof(recs: &[JobRecord], i: usize) -> Vec<B256> {
    let leaves: Vec<B256> = recs.iter().map(JobRecord::leaf).collect();
    merkle::proof(&leaves, i).unwrap()
}

pub(super) fn open(
    env: &mut Env,
    batch: U256,
    r: &JobRecord,
    p: Vec<B256>,
) -> Result<U256, MarketError> {
    env.tx(|env| env.market.open_batch_job(batch, r.claim(&p)))
}

fn claim(env: &mut Env, batch: U256, r: &JobRecord, p: Vec<B256>) -> Result<(), MarketError> {
    claim_all(env, batch, &[(*r, p)])
}

fn claim_all(
    env: &mut Env,
    batch: U256,
    records: &[(JobRecord, Vec<B256>)],
) -> Result<(), MarketError> {
    let claims = records.iter().map(|(r, p)| r.claim(p)).collect();
    env.market.claim_batch_jobs(batch, claims)
}

pub(super) fn challenged(env: &Env, batch: U256, r: &JobRecord) -> bool {
    let hash = env.market.batch(batch).5;
    draw::is_challenged(draw::challenge_seed(B256::ZERO, hash, r.job_key), env.sampling.params().0)
}

#[test]
fn batches_wait_for_a_hidden_epoch_seed() {
    let mut env = Env::new(1);
    let seed = B256::repeat_byte(3);
    env.sender(COORD);
    env.market.commit_epoch_seed(1, seed_commitment(1, seed)).unwrap();
    env.advance(0, EPOCH);
    let recs = records(2, 10);
    let leaves: Vec<B256> = recs.iter().map(JobRecord::leaf).collect();
    env.vm.set_value(u(20));
    assert!(matches!(
        env.market.commit_batch(merkle::root(&leaves), 2),
        Err(MarketError::SeedNotRevealed(_))
    ));
    env.vm.set_value(U256::ZERO);
    env.market.reveal_epoch_seed(1, seed).unwrap();
    let id = commit(&mut env, &recs, 20);
    assert_eq!(env.market.batch(id).1, merkle::root(&leaves));
}

#[test]
fn only_staked_coordinators_commit_valid_batches() {
    let mut env = Env::new(1);
    env.sender(USER);
    env.set_eligible(USER, 2, false);
    assert!(matches!(
        env.market.commit_batch(B256::repeat_byte(1), 1),
        Err(MarketError::NotCoordinator(_))
    ));
    env.sender(COORD);
    assert!(matches!(env.market.commit_batch(B256::ZERO, 1), Err(MarketError::InvalidBatch(_))));
    assert!(matches!(
        env.market.commit_batch(B256::repeat_byte(1), 0),
        Err(MarketError::InvalidBatch(_))
    ));
    let recs = records(3, 10);
    let id = commit(&mut env, &recs, 30);
    assert_eq!(env.market.batch(id).0, COORD);
    assert!(matches!(env.market.seal_batch(id), Err(MarketError::TooEarly(_))));
    assert!(matches!(env.market.seal_batch(u(7)), Err(MarketError::UnknownBatch(_))));
    env.advance(1, 1);
    assert_eq!(env.market.seal_batch(id).unwrap(), block_hash(100));
    assert!(matches!(env.market.seal_batch(id), Err(MarketError::BatchAlreadySealed(_))));
}

#[test]
fn claims_wait_for_the_window_and_pay_once() {
    let mut env = Env::new(1);
    let recs = records(5, 10);
    let id = commit(&mut env, &recs, 50);
    env.sender(USER);
    assert!(matches!(
        claim(&mut env, id, &recs[0], proof(&recs, 0)),
        Err(MarketError::BatchNotSealed(_))
    ));
    env.advance(1, 1);
    env.market.seal_batch(id).unwrap();
    assert!(matches!(
        claim(&mut env, id, &recs[0], proof(&recs, 0)),
        Err(MarketError::BatchWindowOpen(_))
    ));
    assert!(matches!(
        open(&mut env, id, &recs[0], proof(&recs, 0)),
        Err(MarketError::NotChallenged(_))
    ));
    env.advance(1, 600);
    let r = claim(&mut env, id, &recs[0], proof(&recs, 1));
    assert!(matches!(r, Err(MarketError::InvalidProof(_))), "{r:?}");

    claim(&mut env, id, &recs[0], proof(&recs, 0)).unwrap();
    assert!(matches!(
        claim(&mut env, id, &recs[0], proof(&recs, 0)),
        Err(MarketError::RecordAlreadyUsed(_))
    ));
    assert_eq!(env.market.fee_balance(recs[0].asserter), u(10));
    assert_eq!(env.market.batch(id).4, u(10));
}

#[test]
fn records_earn_r_a_only_when_their_fee_pays_for_a_registered_active_model() {
    let mut env = Env::new(1);
    let mut recs = records(4, PRICE);
    recs[1].fee = u(PRICE - 1);
    recs[2].fee = U256::ZERO;
    recs[3].model_id = B256::repeat_byte(0x99);
    let unknown = IModelRegistry::modelCall { modelId: recs[3].model_id };
    let none = IModelRegistry::modelReturn {
        owner: Address::ZERO,
        engineHash: B256::ZERO,
        pricePerUnit: U256::ZERO,
        active: false,
        serverCount: U256::ZERO,
    };
    env.vm.mock_static_call(
        REGISTRY,
        unknown.abi_encode(),
        Ok(IModelRegistry::modelCall::abi_encode_returns(&none)),
    );
    let id = commit(&mut env, &recs, 4 * PRICE);
    env.advance(1, 1);
    env.market.seal_batch(id).unwrap();
    env.advance(1, 600);
    env.sender(USER);
    let all: Vec<(JobRecord, Vec<B256>)> =
        recs.iter().enumerate().map(|(i, r)| (*r, proof(&recs, i))).collect();
    claim_all(&mut env, id, &all).unwrap();
    // Each record pays its fee; only the priced one (miner 0) accrues R_A.
    for r in &recs {
        assert_eq!(env.market.fee_balance(r.asserter), r.fee);
    }
    assert_eq!(env.market.accrued_reward(0, recs[0].asserter), u(R_A));
    for r in &recs[1..] {
        assert_eq!(env.market.accrued_reward(0, r.asserter), U256::ZERO, "{:?}", r.fee);
    }

    // An inactive model's records earn no R_A either.
    env.mock_model(false);
    let recs = records(1, PRICE);
    let id = commit(&mut env, &recs, PRICE);
    env.advance(1, 1);
    env.market.seal_batch(id).unwrap();
    env.advance(1, 600);
    claim(&mut env, id, &recs[0], proof(&recs, 0)).unwrap();
    assert_eq!(env.market.fee_balance(recs[0].asserter), u(2 * PRICE));
    assert_eq!(env.market.accrued_reward(0, recs[0].asserter), u(R_A));
}

#[test]
fn unpaid_escrow_goes_back_to_the_coordinator_after_the_claim_period() {
    // p = 30 %: some records are challenged; none is opened, one is claimed, 5 wei over-escrowed.
    let mut env = Env::new(300_000);
    let recs = records(6, 10);
    let committed_at = env.now;
    let id = commit(&mut env, &recs, 65);
    env.advance(1, 1);
    env.market.seal_batch(id).unwrap();
    let unchallenged: Vec<usize> = (0..6).filter(|&i| !challenged(&env, id, &recs[i])).collect();
    assert!(unchallenged.len() >= 2, "{unchallenged:?}");
    env.advance(1, 600);
    env.sender(USER);
    let first = unchallenged[0];
    claim(&mut env, id, &recs[first], proof(&recs, first)).unwrap();
    let closes_at = committed_at + BATCH_WINDOW + CLAIM_PERIOD;
    match env.market.reclaim_batch_escrow(id) {
        Err(MarketError::ClaimPeriodOpen(e)) => assert_eq!(e.closesAt, closes_at),
        other => panic!("{other:?}"),
    }
    assert!(matches!(env.market.reclaim_batch_escrow(u(9)), Err(MarketError::UnknownBatch(_))));

    env.advance(1, CLAIM_PERIOD);
    let late = unchallenged[1];
    assert!(matches!(
        claim(&mut env, id, &recs[late], proof(&recs, late)),
        Err(MarketError::ClaimPeriodOver(_))
    ));
    let before = env.market.fee_balance(COORD);
    assert_eq!(env.market.reclaim_batch_escrow(id).unwrap(), u(55));
    assert_eq!(env.market.fee_balance(COORD), before + u(55));
    assert_eq!(env.market.batch(id).4, u(65));
    assert!(matches!(env.market.reclaim_batch_escrow(id), Err(MarketError::NothingToClaim(_))));
    assert!(matches!(
        open(&mut env, id, &recs[late], proof(&recs, late)),
        Err(MarketError::BatchWindowClosed(_))
    ));
}

#[test]
fn payouts_never_exceed_the_escrow() {
    let mut env = Env::new(1);
    let recs = records(2, 10);
    let id = commit(&mut env, &recs, 15);
    env.advance(1, 601);
    env.market.seal_batch(id).unwrap();
    claim(&mut env, id, &recs[0], proof(&recs, 0)).unwrap();
    assert!(matches!(
        claim(&mut env, id, &recs[1], proof(&recs, 1)),
        Err(MarketError::EscrowExceeded(_))
    ));
}

#[test]
fn challenged_records_are_opened_for_sampling_and_cannot_be_claimed() {
    let mut env = Env::new(1_000_000);
    let recs = records(2, 10);
    let id = commit(&mut env, &recs, 20);
    env.advance(1, 1);
    env.market.seal_batch(id).unwrap();
    let job = open(&mut env, id, &recs[0], proof(&recs, 0)).unwrap();
    assert_eq!(env.status(job), status::CHALLENGED);
    assert_eq!(env.market.job(job).5, recs[0].asserter);
    assert!(!env.sampling.job_validators(job).0.contains(&recs[0].asserter));
    assert!(matches!(
        open(&mut env, id, &recs[0], proof(&recs, 0)),
        Err(MarketError::RecordAlreadyUsed(_))
    ));
    env.advance(1, 600);
    assert!(matches!(
        open(&mut env, id, &recs[1], proof(&recs, 1)),
        Err(MarketError::BatchWindowClosed(_))
    ));
    assert!(matches!(
        claim(&mut env, id, &recs[1], proof(&recs, 1)),
        Err(MarketError::ChallengedNotOpened(_))
    ));
}

proptest! {
    /// Whatever order records are opened, claimed or replayed in, no record is paid twice, the
    /// batch never pays out more than its escrow, and fee balances add up to what it paid.
    #[test]
    fn nothing_is_paid_twice(actions in proptest::collection::vec((0usize..6, any::<bool>()), 1..30),
                             escrow in 0u64..80, p in prop_oneof![Just(1u32), Just(300_000u32)]) {
        let mut env = Env::new(p);
        let recs = records(6, 10);
        let id = commit(&mut env, &recs, escrow);
        env.advance(1, 1);
        env.market.seal_batch(id).unwrap();
        let mut paid = vec![false; recs.len()];
        for (step, (i, try_open)) in actions.into_iter().enumerate() {
            if step == 10 { env.advance(1, 600); }
            let ok = if try_open {
                open(&mut env, id, &recs[i], proof(&recs, i)).is_ok()
            } else {
                claim(&mut env, id, &recs[i], proof(&recs, i)).is_ok()
            };
            if ok {
                prop_assert!(!paid[i], "record {} used twice", i);
                prop_assert_eq!(try_open, challenged(&env, id, &recs[i]));
                paid[i] = true;
            }
            let spent = u(10) * U256::from(paid.iter().filter(|x| **x).count());
            prop_assert_eq!(env.market.batch(id).4, spent);
            prop_assert!(spent <= u(escrow));
            let claimed: U256 = recs.iter().zip(&paid)
                .filter(|(r, p)| **p && !challenged(&env, id, r))
                .map(|(r, _)| r.fee).sum();
            let balances: U256 = miners().iter().map(|m| env.market.fee_balance(*m)).sum();
            prop_assert_eq!(balances, claimed);
        }
    }
}

#[test]
fn records_of_unregistered_asserters_cannot_be_opened() {
    let mut env = Env::new(1_000_000);
    let mut recs = records(2, 10);
    recs[1].asserter = USER;
    let info = crate::IStaking::operatorInfoCall { operator: USER };
    let unregistered = crate::IStaking::operatorInfoReturn {
        role: 0,
        assets: U256::ZERO,
        totalShares: U256::ZERO,
        unbondingShares: U256::ZERO,
        reputation: 0,
        openDisputes: 0,
    };
    env.vm.mock_static_call(
        STAKING,
        info.abi_encode(),
        Ok(crate::IStaking::operatorInfoCall::abi_encode_returns(&unregistered)),
    );
    let id = commit(&mut env, &recs, 20);
    env.advance(1, 1);
    env.market.seal_batch(id).unwrap();
    assert!(matches!(
        open(&mut env, id, &recs[1], proof(&recs, 1)),
        Err(MarketError::AsserterNotMiner(_))
    ));
}

#[test]
fn a_sealed_batch_keeps_the_challenge_probability_it_was_committed_under() {
    // Committed at p = 1 ppm; p raised to 100 % afterwards: its records stay unchallenged.
    let mut env = Env::new(1);
    let recs = records(4, 10);
    let id = commit(&mut env, &recs, 40);
    env.advance(1, 1);
    env.market.seal_batch(id).unwrap();
    env.set_params(1_000_000, 2);
    env.advance(1, 600);
    env.sender(USER);
    for (i, r) in recs.iter().enumerate() {
        claim(&mut env, id, r, proof(&recs, i)).unwrap();
    }

    // Committed at p = 100 %; p lowered afterwards: its records still must be opened.
    let recs = records(2, 10);
    let id = commit(&mut env, &recs, 20);
    env.advance(1, 1);
    env.market.seal_batch(id).unwrap();
    env.set_params(1, 2);
    env.sender(USER);
    assert!(matches!(
        claim(&mut env, id, &recs[0], proof(&recs, 0)),
        Err(MarketError::BatchWindowOpen(_))
    ));
    env.advance(1, 600);
    assert!(matches!(
        claim(&mut env, id, &recs[0], proof(&recs, 0)),
        Err(MarketError::ChallengedNotOpened(_))
    ));
}

#[test]
fn many_records_are_claimed_in_one_call() {
    let mut env = Env::new(1);
    let recs = records(6, 10);
    let id = commit(&mut env, &recs, 60);
    env.advance(1, 1);
    env.market.seal_batch(id).unwrap();
    env.advance(1, 600);
    env.sender(USER);
    assert!(matches!(claim_all(&mut env, id, &[]), Err(MarketError::InvalidBatch(_))));
    let short = env.market.claim_batch_jobs(id, vec![vec![recs[0].job_key; 6]]);
    assert!(matches!(short, Err(MarketError::InvalidBatch(_))));

    // (That one bad record reverts the whole call is the chain's doing: deploy/tests/market/batches.rs.)
    let batch: Vec<(JobRecord, Vec<B256>)> =
        recs.iter().enumerate().map(|(i, r)| (*r, proof(&recs, i))).collect();
    claim_all(&mut env, id, &batch).unwrap();
    assert_eq!(env.market.batch(id).4, u(60));
    for r in &recs {
        assert!(env.market.fee_balance(r.asserter) >= u(10));
    }
    assert!(matches!(claim_all(&mut env, id, &batch[..1]), Err(MarketError::RecordAlreadyUsed(_))));
}

#[test]
fn an_opened_record_earns_r_a_only_when_priced() {
    let mut env = Env::new(1_000_000);
    let mut recs = records(2, PRICE);
    recs[1].fee = u(10);
    let id = commit(&mut env, &recs, PRICE + 10);
    env.advance(1, 1);
    env.market.seal_batch(id).unwrap();
    let mut expected = vec![U256::ZERO; 4];
    for (i, r) in recs.iter().enumerate() {
        let job = open(&mut env, id, r, proof(&recs, i)).unwrap();
        let validators = env.sampling.job_validators(job).0;
        let salt = B256::repeat_byte(7);
        for v in &validators {
            env.sender(*v);
            let commitment =
                validation_commitment(r.job_key, *v, r.output_hash, r.trace_root, salt);
            env.sampling.commit_validation(job, commitment).unwrap();
        }
        for v in &validators {
            env.sender(*v);
            env.sampling.reveal_validation(job, r.output_hash, r.trace_root, salt).unwrap();
            expected[miners().iter().position(|m| m == v).unwrap()] += u(R_V) / u(2);
        }
        assert_eq!(env.sampling.finalize_challenge(job).unwrap(), status::ACCEPTED);
        if i == 0 {
            expected[0] += u(R_A);
        }
    }
    let accrued: Vec<U256> = miners().iter().map(|m| env.market.accrued_reward(0, *m)).collect();
    assert_eq!(accrued, expected);
}
