//! Bonded claims: anyone but the asserter disputes an assertion with a bond posted to the dispute
//! game, before the hand-over (`disputeRecord`: it challenges a job the coin passed) or on a
//! job Sampling holds (`disputeJob`), and plays the challenger's side; the bond is settled by
//! the game's outcome.

use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::SolCall;
use assay_contract_common::records::{onchain_job_key, JobRecord};
use assay_dispute::GameError;

use super::batches::{challenged, commit, open, proof, records};
use super::harness::*;
use crate::{status, IStaking, MarketError};

const OUT: B256 = B256::repeat_byte(0x55);
const BAD: B256 = B256::repeat_byte(0x66);
const OTHER: B256 = B256::repeat_byte(0x67);
/// Someone who is neither a miner nor the coordinator: an arbitrator.
const ARBITRATOR: Address = Address::repeat_byte(0xd1);

/// Sends `value` with the next calls to the dispute game.
fn paying(env: &Env, who: Address, value: u64) {
    env.sender(who);
    env.gvm.set_value(u(value));
}

/// `who` files a claim of `output` against a job not handed over yet.
fn file_record(
    env: &mut Env,
    who: Address,
    (key, asserter, asserted): (B256, Address, B256),
    output: B256,
) -> Result<(), GameError> {
    paying(env, who, BOND);
    let r = env.game.dispute_record(key, asserter, asserted, output, trace(output));
    env.gvm.set_value(U256::ZERO);
    r
}

/// `who` files a claim of `output` against a job Sampling holds.
fn file_job(env: &mut Env, who: Address, id: U256, output: B256) -> Result<(), GameError> {
    paying(env, who, BOND);
    let r = env.tx(|env| env.game.dispute_job(id, output, trace(output)));
    env.gvm.set_value(U256::ZERO);
    r
}

/// Staking accepts slashing `amount` of `operator` to `recipient` (zero: burned).
fn mock_slash(env: &Env, operator: Address, amount: u64, recipient: Address) {
    let call = IStaking::slashCall { operator, amount: u(amount), recipient };
    let reply = IStaking::slashCall::abi_encode_returns(&u(amount));
    env.both(|vm| vm.mock_call(STAKING, call.abi_encode(), U256::ZERO, Ok(reply.clone())));
}

/// The dispute game may pay `amount` wei to `to`.
fn mock_payout(env: &Env, to: Address, amount: u64) {
    env.gvm.mock_call(to, Vec::new(), u(amount), Ok(Vec::new()));
}

/// A sealed batch whose first record the coin did not challenge.
fn unchallenged_record(env: &mut Env) -> (U256, Vec<JobRecord>) {
    let recs = records(2, 10);
    let id = commit(env, &recs, 20);
    env.advance(1, 1);
    env.market.seal_batch(id).unwrap();
    assert!(!challenged(env, id, &recs[0]), "fixture: record 0 must pass the coin");
    (id, recs)
}

