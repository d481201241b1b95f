//! `assay-player`: one side of a dispute game (`contracts/interfaces/IDisputeGame.sol`), played
//! on chain from that side's own replay of the job.
//!
//! A [`Player`] signs with the key of a party to the game (the asserter defending its result,
//! or a validator challenging it). It replays the job through its [`Replay`], refuses to play a
//! claim the replay does not reproduce, and then loops until the game ends:
//!
//! - on its turn it posts the move its own trace answers (`assay_protocol::game::Side`): the
//!   root opening, the bisection children, the disputed leaf and cell; a challenger passes back
//!   what the defender posted, read from the defender's events;
//! - in the Step phase it sends the one-step proof of the disputed element (anyone may; the
//!   proof decides who was right);
//! - when the side to move lets its clock run out, it calls `timeout`.
//!
//! The player keeps no state of its own: everything it needs (the phase, the disputed node, the
//! leaf in dispute, the other side's posts) is read from the chain, so a player restarted
//! mid-game picks up where the game stands. The replay keeps only leaf hashes until the game
//! reaches a leaf; it then runs once more keeping every op output, for openings and the proof.

mod play;

use alloy_primitives::{Address, B256, U256};
use assay_chain::ChainError;
use assay_engine::{
    hash::Hash,
    trace::{Keep, Trace},
};
use assay_protocol::{deployment::DeploymentError, game::GameError};
use thiserror::Error;

pub use play::{DEFAULT_POLL, OpenedGame, Player, Role};

/// How a side re-runs the job it stands behind.
pub trait Replay: Send + Sync {
    /// Runs the job, keeping the op outputs `keep` names: the output hash this side claims and
    /// its trace.
    ///
    /// # Errors
    /// Why the job cannot be run, as text.
    fn run(&self, keep: Keep) -> Result<(Hash, Trace), String>;

    /// The model blob (`ModelFile`) that one-step proofs open weights, tables and the config
    /// against.
    ///
    /// # Errors
    /// Why it cannot be read, as text.
    fn model_blob(&self) -> Result<Vec<u8>, String>;
}

/// A claim on chain and what the replay gives instead.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "claimed output {claimed_output}, trace root {claimed_trace}; replayed output {output}, \
     trace root {trace}"
)]
pub struct Mismatch {
    /// The output hash claimed on chain.
    pub claimed_output: B256,
    /// The trace root claimed on chain.
    pub claimed_trace: B256,
    /// The replay's output hash.
    pub output: B256,
    /// The replay's trace root.
    pub trace: B256,
}

/// Why a game could not be played to its end.
#[derive(Debug, Error)]
pub enum PlayError {
    /// A chain call failed (a revert is named).
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The deployment lacks a contract the player calls.
    #[error(transparent)]
    Deployment(#[from] DeploymentError),
    /// The player's key is not a party to the game.
    #[error("{me} is not a party to game {game}")]
    NotAParty {
        /// The game.
        game: U256,
        /// The player's address.
        me: Address,
    },
    /// The replay failed.
    #[error("replaying job {job}: {detail}")]
    Replay {
        /// The job.
        job: U256,
        /// Why.
        detail: String,
    },
    /// The replay does not reproduce the claim this side made on chain: it cannot answer the
    /// game's moves, so it does not try.
    #[error("the replay of job {job} does not reproduce this side's claim: {mismatch}")]
    NotReproduced {
        /// The job.
        job: U256,
        /// The claim and the replay.
        mismatch: Box<Mismatch>,
    },
    /// Two replays of the job differ (the engine is not deterministic on this machine).
    #[error("two replays of job {0} give different traces")]
    Nondeterministic(U256),
    /// The trace cannot answer the move the game asks for.
    #[error("game {game}: {source}")]
    Move {
        /// The game.
        game: U256,
        /// Why.
        source: GameError,
    },
    /// The other side's post this move answers is not on chain.
    #[error("game {game}: the defender's {what} is not on chain")]
    Missing {
        /// The game.
        game: U256,
        /// What was looked for.
        what: &'static str,
    },
    /// The chain reported a code this player does not know (a newer contract).
    #[error("game {game}: unknown {what} {code}")]
    UnknownCode {
        /// The game.
        game: U256,
        /// Phase or outcome.
        what: &'static str,
        /// The code.
        code: u8,
    },
}
