//! The challenge coin, commit-reveal validation, outcomes, and disputes played out in the dispute
//! game.

use alloy_primitives::{Address, B256, U256};
use assay_contract_common::{
    draw,
    records::{onchain_job_key, seed_commitment, validation_commitment},
};

use super::harness::*;
use assay_dispute::GameError;
use assay_sampling::SamplingError;

use crate::{status, MarketError};

const OUT: B256 = B256::repeat_byte(0x55);
const BAD: B256 = B256::repeat_byte(0x66);

fn salt(v: Address) -> B256 {
    B256::left_padding_from(v.as_slice())
}

/// Challenged job with its drawn validators.
fn challenged(env: &mut Env) -> (U256, Address, Vec<Address>) {
    let (id, asserter) = env.asserted(OUT);
    env.advance(1, 1);
    assert!(env.market.draw_challenge(id).unwrap());
    let validators = env.sampling.job_validators(id).0;
    (id, asserter, validators)
}

fn commit(env: &mut Env, id: U256, v: Address, hash: B256) {
    env.sender(v);
    let commitment = validation_commitment(onchain_job_key(id), v, hash, trace(hash), salt(v));
    env.sampling.commit_validation(id, commitment).unwrap();
}

fn reveal(env: &mut Env, id: U256, v: Address, hash: B256) {
    env.sender(v);
    env.sampling.reveal_validation(id, hash, trace(hash), salt(v)).unwrap();
}

#[test]
fn unchallenged_job_is_accepted_and_paid() {
    let mut env = Env::new(1);
    let (id, asserter) = env.asserted(OUT);
    assert!(matches!(env.market.draw_challenge(id), Err(MarketError::TooEarly(_))));
    env.advance(1, 1);
    let seed = draw::challenge_seed(B256::ZERO, block_hash(101), onchain_job_key(id));
    assert!(!draw::is_challenged(seed, 1), "fixture must not be challenged");
    assert!(!env.market.draw_challenge(id).unwrap());
    assert_eq!(env.status(id), status::ACCEPTED);
    assert_eq!(env.market.fee_balance(asserter), u(PRICE));
    assert_eq!(env.market.accrued_reward(0, asserter), u(R_A));
    assert!(matches!(env.market.draw_challenge(id), Err(MarketError::WrongStatus(_))));
}

#[test]
fn late_draws_count_as_challenged() {
    let mut env = Env::new(1);
    let (id, _) = env.asserted(OUT);
    env.advance(300, 1);
    assert!(env.market.draw_challenge(id).unwrap());
    assert_eq!(env.status(id), status::CHALLENGED);
}

#[test]
fn validators_exclude_the_asserter_and_follow_the_draw() {
    let mut env = Env::new(1_000_000);
    let (id, asserter, validators) = challenged(&mut env);
    assert_eq!(validators.len(), 2);
    assert!(!validators.contains(&asserter));
    let seed = draw::challenge_seed(B256::ZERO, block_hash(101), onchain_job_key(id));
    let weights: Vec<U256> =
        miners().iter().map(|m| if *m == asserter { U256::ZERO } else { u(100) }).collect();
    let expected: Vec<Address> =
        draw::pick_distinct(seed, &weights, 2).into_iter().map(|i| miners()[i]).collect();
    assert_eq!(validators, expected);
}

#[test]
fn a_hidden_epoch_seed_blocks_draws_until_revealed() {
    let mut env = Env::new(1_000_000);
    let seed = B256::repeat_byte(9);
    env.sender(COORD);
    env.market.commit_epoch_seed(1, seed_commitment(1, seed)).unwrap();
    env.advance(0, EPOCH);
    let (id, _) = env.asserted(OUT);
    env.advance(1, 1);
    assert!(matches!(env.market.draw_challenge(id), Err(MarketError::SeedNotRevealed(_))));
    env.market.reveal_epoch_seed(1, seed).unwrap();
    assert!(env.market.draw_challenge(id).unwrap());
    let expected = draw::challenge_seed(seed, block_hash(env.block - 1), onchain_job_key(id));
    let asserter = env.market.job(id).5;
    let weights: Vec<U256> =
        miners().iter().map(|m| if *m == asserter { U256::ZERO } else { u(100) }).collect();
    let first = draw::pick_distinct(expected, &weights, 2)[0];
    assert_eq!(env.sampling.job_validators(id).0[0], miners()[first]);
}