#[test]
fn a_waiting_claim_opens_an_unchallenged_record_and_wins_against_a_silent_asserter() {
    let mut env = Env::new(1);
    let (batch, recs) = unchallenged_record(&mut env);
    let r = recs[0];
    let assertion = (r.job_key, r.asserter, r.output_hash);
    assert!(matches!(
        open(&mut env, batch, &r, proof(&recs, 0)),
        Err(MarketError::NotChallenged(_))
    ));
    // The claim's checks, each by name.
    paying(&env, ARBITRATOR, BOND - 1);
    assert!(matches!(
        env.game.dispute_record(r.job_key, r.asserter, r.output_hash, BAD, trace(BAD)),
        Err(GameError::WrongBond(_))
    ));
    env.gvm.set_value(U256::ZERO);
    let same = file_record(&mut env, ARBITRATOR, assertion, r.output_hash);
    assert!(matches!(same, Err(GameError::SameAsAsserted(_))));
    let own = file_record(&mut env, r.asserter, assertion, BAD);
    assert!(matches!(own, Err(GameError::AlreadyClaimed(_))));
    file_record(&mut env, ARBITRATOR, assertion, BAD).unwrap();
    let again = file_record(&mut env, ARBITRATOR, assertion, OTHER);
    assert!(matches!(again, Err(GameError::AlreadyClaimed(_))));
    assert_eq!(
        env.game.pending_disputes(r.job_key, r.asserter, r.output_hash),
        (vec![ARBITRATOR], vec![BAD], vec![trace(BAD)])
    );
    // The claim makes the record openable; the claimant is its only challenger.
    env.sender(ARBITRATOR);
    let job = open(&mut env, batch, &r, proof(&recs, 0)).unwrap();
    assert_eq!(env.status(job), status::CHALLENGED);
    assert_eq!(
        env.sampling.job_validators(job),
        (vec![ARBITRATOR], vec![2], vec![BAD], vec![trace(BAD)])
    );
    assert!(env.game.pending_disputes(r.job_key, r.asserter, r.output_hash).0.is_empty());
    // Nothing to wait for: finalized at once, the game opens (the claimant is never frozen:
    // staking has no freeze of it mocked).
    assert_eq!(env.sampling.finalize_challenge(job).unwrap(), status::DISPUTED);
    let game = env.game.game_of(job, ARBITRATOR);
    assert_eq!(env.game.game(game).1, r.asserter);
    // The asserter does not answer: the claim wins, half the slash goes to the claimant.
    mock_slash(&env, r.asserter, SLASH / 2, ARBITRATOR);
    mock_slash(&env, r.asserter, SLASH - SLASH / 2, Address::ZERO);
    env.advance(1, CLOCK + 1);
    env.game.timeout(game).unwrap();
    assert_eq!(env.status(job), status::REJECTED);
    assert_eq!(env.market.fee_balance(COORD), u(10), "the record's fee goes back");
    assert_eq!(env.game.bonds(ARBITRATOR), u(BOND));
    mock_payout(&env, ARBITRATOR, BOND);
    env.sender(ARBITRATOR);
    assert_eq!(env.game.withdraw_bonds().unwrap(), u(BOND));
    assert_eq!(env.game.bonds(ARBITRATOR), U256::ZERO);
    assert!(matches!(env.game.withdraw_bonds(), Err(GameError::NothingToWithdraw(_))));
}

#[test]
fn a_claim_against_honest_work_loses_its_bond_to_the_asserter() {
    let mut env = Env::new(1);
    let (id, asserter) = env.asserted(OUT);
    file_record(&mut env, ARBITRATOR, (onchain_job_key(id), asserter, OUT), BAD).unwrap();
    env.advance(1, 1);
    // The coin passes the job; the waiting claim challenges it anyway.
    assert!(env.market.draw_challenge(id).unwrap());
    assert_eq!(env.sampling.job_validators(id).0, vec![ARBITRATOR]);
    assert_eq!(env.sampling.finalize_challenge(id).unwrap(), status::DISPUTED);
    let game = env.game.game_of(id, ARBITRATOR);
    env.sender(asserter);
    env.game.open_root(game, 1, TREE).unwrap();
    env.advance(1, CLOCK + 1);
    env.game.timeout(game).unwrap();
    assert_eq!(env.status(id), status::ACCEPTED);
    assert_eq!(env.game.bonds(asserter), u(BOND), "the lost bond pays the defender");
    assert_eq!(env.game.bonds(ARBITRATOR), U256::ZERO);
    assert_eq!(env.market.accrued_reward(0, asserter), u(R_A), "no stake was slashed");
}

