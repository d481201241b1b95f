//! The worker's dispute games: it watches `DisputeGame` for games in which it is the defender
//! (its asserted result is challenged) or the challenger (it revealed a different result as a
//! validator), and plays each from its own replay of the job ([`assay_player::Player`]).
//!
//! Games are found from `GameOpened` logs, scanned from the deployment block on start (so a
//! restarted worker resumes the games it was playing; ended ones cost one view each) and then
//! from the last block scanned. The job's input comes from [`Inputs`], where the worker kept it
//! when it ran the job; a game over a job it never ran (or a model it no longer loads) is logged
//! and left to run out.

use std::{collections::HashSet, sync::Arc, time::Duration};

use alloy_primitives::U256;
use assay_player::{OpenedGame, PlayError, Player};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, info_span, warn};

use crate::{
    exec::{JobReplay, Models},
    inputs::Inputs,
};

/// How often new games are looked for.
const SCAN_EVERY: Duration = Duration::from_secs(2);
/// Attempts at a game whose play failed on a chain call (a node restart, a dropped request).
const ATTEMPTS: u32 = 5;

/// What the watcher plays with.
#[derive(Debug, Clone)]
pub struct Games {
    /// The player, signing with the worker's key.
    pub player: Player,
    /// The models the worker loaded.
    pub models: Models,
    /// The inputs of the jobs it ran.
    pub inputs: Inputs,
    /// Play the cheat's claims (the test double of a cheating miner).
    pub dishonest: bool,
    /// The block the contracts were deployed in: the first scanned.
    pub from_block: u64,
}

impl Games {
    /// Watches for games and plays each until `shutdown` is cancelled.
    pub async fn watch(self, shutdown: CancellationToken) {
        let me = self.player.address();
        info!(%me, "watching for dispute games");
        let mut started: HashSet<U256> = HashSet::new();
        let mut from = self.from_block;
        loop {
            match self.scan(from).await {
                Ok((games, head)) => {
                    for game in games.into_iter().filter(|g| started.insert(g.game_id)) {
                        let span = info_span!("game", game = %game.game_id, job = %game.job_id);
                        tokio::spawn(self.clone().play(game).instrument(span));
                    }
                    from = head + 1;
                }
                Err(e) => warn!(error = %e, "scanning for dispute games failed; retrying"),
            }
            tokio::select! {
                () = tokio::time::sleep(SCAN_EVERY) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }

    async fn scan(&self, from: u64) -> Result<(Vec<OpenedGame>, u64), PlayError> {
        let head = self.player.head().await?;
        if head < from {
            return Ok((Vec::new(), from - 1));
        }
        Ok((self.player.opened_games(from, head).await?, head))
    }

    /// Plays one game, retrying after chain failures.
    async fn play(self, game: OpenedGame) {
        for attempt in 1..=ATTEMPTS {
            match self.play_once(&game).await {
                Ok(()) => return,
                Err(PlayError::Chain(e)) if attempt < ATTEMPTS => {
                    warn!(error = %e, attempt, "a chain call failed; playing on shortly");
                    tokio::time::sleep(SCAN_EVERY).await;
                }
                Err(e) => {
                    error!(error = %e, "cannot play this game");
                    return;
                }
            }
        }
    }

    async fn play_once(&self, game: &OpenedGame) -> Result<(), PlayError> {
        if self.player.ended(game.game_id).await?.is_some() {
            return Ok(());
        }
        let input_root = self.player.input_root(game).await?;
        let Some(spec) = self.inputs.load(game.model_id, input_root) else {
            error!(model = %game.model_id, %input_root, "this worker has no input for the disputed job: it cannot play");
            return Ok(());
        };
        let Some(model) = self.models.get(&game.model_id) else {
            error!(model = %game.model_id, "the disputed job's model is not loaded: cannot play");
            return Ok(());
        };
        let replay = Arc::new(JobReplay { model, spec, dishonest: self.dishonest });
        let outcome = self.player.play(game, replay).await?;
        info!(?outcome, "dispute game over");
        Ok(())
    }
}
