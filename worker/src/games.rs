//! The worker's dispute games: it watches `DisputeGame` for games in which it is the defender
//! (its asserted result is challenged) or the challenger (it revealed a different result as a
//! validator), and plays each from its own replay of the job ([`assay_player::Player`]).
//!
//! Games are found from `GameOpened` logs, scanned from the block the [`GameCursor`] in the state
//! directory keeps (the opening block of the earliest game still being played, else the block
//! after the last scan; the deployment block the first time), so a restarted worker resumes the
//! games it was playing without rereading the chain's whole history, and then from the last
//! block scanned. The job's input comes from [`Inputs`], where the worker kept it
//! when it ran the job; a game over a job it never ran (or a model it no longer loads) is logged
//! and left to run out.

use std::{
    collections::{BTreeMap, HashSet},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

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
    /// The block the contracts were deployed in: the first scanned when the cursor has none.
    pub from_block: u64,
    /// Where the next start scans from.
    pub cursor: GameCursor,
}

/// The first block to scan for games on the next start, kept in `<state dir>/games.cursor`
/// (a decimal block number, written whole through a temporary file).
#[derive(Debug, Clone)]
pub struct GameCursor {
    path: PathBuf,
}

impl GameCursor {
    /// The cursor under `state_dir`.
    pub fn new(state_dir: &Path) -> Self {
        Self { path: state_dir.join("games.cursor") }
    }

    /// The block kept, if any (an unreadable file counts as none).
    pub fn load(&self) -> Option<u64> {
        std::fs::read_to_string(&self.path).ok()?.trim().parse().ok()
    }

    /// Keeps `block`.
    ///
    /// # Errors
    /// The I/O error, as text.
    pub fn save(&self, block: u64) -> Result<(), String> {
        let tmp = self.path.with_extension("cursor.tmp");
        std::fs::write(&tmp, format!("{block}\n"))
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| format!("{}: {e}", self.path.display()))
    }
}

/// The games being played, by id, with the block each opened in.
type Playing = Arc<Mutex<BTreeMap<U256, u64>>>;

/// Where the next start must scan from: the earliest game still being played, else `next`.
fn resume_from(playing: &Playing, next: u64) -> u64 {
    let playing = playing.lock().expect("not poisoned");
    playing.values().copied().min().map_or(next, |earliest| earliest.min(next))
}

impl Games {
    /// Watches for games and plays each until `shutdown` is cancelled.
    pub async fn watch(self, shutdown: CancellationToken) {
        let me = self.player.address();
        info!(%me, "watching for dispute games");
        let mut started: HashSet<U256> = HashSet::new();
        let playing: Playing = Arc::default();
        let mut from = self.cursor.load().map_or(self.from_block, |b| b.max(self.from_block));
        let mut kept = None;
        loop {
            match self.scan(from).await {
                Ok((games, head)) => {
                    for game in games.into_iter().filter(|g| started.insert(g.game_id)) {
                        let span = info_span!("game", game = %game.game_id, job = %game.job_id);
                        playing.lock().expect("not poisoned").insert(game.game_id, game.block);
                        let (games, playing) = (self.clone(), playing.clone());
                        tokio::spawn(
                            async move {
                                let id = game.game_id;
                                games.play(game).await;
                                playing.lock().expect("not poisoned").remove(&id);
                            }
                            .instrument(span),
                        );
                    }
                    from = head + 1;
                }
                Err(e) => warn!(error = %e, "scanning for dispute games failed; retrying"),
            }
            let resume = resume_from(&playing, from);
            if kept != Some(resume) {
                match self.cursor.save(resume) {
                    Ok(()) => kept = Some(resume),
                    Err(e) => warn!(error = %e, "cannot keep the games cursor"),
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_resumes_at_the_earliest_game_being_played() {
        let dir = tempfile::tempdir().expect("a directory");
        let cursor = GameCursor::new(dir.path());
        assert_eq!(cursor.load(), None);
        cursor.save(1_234).expect("saved");
        assert_eq!(cursor.load(), Some(1_234));
        std::fs::write(dir.path().join("games.cursor"), "not a block").expect("written");
        assert_eq!(cursor.load(), None, "an unreadable cursor counts as none");

        let playing: Playing = Arc::default();
        assert_eq!(resume_from(&playing, 90), 90);
        playing.lock().unwrap().extend([(U256::from(1u8), 70), (U256::from(2u8), 40)]);
        assert_eq!(resume_from(&playing, 90), 40);
        playing.lock().unwrap().remove(&U256::from(2u8));
        assert_eq!(resume_from(&playing, 90), 70);
    }
}