#[test]
fn a_claim_joins_a_disputed_job_and_every_claim_is_played() {
    let mut env = Env::new(1_000_000);
    let (id, asserter) = env.asserted(OUT);
    env.advance(1, 1);
    assert!(env.market.draw_challenge(id).unwrap());
    let v = env.sampling.job_validators(id).0;
    for (who, vote) in v.iter().zip([BAD, BAD]) {
        env.sender(*who);
        let key = onchain_job_key(id);
        let salt = B256::left_padding_from(who.as_slice());
        let c = assay_contract_common::records::validation_commitment(
            key,
            *who,
            vote,
            trace(vote),
            salt,
        );
        env.sampling.commit_validation(id, c).unwrap();
    }
    for who in &v {
        env.sender(*who);
        let salt = B256::left_padding_from(who.as_slice());
        env.sampling.reveal_validation(id, BAD, trace(BAD), salt).unwrap();
    }
    // While challenged, a claim is compared at finalize like a reveal.
    file_job(&mut env, ARBITRATOR, id, OTHER).unwrap();
    assert_eq!(env.sampling.finalize_challenge(id).unwrap(), status::DISPUTED);
    let games: Vec<U256> =
        [v[0], v[1], ARBITRATOR].iter().map(|who| env.game.game_of(id, *who)).collect();
    assert_eq!(games, vec![u(1), u(2), u(3)]);
    // A disputed job takes a claim with its game at once; the refusals by name.
    let late = Address::repeat_byte(0xd2);
    assert!(matches!(file_job(&mut env, v[0], id, OTHER), Err(GameError::AlreadyClaimed(_))));
    assert!(matches!(file_job(&mut env, asserter, id, OTHER), Err(GameError::AlreadyClaimed(_))));
    assert!(matches!(file_job(&mut env, late, id, OUT), Err(GameError::SameAsAsserted(_))));
    assert!(matches!(file_job(&mut env, late, u(99), OTHER), Err(GameError::NotDisputable(_))));
    file_job(&mut env, late, id, OTHER).unwrap();
    assert_eq!(env.game.game_of(id, late), u(4));
    // The asserter answers none: every claim wins; the two claimants share half the slash.
    mock_slash(&env, asserter, SLASH / 4, ARBITRATOR);
    mock_slash(&env, asserter, SLASH / 4, late);
    mock_slash(&env, asserter, SLASH / 2, Address::ZERO);
    env.advance(1, CLOCK + 1);
    for game in 1..=4 {
        env.game.timeout(u(game)).unwrap();
        let expected = if game < 4 { status::DISPUTED } else { status::REJECTED };
        assert_eq!(env.status(id), expected);
    }
    // The validators share R_V and half of what was burned.
    assert_eq!(env.market.accrued_reward(0, v[0]), u(R_V / 2 + SLASH / 2 / 4));
    assert_eq!(env.market.accrued_reward(0, ARBITRATOR), U256::ZERO, "no stake, no reward");
    assert_eq!((env.game.bonds(ARBITRATOR), env.game.bonds(late)), (u(BOND), u(BOND)));
}

#[test]
fn a_waiting_claim_is_withdrawn_or_refunded_to_a_drawn_validator() {
    let mut env = Env::new(1_000_000);
    let (id, asserter) = env.asserted(OUT);
    let assertion = (onchain_job_key(id), asserter, OUT);
    // Every other miner files a claim; withdrawing one pays its bond back.
    let others: Vec<Address> = miners().into_iter().filter(|m| *m != asserter).collect();
    for m in &others {
        file_record(&mut env, *m, assertion, BAD).unwrap();
    }
    file_record(&mut env, ARBITRATOR, assertion, OTHER).unwrap();
    mock_payout(&env, ARBITRATOR, BOND);
    env.sender(ARBITRATOR);
    env.game.withdraw_dispute(assertion.0, asserter, OUT).unwrap();
    assert!(matches!(
        env.game.withdraw_dispute(assertion.0, asserter, OUT),
        Err(GameError::NothingToWithdraw(_))
    ));
    assert_eq!(env.game.pending_disputes(assertion.0, asserter, OUT).0, others);
    // The coin challenges the job: the two drawn validators keep their slots (and commit as
    // usual), their claims are refunded; the third claim joins as a bonded claim.
    env.advance(1, 1);
    assert!(env.market.draw_challenge(id).unwrap());
    let (slots, states, _, _) = env.sampling.job_validators(id);
    let drawn = &slots[..2];
    let claimant = others.iter().find(|m| !drawn.contains(m)).copied().unwrap();
    assert_eq!(slots[2], claimant);
    assert_eq!(states, vec![0, 0, 2]);
    for d in drawn {
        assert_eq!(env.game.bonds(*d), u(BOND));
    }
    assert_eq!(env.game.bonds(claimant), U256::ZERO, "its bond is held for its game");
}

#[test]
fn only_the_game_adds_claims_and_only_sampling_takes_them() {
    let mut env = Env::new(1_000_000);
    let (id, asserter) = env.asserted(OUT);
    env.advance(1, 1);
    assert!(env.market.draw_challenge(id).unwrap());
    // A claimant cannot skip the bond by calling Sampling itself.
    env.sender(ARBITRATOR);
    assert!(matches!(
        env.sampling.add_claim(id, ARBITRATOR, BAD, trace(BAD)),
        Err(assay_sampling::SamplingError::NotDisputeGame(_))
    ));
    // Nobody but Sampling takes (and so spends) the claims waiting for a job.
    file_record(&mut env, ARBITRATOR, (B256::repeat_byte(9), asserter, OUT), BAD).unwrap();
    let key =
        assay_contract_common::records::pending_claims_key(B256::repeat_byte(9), asserter, OUT);
    env.sender(ARBITRATOR);
    assert!(matches!(env.game.take_claims(key, id, Vec::new()), Err(GameError::NotSampling(_))));
    assert_eq!(env.game.pending_disputes(B256::repeat_byte(9), asserter, OUT).0, vec![ARBITRATOR]);
}
