//! The arbitrator's progress in SQLite: the next block to scan, every job it looked at (what it
//! found, and the record it replayed), and every game it plays. Each scan commits its findings and
//! the new cursor in one transaction, so a process killed at any point restarts from a state
//! it wrote whole.

use std::{path::Path, str::FromStr};

use alloy_primitives::{B256, U256};
use sqlx::{
    Row, SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode},
};

use crate::{Error, Result};

/// What the arbitrator knows of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Seen on chain, not checked yet.
    New,
    /// Its record is not available yet (asked again on later scans).
    Waiting,
    /// The replay agrees with the assertion.
    Agreed,
    /// The replay disagrees: a bonded claim is due (or sent, see [`Job::claimed`]).
    Wrong,
    /// Nothing to do: settled before the arbitrator could act, or it cannot replay the job
    /// (another model, a record that is not the job's).
    Skipped,
}

impl JobState {
    fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Waiting => "waiting",
            Self::Agreed => "agreed",
            Self::Wrong => "wrong",
            Self::Skipped => "skipped",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "new" => Self::New,
            "waiting" => Self::Waiting,
            "agreed" => Self::Agreed,
            "wrong" => Self::Wrong,
            "skipped" => Self::Skipped,
            other => return Err(Error::Store(format!("unknown job state {other:?}"))),
        })
    }
}

/// A job as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The `JobMarket` job id.
    pub job_id: U256,
    /// Its job key (an on-chain job's id as bytes32, or the batch record's key).
    pub job_key: B256,
    /// What the arbitrator found.
    pub state: JobState,
    /// The replay's `(output hash, trace root)`, once replayed.
    pub replayed: Option<(B256, B256)>,
    /// The record replayed (JSON), kept to play the job's game after a restart.
    pub record: Option<String>,
    /// Whether the bonded claim was sent.
    pub claimed: bool,
    /// Why it was skipped or is waiting.
    pub note: Option<String>,
}

/// A game the arbitrator plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Game {
    /// The game id.
    pub game_id: U256,
    /// Its job.
    pub job_id: U256,
    /// The block it opened in.
    pub block: u64,
    /// How it ended (`GameOutcome` code), `None` while it runs.
    pub outcome: Option<u8>,
}

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

fn db(e: sqlx::Error) -> Error {
    Error::Store(e.to_string())
}

fn word(text: &str) -> Result<B256> {
    B256::from_str(text).map_err(|e| Error::Store(format!("{text}: {e}")))
}

fn number(text: &str) -> Result<U256> {
    U256::from_str(text).map_err(|e| Error::Store(format!("{text}: {e}")))
}