#[test]
fn commit_reveal_enforces_membership_order_and_deadlines() {
    let mut env = Env::new(1_000_000);
    let (id, asserter, v) = challenged(&mut env);
    env.sender(asserter);
    assert!(matches!(
        env.sampling.commit_validation(id, B256::ZERO),
        Err(SamplingError::NotValidator(_))
    ));
    commit(&mut env, id, v[0], OUT);
    assert!(matches!(
        env.sampling.commit_validation(id, B256::ZERO),
        Err(SamplingError::AlreadyCommitted(_))
    ));
    // Reveal opens only when everyone committed or the commit phase ended.
    assert!(matches!(
        env.sampling.reveal_validation(id, OUT, trace(OUT), salt(v[0])),
        Err(SamplingError::RevealNotOpen(_))
    ));
    commit(&mut env, id, v[1], OUT);
    env.sender(v[0]);
    assert!(matches!(
        env.sampling.reveal_validation(id, BAD, trace(OUT), salt(v[0])),
        Err(SamplingError::CommitmentMismatch(_))
    ));
    // The trace root is committed too.
    assert!(matches!(
        env.sampling.reveal_validation(id, OUT, trace(BAD), salt(v[0])),
        Err(SamplingError::CommitmentMismatch(_))
    ));
    assert!(matches!(
        env.sampling.finalize_challenge(id),
        Err(SamplingError::ChallengeStillOpen(_))
    ));
    reveal(&mut env, id, v[0], OUT);
    let (_, states, hashes, traces) = env.sampling.job_validators(id);
    assert_eq!(
        (states[0], hashes[0], traces[0]),
        (assay_contract_common::codes::ValidatorState::Revealed as u8, OUT, trace(OUT))
    );
    assert_eq!((hashes[1], traces[1]), (B256::ZERO, B256::ZERO));
    env.advance(1, 121);
    env.sender(v[1]);
    assert!(matches!(
        env.sampling.reveal_validation(id, OUT, trace(OUT), salt(v[1])),
        Err(SamplingError::RevealClosed(_))
    ));
    assert!(matches!(
        env.sampling.commit_validation(id, B256::ZERO),
        Err(SamplingError::CommitClosed(_))
    ));
}

#[test]
fn matching_validators_accept_the_job_and_share_rewards() {
    let mut env = Env::new(1_000_000);
    let (id, asserter, v) = challenged(&mut env);
    for x in &v {
        commit(&mut env, id, *x, OUT);
    }
    for x in &v {
        reveal(&mut env, id, *x, OUT);
    }
    assert_eq!(env.sampling.finalize_challenge(id).unwrap(), status::ACCEPTED);
    // 10 % user discount on a verified job.
    assert_eq!(env.market.fee_balance(USER), u(PRICE / 10));
    assert_eq!(env.market.fee_balance(asserter), u(PRICE - PRICE / 10));
    assert_eq!(env.market.accrued_reward(0, v[0]), u(R_V / 2));
    assert_eq!(env.market.accrued_reward(0, asserter), u(R_A));
}

#[test]
fn an_absent_validator_does_not_block_acceptance() {
    let mut env = Env::new(1_000_000);
    let (id, _, v) = challenged(&mut env);
    commit(&mut env, id, v[0], OUT);
    env.advance(1, 61);
    reveal(&mut env, id, v[0], OUT);
    env.advance(1, 60);
    assert_eq!(env.sampling.finalize_challenge(id).unwrap(), status::ACCEPTED);
    assert_eq!(env.market.accrued_reward(0, v[0]), u(R_V));
    assert_eq!(env.market.accrued_reward(0, v[1]), U256::ZERO);
}

/// A challenged job whose two validators vote `votes` against the asserter's `OUT`, finalized:
/// disputed.
fn disputed(env: &mut Env, votes: [B256; 2]) -> (U256, Address, Vec<Address>) {
    let (id, asserter, v) = challenged(env);
    for (x, vote) in v.iter().zip(votes) {
        commit(env, id, *x, vote);
    }
    for (x, vote) in v.iter().zip(votes) {
        reveal(env, id, *x, vote);
    }
    assert_eq!(env.sampling.finalize_challenge(id).unwrap(), status::DISPUTED);
    (id, asserter, v)
}

#[test]
fn a_silent_asserter_loses_every_game_and_is_slashed() {
    let mut env = Env::new(1_000_000);
    let (id, asserter, v) = disputed(&mut env, [BAD, BAD]);
    // One game per dissenter; the asserter defends.
    let games = [env.game.game_of(id, v[0]), env.game.game_of(id, v[1])];
    assert_eq!(games, [u(1), u(2)]);
    let (job, defender, challenger, phase, _, to_move, deadline) = env.game.game(games[0]);
    assert_eq!((job, defender, challenger, phase), (id, asserter, v[0], 1));
    assert_eq!((to_move, deadline), (asserter, env.now + CLOCK));
    env.sender(USER);
    assert!(matches!(env.sampling.game_ended(id, v[0], 2), Err(SamplingError::NotDisputeGame(_))));
    env.advance(1, CLOCK);
    assert!(matches!(env.game.timeout(games[0]), Err(GameError::ClockRunning(_))));
    env.advance(1, 1);
    env.game.timeout(games[0]).unwrap();
    assert_eq!(env.status(id), status::DISPUTED, "one game is still running");
    env.game.timeout(games[1]).unwrap();
    // The asserter lied: the job is rejected, the fee refunded, the validators rewarded with
    // R_V and half the slash.
    assert_eq!(env.status(id), status::REJECTED);
    assert_eq!(env.market.fee_balance(USER), u(PRICE));
    assert_eq!(env.market.fee_balance(asserter), U256::ZERO);
    assert_eq!(env.market.accrued_reward(0, v[0]), u(R_V / 2 + SLASH / 4));
    assert!(matches!(env.game.timeout(games[1]), Err(GameError::WrongPhase(_))));
}

