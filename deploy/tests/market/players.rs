//! The honest side played by `assay-player` (what `worker run` runs) against a liar the test
//! plays move by move: the player must answer phases a consistent cheat never reaches, a
//! reduction's accumulators that are wrong from a middle term on and a leaf header out of the
//! schedule, and win each game by proof.

use std::{sync::Arc, time::Duration};

use assay_engine::{
    hash::Hash,
    model::ModelFile,
    trace::{Keep, Op, Trace},
};
use assay_player::{Player, Replay};
use assay_protocol::{codes::GamePhase, game::Side};
use assay_step::reduce::term_points;

use super::*;

/// The honest run, whatever the player keeps.
struct Honest {
    trace: Trace,
    blob: Vec<u8>,
}

impl Replay for Honest {
    fn run(&self, _keep: Keep) -> Result<(Hash, Trace), String> {
        Ok((honest_output().0, self.trace.clone()))
    }

    fn model_blob(&self) -> Result<Vec<u8>, String> {
        Ok(self.blob.clone())
    }
}

/// A Context element of the second decode step, the liar's accumulators wrong from the middle
/// term on: the player opens its own, bisects them against the liar's and proves the term.
pub(super) async fn an_honest_player_answers_a_liars_accumulators(m: &mut Market) {
    let (honest, lie, _, _) = traces_at((Op::Context, 2, None), &model_blob(), &generation());
    against_a_liar(m, honest, lie, true).await;
}

/// The head's chosen token relabelled: the player opens the schedule's proof and wins.
pub(super) async fn an_honest_player_answers_a_leaf_out_of_schedule(m: &mut Market) {
    let (honest, _, leaf, _) = traces_at((Op::Tokens, 1, Some(3)), &model_blob(), &generation());
    let mut lie = honest.clone();
    assert!(lie.relabel(leaf, Op::Context));
    against_a_liar(m, honest, lie, false).await;
}

/// Opens a game of `lie` (the asserter, played here) against `honest` (the challenger, played by
/// a `Player` with the validator's own key) and plays it out; the player must win by proof.
/// `wrong_terms`: the liar's accumulators are wrong from the middle term on.
async fn against_a_liar(m: &mut Market, honest: Trace, lie: Trace, wrong_terms: bool) {
    let (job, asserter, validators, game, block) = open_game(m, &honest, &lie, true).await;
    let challenger = validators[0];
    let index = m.miners.iter().position(|a| a.address == challenger).expect("a miner");
    let outcome =
        duel(m, (game, block), asserter, (honest, lie), wrong_terms, miner_key(index)).await;
    // The player sent the validator's transactions: its test client starts from the chain's nonce.
    m.miners[index] = Actor::new(&m.node, miner_key(index));
    assert_eq!(outcome, GameOutcome::ChallengerWon);
    let proven = m.view(m.game, IDisputeGame::gameCall { gameId: game }).await;
    assert_eq!(proven.outcome, GameOutcome::ChallengerWon as u8);
    let terms = m.view(m.game, IDisputeGame::disputedTermsCall { gameId: game }).await;
    assert_eq!(terms.kind, if wrong_terms { 2 } else { 4 }, "proven where the liar lied");
    assert_eq!(m.job_status(job).await, REJECTED);
    m.traces.clear();
}

