//! Batched off-chain jobs: commit, seal, open challenged records, claim the rest exactly once.

use alloy_primitives::{B256, U256};
use assay_contract_common::{draw, merkle, records::JobRecord};
use proptest::prelude::*;

use super::harness::*;
use crate::{status, MarketError};

fn records(n: u64, fee: u64) -> Vec<JobRecord> {
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

fn commit(env: &mut Env, recs: &[JobRecord], escrow: u64) -> U256 {
    let leaves: Vec<B256> = recs.iter().map(JobRecord::leaf).collect();
    env.sender(COORD);
    env.vm.set_value(u(escrow));
    let id = env.market.commit_batch(merkle::root(&leaves), recs.len() as u32).unwrap();
    env.vm.set_value(U256::ZERO);
    id
}

fn proof(recs: &[JobRecord], i: usize) -> Vec<B256> {
    let leaves: Vec<B256> = recs.iter().map(JobRecord::leaf).collect();
    merkle::proof(&leaves, i).unwrap()
}

fn open(env: &mut Env, batch: U256, r: &JobRecord, p: Vec<B256>) -> Result<U256, MarketError> {
    env.market.open_batch_job(
        batch,
        r.job_key,
        r.model_id,
        r.input_root,
        r.asserter,
        r.output_hash,
        r.trace_root,
        r.fee,
        p,
    )
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

fn challenged(env: &Env, batch: U256, r: &JobRecord) -> bool {
    let hash = env.market.batch(batch).5;
    draw::is_challenged(draw::challenge_seed(B256::ZERO, hash, r.job_key), env.sampling.params().0)
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
    assert_eq!(env.market.accrued_reward(0, recs[0].asserter), u(R_A));
    assert_eq!(env.market.batch(id).4, u(10));
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
        _0: 0,
        _1: U256::ZERO,
        _2: U256::ZERO,
        _3: U256::ZERO,
        _4: 0,
        _5: 0,
    };
    use alloy_sol_types::SolCall;
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