impl Store {
    /// Opens (creating it if needed) the database file `path`.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePool::connect_with(options).await.map_err(db)?;
        for statement in [
            "CREATE TABLE IF NOT EXISTS cursor (id INTEGER PRIMARY KEY CHECK (id = 0), next_block INTEGER NOT NULL)",
            "CREATE TABLE IF NOT EXISTS jobs (job_id TEXT PRIMARY KEY, job_key TEXT NOT NULL, state TEXT NOT NULL, output_hash TEXT, trace_root TEXT, record TEXT, claimed INTEGER NOT NULL DEFAULT 0, note TEXT)",
            "CREATE TABLE IF NOT EXISTS games (game_id TEXT PRIMARY KEY, job_id TEXT NOT NULL, block INTEGER NOT NULL, outcome INTEGER)",
        ] {
            sqlx::query(statement).execute(&pool).await.map_err(db)?;
        }
        Ok(Self { pool })
    }

    /// The next block to scan, `None` before the first scan.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub async fn next_block(&self) -> Result<Option<u64>> {
        let row = sqlx::query("SELECT next_block FROM cursor WHERE id = 0")
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        Ok(row.map(|r| r.get::<i64, _>(0).unsigned_abs()))
    }

    /// Records one scan whole: the jobs and games it found (known ones are kept as they are)
    /// and the next block to scan.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub async fn record_scan(
        &self,
        jobs: &[(U256, B256)],
        games: &[(U256, U256, u64)],
        next_block: u64,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        for (job_id, job_key) in jobs {
            sqlx::query("INSERT OR IGNORE INTO jobs (job_id, job_key, state) VALUES (?, ?, 'new')")
                .bind(job_id.to_string())
                .bind(job_key.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        for (game_id, job_id, block) in games {
            sqlx::query("INSERT OR IGNORE INTO games (game_id, job_id, block) VALUES (?, ?, ?)")
                .bind(game_id.to_string())
                .bind(job_id.to_string())
                .bind(i64::try_from(*block).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        sqlx::query("INSERT INTO cursor (id, next_block) VALUES (0, ?) ON CONFLICT (id) DO UPDATE SET next_block = excluded.next_block")
            .bind(i64::try_from(next_block).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    /// The jobs in `states`, oldest first.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub async fn jobs(&self, states: &[JobState]) -> Result<Vec<Job>> {
        let rows = sqlx::query(
            "SELECT job_id, job_key, state, output_hash, trace_root, record, claimed, note FROM jobs ORDER BY rowid",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let mut out = Vec::new();
        for row in rows {
            let state = JobState::parse(row.get(2))?;
            if !states.contains(&state) {
                continue;
            }
            let replayed = match (row.get::<Option<String>, _>(3), row.get::<Option<String>, _>(4))
            {
                (Some(o), Some(t)) => Some((word(&o)?, word(&t)?)),
                _ => None,
            };
            out.push(Job {
                job_id: number(row.get(0))?,
                job_key: word(row.get(1))?,
                state,
                replayed,
                record: row.get(5),
                claimed: row.get::<i64, _>(6) != 0,
                note: row.get(7),
            });
        }
        Ok(out)
    }

    /// The job `job_id`, if known.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub async fn job(&self, job_id: U256) -> Result<Option<Job>> {
        let all = self
            .jobs(&[
                JobState::New,
                JobState::Waiting,
                JobState::Agreed,
                JobState::Wrong,
                JobState::Skipped,
            ])
            .await?;
        Ok(all.into_iter().find(|j| j.job_id == job_id))
    }

    /// Stores what the arbitrator found for a job.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub async fn set_job(&self, job: &Job) -> Result<()> {
        sqlx::query(
            "UPDATE jobs SET state = ?, output_hash = ?, trace_root = ?, record = ?, claimed = ?, note = ? WHERE job_id = ?",
        )
        .bind(job.state.as_str())
        .bind(job.replayed.map(|r| r.0.to_string()))
        .bind(job.replayed.map(|r| r.1.to_string()))
        .bind(job.record.as_deref())
        .bind(i64::from(job.claimed))
        .bind(job.note.as_deref())
        .bind(job.job_id.to_string())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    /// The games not known to have ended.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub async fn open_games(&self) -> Result<Vec<Game>> {
        let rows = sqlx::query(
            "SELECT game_id, job_id, block, outcome FROM games WHERE outcome IS NULL ORDER BY rowid",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|row| {
                Ok(Game {
                    game_id: number(row.get(0))?,
                    job_id: number(row.get(1))?,
                    block: row.get::<i64, _>(2).unsigned_abs(),
                    outcome: row.get::<Option<i64>, _>(3).and_then(|o| u8::try_from(o).ok()),
                })
            })
            .collect()
    }

    /// Records how a game ended.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub async fn game_ended(&self, game_id: U256, outcome: u8) -> Result<()> {
        sqlx::query("UPDATE games SET outcome = ? WHERE game_id = ?")
            .bind(i64::from(outcome))
            .bind(game_id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_scan_and_what_was_found_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("arbitrator.sqlite");
        let store = Store::open(&path).await.expect("opens");
        assert_eq!(store.next_block().await.unwrap(), None);
        let (job, key) = (U256::from(7u8), B256::repeat_byte(7));
        store.record_scan(&[(job, key)], &[(U256::from(3u8), job, 40)], 41).await.unwrap();
        // A second scan that sees the same job and game keeps them as they are.
        let mut found = store.job(job).await.unwrap().expect("the job");
        assert_eq!((found.state, found.claimed), (JobState::New, false));
        found.state = JobState::Wrong;
        found.replayed = Some((B256::repeat_byte(1), B256::repeat_byte(2)));
        found.record = Some("{}".into());
        found.claimed = true;
        store.set_job(&found).await.unwrap();
        store.record_scan(&[(job, key)], &[(U256::from(3u8), job, 40)], 50).await.unwrap();
        drop(store);

        let store = Store::open(&path).await.expect("reopens");
        assert_eq!(store.next_block().await.unwrap(), Some(50));
        assert_eq!(store.job(job).await.unwrap(), Some(found));
        assert_eq!(store.jobs(&[JobState::New]).await.unwrap(), vec![]);
        let games = store.open_games().await.unwrap();
        assert_eq!(
            games,
            vec![Game { game_id: U256::from(3u8), job_id: job, block: 40, outcome: None }]
        );
        store.game_ended(U256::from(3u8), 2).await.unwrap();
        assert!(store.open_games().await.unwrap().is_empty());
    }
}