/// An arbitrator, neither a miner nor drawn, files a bonded claim against an on-chain job's
/// corrupted assertion before its draw (`DisputeGame.disputeRecord`); the validators drawn all
/// agree with the asserter. The claim's game is played by a `Player` with the arbitrator's key
/// against the liar and won by proof: the job is rejected, the bond comes back, the arbitrator
/// is paid half the asserter's slash in tokens, and the agreeing validators are slashed.
pub(super) async fn an_arbitrators_bonded_claim_is_won_by_proof(m: &mut Market) {
    let (honest, lie, _, _) = traces_at((Op::Context, 2, None), &model_blob(), &generation());
    let (truth, wrong) = (honest_output(), keccak256("the corrupted output"));
    m.traces.insert(truth, B256::from(honest.root(&truth.0)));
    m.traces.insert(wrong, B256::from(lie.root(&wrong.0)));
    let key = keccak256("assay market test arbitrator");
    let arbitrator = Actor::new(&m.node, key);
    let bond = m.view(m.game, IDisputeGame::disputeBondCall {}).await;
    let fund = TransactionRequest::default()
        .with_from(m.owner.address)
        .with_to(arbitrator.address)
        .with_value(bond * U256::from(2u8));
    m.owner.p.send_transaction(fund).await.expect("sent").get_receipt().await.expect("funded");

    let (job, asserter) = m.submit_and_assign().await;
    let seed = m.assert_result(job, asserter, wrong, B256::ZERO).await;
    let claim = IDisputeGame::disputeRecordCall {
        jobKey: onchain_job_key(job),
        asserter,
        assertedOutput: wrong,
        outputHash: truth,
        traceRoot: m.trace_of(truth),
    };
    let receipt = m.send(&arbitrator, m.game, claim, bond).await;
    m.gas.add("DisputeGame.disputeRecord", &receipt);
    let filed = event::<IDisputeGame::ClaimFiled>(&receipt, m.game);
    assert_eq!((filed.jobId, filed.claimant), (U256::ZERO, arbitrator.address));
    let validators = m.draw_challenge(job, asserter, seed, false).await;
    let slots = m.view(m.sampling, ISampling::jobValidatorsCall { jobId: job }).await;
    assert_eq!(slots.validators.last(), Some(&arbitrator.address), "the claim joined the job");
    let votes: Vec<(Address, B256)> = validators.iter().map(|v| (*v, wrong)).collect();
    m.validate(job, onchain_job_key(job), &votes).await;
    let receipt = m.finalize(job, "finalizeChallenge (disputed by a bonded claim)").await;
    let [opened] = events::<IDisputeGame::GameOpened>(&receipt, m.game).try_into().expect("1 game");
    assert_eq!((opened.defender, opened.challenger), (asserter, arbitrator.address));
    let block = receipt.block_number.expect("mined");

    let outcome = duel(m, (opened.gameId, block), asserter, (honest, lie), true, key).await;
    assert_eq!(outcome, GameOutcome::ChallengerWon);
    assert_eq!(m.job_status(job).await, REJECTED);
    let slash = m.params.slash_amount;
    let paid = m.view(m.token, IAssayToken::balanceOfCall { account: arbitrator.address }).await;
    assert_eq!(paid, slash / U256::from(2u8), "half the asserter's slash");
    assert_eq!(m.view(m.game, IDisputeGame::bondsCall { account: arbitrator.address }).await, bond);
    let arbitrator = Actor::new(&m.node, key);
    let receipt = m.send(&arbitrator, m.game, IDisputeGame::withdrawBondsCall {}, U256::ZERO).await;
    let withdrawn = event::<IDisputeGame::BondsWithdrawn>(&receipt, m.game);
    assert_eq!((withdrawn.account, withdrawn.amount), (arbitrator.address, bond));
    m.traces.clear();
}

/// Plays `lie` as the asserter (here, move by move) against a `Player` with `key` that defends
/// `honest` as the challenger of `game` (opened in `block`); returns the player's outcome.
async fn duel(
    m: &mut Market,
    (game, block): (U256, u64),
    asserter: Address,
    (honest, lie): (Trace, Trace),
    wrong_terms: bool,
    key: B256,
) -> GameOutcome {
    let key = assay_chain::Key::from(
        alloy_signer_local::PrivateKeySigner::from_bytes(&key).expect("key"),
    );
    let client =
        assay_chain::Client::new(&m.node.url(), m.deployment.chain_id, Some(&key)).expect("client");
    let player =
        Player::new(client, &m.deployment).expect("a player").with_poll(Duration::from_millis(100));
    let opened = player.opened_games(block, block).await.expect("games");
    let opened = opened.into_iter().find(|g| g.game_id == game).expect("the game");
    let replay = Arc::new(Honest { trace: honest, blob: model_blob() });
    let playing = tokio::spawn(async move { player.play(&opened, replay).await });

    let mut liar = Liar::new(m, game, asserter, lie, wrong_terms).await;
    while liar.turn(m).await.is_some() && !playing.is_finished() {}
    playing.await.expect("joined").expect("the player finishes the game")
}

/// The asserter's side played from a corrupted trace, one move at a time.
pub(super) struct Liar {
    game: U256,
    asserter: Address,
    lie: Trace,
    blob: Vec<u8>,
    k: u32,
    wrong_terms: bool,
    /// The reduction's accumulators it claims, once posted.
    claimed: Option<Vec<[u8; 32]>>,
}