#[test]
fn a_lying_validator_loses_its_game_on_time() {
    let mut env = Env::new(1_000_000);
    let (id, asserter, v) = disputed(&mut env, [OUT, BAD]);
    assert_eq!(env.game.game_of(id, v[0]), U256::ZERO, "no game for an agreeing validator");
    let game = env.game.game_of(id, v[1]);
    env.sender(asserter);
    env.game.open_root(game, 1, TREE).unwrap();
    env.advance(1, CLOCK + 1);
    env.game.timeout(game).unwrap();
    assert_eq!(env.status(id), status::ACCEPTED);
    // Winners (asserter and the honest validator) split half of the liar's slash.
    assert_eq!(env.market.accrued_reward(0, asserter), u(R_A + SLASH / 4));
    assert_eq!(env.market.accrued_reward(0, v[0]), u(R_V + SLASH / 4));
    assert_eq!(env.market.accrued_reward(0, v[1]), U256::ZERO);
}

#[test]
fn a_game_without_a_verdict_refunds_the_job_and_slashes_nobody() {
    let mut env = Env::new(1_000_000);
    let (id, asserter, v) = challenged(&mut env);
    // The dissenter claims two leaves whose tree lifts to the asserter's one-leaf tree: which
    // length is right is the schedule's question, which the prover does not decide yet.
    let two = node(TREE, B256::ZERO);
    let root = trace_of(2, BAD, two);
    let key = onchain_job_key(id);
    commit(&mut env, id, v[0], OUT);
    env.sender(v[1]);
    let commitment = validation_commitment(key, v[1], BAD, root, salt(v[1]));
    env.sampling.commit_validation(id, commitment).unwrap();
    reveal(&mut env, id, v[0], OUT);
    env.sender(v[1]);
    env.sampling.reveal_validation(id, BAD, root, salt(v[1])).unwrap();
    assert_eq!(env.sampling.finalize_challenge(id).unwrap(), status::DISPUTED);
    let game = env.game.game_of(id, v[1]);
    env.sender(asserter);
    env.game.open_root(game, 1, TREE).unwrap();
    env.sender(v[1]);
    env.game.open_root(game, 2, two).unwrap();
    assert_eq!(env.game.game(game).4, 4, "no verdict");
    assert_eq!(env.status(id), status::REJECTED);
    assert_eq!(env.market.fee_balance(USER), u(PRICE));
    for who in [asserter, v[0], v[1]] {
        assert_eq!(env.market.accrued_reward(0, who), U256::ZERO);
    }
}

/// Equal trees under different outputs: the game disputes the outputs (the Step phase over the
/// last leaf, the defender's burden). An opening that is not the trace's leaf is refused; a
/// defender that cannot open its Output leaf loses on time, with everyone who claimed its output.
#[test]
fn equal_trees_under_different_outputs_dispute_the_output_leaf() {
    let mut env = Env::new(1_000_000);
    let (id, asserter, v) = disputed(&mut env, [OUT, BAD]);
    let game = env.game.game_of(id, v[1]);
    env.sender(asserter);
    env.game.open_root(game, 1, TREE).unwrap();
    env.sender(v[1]);
    env.game.open_root(game, 1, TREE).unwrap();
    let (.., phase, outcome, to_move, _) = env.game.game(game);
    assert_eq!((phase, outcome, to_move), (6, 0, asserter), "the Step phase, the defender's turn");
    let (leaf, row, col, defender, challenger, height) = env.game.disputed_element(game);
    assert_eq!((leaf, row, col, defender, challenger, height), (0, 0, 0, OUT, BAD, 0));
    // `TREE` is no leaf's hash: no opening reaches it.
    let opening = [0u64.to_le_bytes().as_slice(), &[0, 0, 0]].concat();
    assert!(matches!(env.game.prove_step(game, opening.into()), Err(GameError::BadProof(_))));
    env.advance(1, CLOCK + 1);
    env.game.timeout(game).unwrap();
    assert_eq!(env.game.game(game).4, 2, "the challenger won");
    assert_eq!(env.status(id), status::REJECTED);
    assert_eq!(env.market.fee_balance(USER), u(PRICE));
}

#[test]
fn the_dispute_game_is_paired_once_and_must_name_this_sampling() {
    let mut env = Env::new(1_000_000);
    env.sender(OWNER);
    assert!(matches!(env.sampling.set_dispute_game(GAME), Err(SamplingError::InvalidParams(_))));
    let mut fresh = Env::deployed();
    fresh.sender(OWNER);
    // An account that does not answer `config()` is no dispute game.
    assert!(matches!(fresh.sampling.set_dispute_game(USER), Err(SamplingError::InvalidParams(_))));
    fresh.sampling.set_dispute_game(GAME).unwrap();
    assert_eq!(fresh.sampling.contracts().3, GAME);
}
