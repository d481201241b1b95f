//! [`Player`]: the loop that reads a game's state and posts this side's moves.

use std::{sync::Arc, time::Duration};

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rpc_types_eth::{Filter, TransactionReceipt};
use alloy_sol_types::{SolCall, SolEvent};
use assay_chain::{ChainError, Client};
use assay_engine::{model::ModelFile, trace::Keep, trace::Trace};
use assay_protocol::{
    bindings::{IDisputeGame, IJobMarket, ISampling},
    codes::{GameOutcome, GamePhase},
    deployment::Deployment,
    game::{GameError, Side},
};
use assay_step::reduce::term_points;
use tracing::{Instrument, info, info_span, warn};

use crate::{Mismatch, PlayError, Replay};

/// How often a player reads the game's state by default.
pub const DEFAULT_POLL: Duration = Duration::from_secs(1);

/// Which side of a game a player is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The asserter, defending the result it asserted.
    Defender,
    /// A validator, challenging with the result it revealed.
    Challenger,
}

/// A game as `GameOpened` announced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenedGame {
    /// The game's id.
    pub game_id: U256,
    /// The disputed job (a `JobMarket` job id).
    pub job_id: U256,
    /// The asserter.
    pub defender: Address,
    /// The dissenting validator.
    pub challenger: Address,
    /// The job's model.
    pub model_id: B256,
    /// The block the game was opened in (the other side's posts are logged from there on).
    pub block: u64,
}

/// One side's player: a signing client and the dispute contracts.
#[derive(Debug, Clone)]
pub struct Player {
    chain: Client,
    game: Address,
    market: Address,
    sampling: Address,
    me: Address,
    poll: Duration,
}

impl Player {
    /// A player signing with `chain`'s key on the deployment `deployment`, reading the game
    /// every [`DEFAULT_POLL`].
    ///
    /// # Errors
    /// [`PlayError::Deployment`] without `DisputeGame`, `JobMarket` or `Sampling`;
    /// [`PlayError::Chain`] for a client without a key.
    pub fn new(chain: Client, deployment: &Deployment) -> Result<Self, PlayError> {
        let me = chain.address().ok_or(ChainError::NoKey("DisputeGame moves"))?;
        Ok(Self {
            game: deployment.contract("DisputeGame")?,
            market: deployment.contract("JobMarket")?,
            sampling: deployment.contract("Sampling")?,
            chain,
            me,
            poll: DEFAULT_POLL,
        })
    }