impl Liar {
    pub(super) async fn new(
        m: &Market,
        game: U256,
        asserter: Address,
        lie: Trace,
        wrong_terms: bool,
    ) -> Self {
        let k = 1u32 << m.view(m.game, IDisputeGame::configCall {}).await.arityBits;
        Self { game, asserter, lie, blob: model_blob(), k, wrong_terms, claimed: None }
    }

    /// Makes the asserter's move when it is its turn (else waits a little); returns the phase,
    /// `None` once the game has ended.
    pub(super) async fn turn(&mut self, m: &mut Market) -> Option<GamePhase> {
        let (game, asserter, k, wrong_terms) = (self.game, self.asserter, self.k, self.wrong_terms);
        let state = m.view(m.game, IDisputeGame::gameCall { gameId: game }).await;
        let phase = GamePhase::try_from(state.phase).expect("a phase");
        if phase == GamePhase::Ended {
            return None;
        }
        if state.sideToMove != asserter || phase == GamePhase::Step {
            tokio::time::sleep(Duration::from_millis(50)).await;
            return Some(phase);
        }
        let model = ModelFile::parse(&self.blob).expect("parses");
        let liar = Side::with_model(&self.lie, &model);
        let node = m.view(m.game, IDisputeGame::disputedNodeCall { gameId: game }).await;
        let at = (u32::from(node.level), node.index);
        let down = k.trailing_zeros().min(at.0);
        let element = m.view(m.game, IDisputeGame::disputedElementCall { gameId: game }).await;
        let none = Vec::new;
        match phase {
            GamePhase::Roots => {
                let (n, root) = liar.root();
                let call =
                    IDisputeGame::openRootCall { gameId: game, nLeaves: n, treeRoot: root.into() };
                m.send(m.miner(asserter), m.game, call, U256::ZERO).await;
            }
            GamePhase::Leaves | GamePhase::Cells => {
                let children = if phase == GamePhase::Leaves {
                    liar.leaf_children(node.width, at, down)
                } else {
                    liar.cell_children(element.leaf, at, down)
                };
                let children = hashes(children.expect("a node"));
                let call =
                    IDisputeGame::bisectCall { gameId: game, children, defenderChildren: none() };
                m.send(m.miner(asserter), m.game, call, U256::ZERO).await;
            }
            GamePhase::Leaf => {
                let preimage = liar.leaf_or_none(node.index).expect("kept").into();
                let call = IDisputeGame::openLeafCall {
                    gameId: game,
                    preimage,
                    defenderPreimage: Default::default(),
                };
                m.send(m.miner(asserter), m.game, call, U256::ZERO).await;
            }
            GamePhase::Cell => {
                let data = liar.cell(element.leaf, node.index).expect("a cell").into();
                let call = IDisputeGame::openCellCall {
                    gameId: game,
                    data,
                    defenderData: Default::default(),
                };
                m.send(m.miner(asserter), m.game, call, U256::ZERO).await;
            }
            GamePhase::Reduction | GamePhase::Terms => {
                let accs = self.claimed.get_or_insert_with(|| {
                    let mut accs = liar
                        .accumulators(element.leaf, (element.row, element.col))
                        .expect("accumulators");
                    let middle = accs.len() / 2;
                    if wrong_terms {
                        accs.iter_mut().skip(middle).for_each(|acc| acc[4] ^= 1);
                    }
                    accs
                });
                if phase == GamePhase::Reduction {
                    let call = IDisputeGame::openTermsCall {
                        gameId: game,
                        terms: accs.len() as u64 - 1,
                        last: B256::from(*accs.last().expect("one")),
                    };
                    m.send(m.miner(asserter), m.game, call, U256::ZERO).await;
                } else {
                    let terms =
                        m.view(m.game, IDisputeGame::disputedTermsCall { gameId: game }).await;
                    let posts = term_points(terms.lo, terms.hi, u64::from(k))
                        .map(|p| B256::from(accs[p as usize]))
                        .collect();
                    let call = IDisputeGame::bisectTermsCall {
                        gameId: game,
                        accs: posts,
                        defenderAccs: none(),
                    };
                    m.send(m.miner(asserter), m.game, call, U256::ZERO).await;
                }
            }
            GamePhase::None | GamePhase::Step | GamePhase::Ended => unreachable!("handled above"),
        }
        Some(GamePhase::None)
    }
}