    /// Sets how often the game's state is read.
    pub fn with_poll(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// The player's address.
    pub fn address(&self) -> Address {
        self.me
    }

    /// The latest block's number.
    ///
    /// # Errors
    /// [`PlayError::Chain`].
    pub async fn head(&self) -> Result<u64, PlayError> {
        Ok(self.chain.block_number().await?)
    }

    /// The games opened in blocks `from..=to` in which this player is the defender or the
    /// challenger, in order.
    ///
    /// # Errors
    /// [`PlayError::Chain`].
    pub async fn opened_games(&self, from: u64, to: u64) -> Result<Vec<OpenedGame>, PlayError> {
        let filter = Filter::new()
            .address(self.game)
            .event_signature(IDisputeGame::GameOpened::SIGNATURE_HASH);
        let logs = self.chain.logs(&filter, from, to, "GameOpened").await?;
        Ok(logs
            .iter()
            .filter_map(|log| {
                let opened = log.log_decode::<IDisputeGame::GameOpened>().ok()?;
                let g = opened.inner.data;
                Some(OpenedGame {
                    game_id: g.gameId,
                    job_id: g.jobId,
                    defender: g.defender,
                    challenger: g.challenger,
                    model_id: g.modelId,
                    block: log.block_number?,
                })
            })
            .filter(|g| g.defender == self.me || g.challenger == self.me)
            .collect())
    }

    /// Plays `game` to its end for this player's side, answering from `replay`; returns how it
    /// ended.
    ///
    /// # Errors
    /// [`PlayError::NotAParty`], [`PlayError::NotReproduced`] when the replay does not give the
    /// claim this side made (nothing is posted), [`PlayError::Move`] when the trace cannot
    /// answer, [`PlayError::Chain`] for a failed call other than a lost race to a move.
    pub async fn play(
        &self,
        game: &OpenedGame,
        replay: Arc<dyn Replay>,
    ) -> Result<GameOutcome, PlayError> {
        let span = info_span!("game", game = %game.game_id, job = %game.job_id);
        self.play_game(game, replay).instrument(span).await
    }

    async fn play_game(
        &self,
        game: &OpenedGame,
        replay: Arc<dyn Replay>,
    ) -> Result<GameOutcome, PlayError> {
        let role = match self.me {
            me if me == game.defender => Role::Defender,
            me if me == game.challenger => Role::Challenger,
            me => return Err(PlayError::NotAParty { game: game.game_id, me }),
        };
        if let Some(outcome) = self.ended(game.game_id).await? {
            return Ok(outcome);
        }
        let claim = self.claim(game, role).await?;
        let (output, trace) = run(game.job_id, &replay, Keep::Nothing).await?;
        let replayed = (B256::from(output), B256::from(trace.root(&output)));
        if replayed != claim {
            let mismatch = Mismatch {
                claimed_output: claim.0,
                claimed_trace: claim.1,
                output: replayed.0,
                trace: replayed.1,
            };
            return Err(PlayError::NotReproduced {
                job: game.job_id,
                mismatch: Box::new(mismatch),
            });
        }
        info!(?role, leaves = trace.leaves().len(), "playing");
        let arity_bits = self.chain.view(self.game, IDisputeGame::configCall {}).await?.arityBits;
        let mut turn = Turn { game, role, replay, leaves: trace, kept: None, arity_bits };
        let mut proof_sent = false;
        loop {
            let state =
                self.chain.view(self.game, IDisputeGame::gameCall { gameId: game.game_id }).await?;
            let phase = GamePhase::try_from(state.phase).map_err(|_| PlayError::UnknownCode {
                game: game.game_id,
                what: "phase",
                code: state.phase,
            })?;
            if phase == GamePhase::Ended {
                let outcome = outcome(game.game_id, state.outcome)?;
                info!(?outcome, "game ended");
                return Ok(outcome);
            }
            // Anyone may prove the step; the defender's clock runs while nobody does.
            let proving = phase == GamePhase::Step && !proof_sent;
            if state.sideToMove == self.me || proving {
                match self.make_move(&mut turn, phase).await {
                    Ok(()) => proof_sent |= phase == GamePhase::Step,
                    Err(PlayError::Chain(e)) if lost_race(&e) => {
                        tokio::time::sleep(self.poll).await
                    }
                    Err(e) => return Err(e),
                }
                continue;
            }
            if self.chain.latest_timestamp().await? > state.deadline {
                let call = IDisputeGame::timeoutCall { gameId: game.game_id };
                match self.chain.send(self.game, call, U256::ZERO).await {
                    Ok(receipt) => {
                        info!(tx = %receipt.transaction_hash, loser = %state.sideToMove, "the other side's clock ran out: timeout");
                        continue;
                    }
                    Err(e) if lost_race(&e) || e.is_revert::<IDisputeGame::ClockRunning>() => {}
                    Err(e) => return Err(e.into()),
                }
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// How `game` ended, `None` while it runs.
    ///
    /// # Errors
    /// [`PlayError::Chain`], [`PlayError::UnknownCode`].
    pub async fn ended(&self, game: U256) -> Result<Option<GameOutcome>, PlayError> {
        let state = self.chain.view(self.game, IDisputeGame::gameCall { gameId: game }).await?;
        if state.phase != u8::from(GamePhase::Ended) {
            return Ok(None);
        }
        outcome(game, state.outcome).map(Some)
    }

    /// The input root of `game`'s job (`JobMarket.job`): which input a side replays.
    ///
    /// # Errors
    /// [`PlayError::Chain`].
    pub async fn input_root(&self, game: &OpenedGame) -> Result<B256, PlayError> {
        let call = IJobMarket::jobCall { jobId: game.job_id };
        Ok(self.chain.view(self.market, call).await?.inputRoot)
    }

    /// `(outputHash, traceRoot)` this side claimed on chain: the asserted result, or the
    /// validator's reveal.
    async fn claim(&self, game: &OpenedGame, role: Role) -> Result<(B256, B256), PlayError> {
        if role == Role::Defender {
            let job =
                self.chain.view(self.market, IJobMarket::jobCall { jobId: game.job_id }).await?;
            return Ok((job.outputHash, job.traceRoot));
        }
        let call = ISampling::jobValidatorsCall { jobId: game.job_id };
        let drawn = self.chain.view(self.sampling, call).await?;
        let at = drawn
            .validators
            .iter()
            .position(|v| *v == self.me)
            .ok_or(PlayError::NotAParty { game: game.game_id, me: self.me })?;
        Ok((drawn.revealedHashes[at], drawn.revealedTraceRoots[at]))
    }

    /// Posts this side's move of `phase`.
    async fn make_move(&self, turn: &mut Turn<'_>, phase: GamePhase) -> Result<(), PlayError> {
        let id = turn.game.game_id;
        let bad_move = |source: GameError| PlayError::Move { game: id, source };
        let node =
            self.chain.view(self.game, IDisputeGame::disputedNodeCall { gameId: id }).await?;
        let at = (u32::from(node.level), node.index);
        let down = u32::from(turn.arity_bits).min(at.0);
        let receipt = match phase {
            GamePhase::Roots => {
                let (n, root) = Side::new(&turn.leaves).root();
                let call =
                    IDisputeGame::openRootCall { gameId: id, nLeaves: n, treeRoot: root.into() };
                self.send(call).await?
            }
            GamePhase::Leaves | GamePhase::Cells => {
                let children = if phase == GamePhase::Leaves {
                    Side::new(&turn.leaves).leaf_children(node.width, at, down)
                } else {
                    let leaf = self.disputed_leaf(turn.game).await?;
                    Side::new(turn.kept(id).await?).cell_children(leaf, at, down)
                }
                .map_err(bad_move)?;
                let defender_children = match turn.role {
                    Role::Defender => Vec::new(),
                    Role::Challenger => {
                        let posted = self
                            .defender_post::<IDisputeGame::Bisected>(turn.game, "bisection")
                            .await?;
                        // The defender's children of this node: `down` levels below, from
                        // the first child on.
                        if (posted.phase, u32::from(posted.level), posted.index)
                            != (u8::from(phase), at.0 - down, at.1 << down)
                        {
                            return Err(PlayError::Missing { game: id, what: "bisection" });
                        }
                        posted.children
                    }
                };
                let call = IDisputeGame::bisectCall {
                    gameId: id,
                    children: children.into_iter().map(B256::from).collect(),
                    defenderChildren: defender_children,
                };
                self.send(call).await?
            }
            GamePhase::Leaf => {
                let preimage =
                    Side::new(turn.kept(id).await?).leaf_or_none(node.index).map_err(bad_move)?;
                let defender = match turn.role {
                    Role::Defender => Bytes::new(),
                    Role::Challenger => {
                        self.defender_post::<IDisputeGame::LeafOpened>(turn.game, "leaf")
                            .await?
                            .preimage
                    }
                };
                let call = IDisputeGame::openLeafCall {
                    gameId: id,
                    preimage: preimage.into(),
                    defenderPreimage: defender,
                };
                self.send(call).await?
            }
            GamePhase::Cell => {
                let leaf = self.disputed_leaf(turn.game).await?;
                let data =
                    Side::new(turn.kept(id).await?).cell(leaf, node.index).map_err(bad_move)?;
                let defender = match turn.role {
                    Role::Defender => Bytes::new(),
                    Role::Challenger => {
                        self.defender_post::<IDisputeGame::CellOpened>(turn.game, "cell")
                            .await?
                            .data
                    }
                };
                let call = IDisputeGame::openCellCall {
                    gameId: id,
                    data: data.into(),
                    defenderData: defender,
                };
                self.send(call).await?
            }
            GamePhase::Reduction | GamePhase::Terms => {
                let (element, blob) = self.disputed(turn, id).await?;
                let model = model_of(turn, &blob)?;
                let side = Side::with_model(turn.kept(id).await?, &model);
                let at = (element.row, element.col);
                if phase == GamePhase::Reduction && side.sampled(element.leaf) {
                    // Nobody decides a sampled token: the proof ends the game without a verdict.
                    let proof = side.sampled_proof(element.leaf, u32::from(element.height));
                    let proof = proof.map_err(bad_move)?.into();
                    self.send(IDisputeGame::proveStepCall { gameId: id, proof }).await?
                } else if phase == GamePhase::Reduction {
                    let accs = side.accumulators(element.leaf, at).map_err(bad_move)?;
                    let last = B256::from(*accs.last().expect("the accumulator before any term"));
                    let terms = accs.len() as u64 - 1;
                    info!(leaf = element.leaf, terms, "opening the reduction's terms");
                    self.send(IDisputeGame::openTermsCall { gameId: id, terms, last }).await?
                } else {
                    let accs = side.accumulators(element.leaf, at).map_err(bad_move)?;
                    let state = self
                        .chain
                        .view(self.game, IDisputeGame::disputedTermsCall { gameId: id })
                        .await?;
                    let k = 1u64 << turn.arity_bits;
                    let posts: Vec<B256> = term_points(state.lo, state.hi, k)
                        .map(|p| accs.get(p as usize).map_or(accs[accs.len() - 1], |a| *a))
                        .map(B256::from)
                        .collect();
                    let defender_accs = match turn.role {
                        Role::Defender => Vec::new(),
                        Role::Challenger => {
                            let posted = self
                                .defender_post::<IDisputeGame::TermsBisected>(turn.game, "terms")
                                .await?;
                            if (posted.lo, posted.hi) != (state.lo, state.hi) {
                                return Err(PlayError::Missing { game: id, what: "terms" });
                            }
                            posted.accs
                        }
                    };
                    let call = IDisputeGame::bisectTermsCall {
                        gameId: id,
                        accs: posts,
                        defenderAccs: defender_accs,
                    };
                    self.send(call).await?
                }
            }
            GamePhase::Step => {
                let (element, blob) = self.disputed(turn, id).await?;
                let model = model_of(turn, &blob)?;
                // Equal trees, different outputs: the game went from the roots to the Step
                // phase (no leaf opened) and disputes the Output leaf's hash.
                let outputs =
                    self.last_event::<IDisputeGame::LeafOpened>(turn.game, None).await?.is_none();
                let side = Side::with_model(turn.kept(id).await?, &model);
                let height = u32::from(element.height);
                let at = (element.row, element.col);
                let terms = self
                    .chain
                    .view(self.game, IDisputeGame::disputedTermsCall { gameId: id })
                    .await?;
                let proof = match terms.kind {
                    _ if outputs => side.output_proof(height),
                    STEP_FINISH => side.finish_proof(element.leaf, at, height),
                    STEP_TERM => side.term_proof(element.leaf, at, terms.lo, height),
                    STEP_SCHEDULE => side.schedule_proof(element.leaf, height),
                    _ => side.step_proof(element.leaf, at, height),
                }
                .map_err(bad_move)?;
                info!(
                    leaf = element.leaf,
                    row = element.row,
                    col = element.col,
                    bytes = proof.len(),
                    "one-step proof"
                );
                self.send(IDisputeGame::proveStepCall { gameId: id, proof: proof.into() }).await?
            }
            GamePhase::None | GamePhase::Ended => return Ok(()),
        };
        info!(?phase, level = at.0, index = at.1, tx = %receipt.transaction_hash, gas = receipt.gas_used, "moved");
        Ok(())
    }

    async fn send<C: SolCall>(&self, call: C) -> Result<TransactionReceipt, PlayError> {
        Ok(self.chain.send(self.game, call, U256::ZERO).await?)
    }

    /// The element in dispute and the blob of the model its proofs open.
    async fn disputed(
        &self,
        turn: &Turn<'_>,
        id: U256,
    ) -> Result<(IDisputeGame::disputedElementReturn, Vec<u8>), PlayError> {
        let call = IDisputeGame::disputedElementCall { gameId: id };
        Ok((self.chain.view(self.game, call).await?, blob_of(turn)?))
    }

    /// The leaf in dispute once the Leaf phase has passed: the last `LeafOpened` of the game.
    async fn disputed_leaf(&self, game: &OpenedGame) -> Result<u64, PlayError> {
        let opened = self.last_event::<IDisputeGame::LeafOpened>(game, None).await?;
        Ok(opened.ok_or(PlayError::Missing { game: game.game_id, what: "leaf" })?.leaf)
    }

    /// The defender's last `E` post in `game` (it moves first in every phase).
    async fn defender_post<E: SolEvent>(
        &self,
        game: &OpenedGame,
        what: &'static str,
    ) -> Result<E, PlayError> {
        self.last_event::<E>(game, Some(game.defender))
            .await?
            .ok_or(PlayError::Missing { game: game.game_id, what })
    }

    /// The last `E` logged for `game` (by `side`, when given): events whose first topic is the
    /// game id and second the side.
    async fn last_event<E: SolEvent>(
        &self,
        game: &OpenedGame,
        side: Option<Address>,
    ) -> Result<Option<E>, PlayError> {
        let mut filter = Filter::new()
            .address(self.game)
            .event_signature(E::SIGNATURE_HASH)
            .topic1(B256::from(game.game_id));
        if let Some(side) = side {
            filter = filter.topic2(side.into_word());
        }
        let head = self.chain.block_number().await?;
        let logs = self.chain.logs(&filter, game.block, head, E::SIGNATURE).await?;
        Ok(logs.iter().rev().find_map(|log| log.log_decode::<E>().ok()).map(|l| l.inner.data))
    }
}

/// `disputedTerms(id).kind` when the Step phase proves a reduction's element from the agreed
/// final accumulator, and when it proves one term.
const STEP_FINISH: u8 = 1;
const STEP_TERM: u8 = 2;
/// `disputedTerms(id).kind` when the Step phase proves which header the disputed leaf must have.
const STEP_SCHEDULE: u8 = 4;

/// The blob of the model `turn`'s job ran.
fn blob_of(turn: &Turn<'_>) -> Result<Vec<u8>, PlayError> {
    let job = turn.game.job_id;
    turn.replay.model_blob().map_err(|detail| PlayError::Replay { job, detail })
}

/// `blob` parsed, for `turn`'s job.
fn model_of<'b>(turn: &Turn<'_>, blob: &'b [u8]) -> Result<ModelFile<'b>, PlayError> {
    let job = turn.game.job_id;
    ModelFile::parse(blob)
        .map_err(|e| PlayError::Replay { job, detail: format!("the model blob: {e}") })
}

/// What a side plays from: its replay, the leaves-only trace, and the trace with every op
/// output once the game reaches a leaf.
struct Turn<'a> {
    game: &'a OpenedGame,
    role: Role,
    replay: Arc<dyn Replay>,
    leaves: Trace,
    kept: Option<Trace>,
    arity_bits: u8,
}

impl Turn<'_> {
    /// The trace with every op output, replayed on first use (it must have the same leaves).
    async fn kept(&mut self, game: U256) -> Result<&Trace, PlayError> {
        if self.kept.is_none() {
            info!("replaying the job keeping every op output");
            let (_, kept) = run(self.game.job_id, &self.replay, Keep::All).await?;
            if kept.leaves() != self.leaves.leaves() {
                warn!(%game, "two replays differ");
                return Err(PlayError::Nondeterministic(self.game.job_id));
            }
            self.kept = Some(kept);
        }
        Ok(self.kept.as_ref().expect("set above"))
    }
}

/// Runs `replay` on a blocking thread.
async fn run(
    job: U256,
    replay: &Arc<dyn Replay>,
    keep: Keep,
) -> Result<(assay_engine::hash::Hash, Trace), PlayError> {
    let replay = replay.clone();
    tokio::task::spawn_blocking(move || replay.run(keep))
        .await
        .map_err(|e| PlayError::Replay { job, detail: format!("the replay panicked: {e}") })?
        .map_err(|detail| PlayError::Replay { job, detail })
}

fn outcome(game: U256, code: u8) -> Result<GameOutcome, PlayError> {
    GameOutcome::try_from(code).map_err(|_| PlayError::UnknownCode { game, what: "outcome", code })
}

/// A move refused because the other side (or a proof) got there first: read the state again.
fn lost_race(e: &ChainError) -> bool {
    e.is_revert::<IDisputeGame::NotYourTurn>() || e.is_revert::<IDisputeGame::WrongPhase>()
}
