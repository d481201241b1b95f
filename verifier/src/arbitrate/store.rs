//! The arbitrator's progress in SQLite: the next block to scan, every job it looked at (what it
//! found, and the record it replayed), every job it checks before the market hands it over (a
//! [`Record`]: disputed off chain, or sampled from a published batch), the batches committed,
//! and every game it plays. Each scan commits its findings and the new cursor in one
//! transaction, so a process killed at any point restarts from a state it wrote whole.

use std::{path::Path, str::FromStr};

use alloy_primitives::{B256, U256};
use assay_protocol::{published::PublishedRecord, wire::Receipt};
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

/// A job checked before the market hands it over: one the coordinator's sampling found
/// disputed, or a record of a published batch the arbitrator sampled. A wrong one gets a bonded
/// claim (`disputeRecord`) and, once its batch is published and sealed, is opened for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The job key (the key).
    pub job_key: B256,
    /// What its asserter asserted (a signed receipt's fields, or the batch record's).
    pub asserted: Receipt,
    /// What the arbitrator found.
    pub state: JobState,
    /// The replay's `(output hash, trace root)`, once replayed.
    pub replayed: Option<(B256, B256)>,
    /// The job file replayed (JSON).
    pub record: Option<String>,
    /// Whether the bonded claim was sent.
    pub claimed: bool,
    /// Its batch and its record there with the proof, once the batch is published.
    pub published: Option<(U256, PublishedRecord)>,
    /// Nothing more to do: opened on chain, or its batch settled it otherwise.
    pub done: bool,
    /// Why it was skipped or is waiting.
    pub note: Option<String>,
}

impl Record {
    /// A new record to check for what `asserted` names.
    pub fn new(asserted: Receipt) -> Self {
        Self {
            job_key: asserted.job_key,
            asserted,
            state: JobState::New,
            replayed: None,
            record: None,
            claimed: false,
            published: None,
            done: false,
            note: None,
        }
    }
}

/// A committed batch the arbitrator reads from its coordinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    /// Its id in `JobMarket`.
    pub batch_id: U256,
    /// The root committed on chain.
    pub root: B256,
    /// Times its records were asked for and not served.
    pub attempts: u32,
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
            "CREATE TABLE IF NOT EXISTS records (job_key TEXT PRIMARY KEY, asserted TEXT NOT NULL, state TEXT NOT NULL, output_hash TEXT, trace_root TEXT, record TEXT, claimed INTEGER NOT NULL DEFAULT 0, batch_id TEXT, published TEXT, done INTEGER NOT NULL DEFAULT 0, note TEXT)",
            "CREATE TABLE IF NOT EXISTS batches (batch_id TEXT PRIMARY KEY, root TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, read INTEGER NOT NULL DEFAULT 0)",
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
        batches: &[(U256, B256)],
        next_block: u64,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        for (batch_id, root) in batches {
            sqlx::query("INSERT OR IGNORE INTO batches (batch_id, root) VALUES (?, ?)")
                .bind(batch_id.to_string())
                .bind(root.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
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
    /// Adds a record to check; a known one is kept as it is. Returns whether it was new.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub async fn add_record(&self, record: &Record) -> Result<bool> {
        let asserted =
            serde_json::to_string(&record.asserted).map_err(|e| Error::Store(e.to_string()))?;
        let added = sqlx::query(
            "INSERT OR IGNORE INTO records (job_key, asserted, state) VALUES (?, ?, ?)",
        )
        .bind(record.job_key.to_string())
        .bind(asserted)
        .bind(record.state.as_str())
        .execute(&self.pool)
        .await
        .map_err(db)?
        .rows_affected()
            == 1;
        if added {
            self.set_record(record).await?;
        }
        Ok(added)
    }

    /// Stores what the arbitrator found and did for a record.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub async fn set_record(&self, record: &Record) -> Result<()> {
        let published = match &record.published {
            Some((_, r)) => {
                Some(serde_json::to_string(r).map_err(|e| Error::Store(e.to_string()))?)
            }
            None => None,
        };
        sqlx::query(
            "UPDATE records SET state = ?, output_hash = ?, trace_root = ?, record = ?, claimed = ?, batch_id = ?, published = ?, done = ?, note = ? WHERE job_key = ?",
        )
        .bind(record.state.as_str())
        .bind(record.replayed.map(|r| r.0.to_string()))
        .bind(record.replayed.map(|r| r.1.to_string()))
        .bind(record.record.as_deref())
        .bind(i64::from(record.claimed))
        .bind(record.published.as_ref().map(|(id, _)| id.to_string()))
        .bind(published)
        .bind(i64::from(record.done))
        .bind(record.note.as_deref())
        .bind(record.job_key.to_string())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    /// The records with something left to do, oldest first.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub async fn open_records(&self) -> Result<Vec<Record>> {
        self.select_records("SELECT job_key, asserted, state, output_hash, trace_root, record, claimed, batch_id, published, done, note FROM records WHERE done = 0 ORDER BY rowid", None).await
    }

    /// The record of `job_key`, if known.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub async fn record(&self, job_key: B256) -> Result<Option<Record>> {
        let found = self.select_records("SELECT job_key, asserted, state, output_hash, trace_root, record, claimed, batch_id, published, done, note FROM records WHERE job_key = ?", Some(job_key)).await?;
        Ok(found.into_iter().next())
    }

    async fn select_records(&self, sql: &str, key: Option<B256>) -> Result<Vec<Record>> {
        let mut query = sqlx::query(sql);
        if let Some(key) = key {
            query = query.bind(key.to_string());
        }
        let rows = query.fetch_all(&self.pool).await.map_err(db)?;
        let json = |e: serde_json::Error| Error::Store(e.to_string());
        rows.iter()
            .map(|row| {
                let replayed =
                    match (row.get::<Option<String>, _>(3), row.get::<Option<String>, _>(4)) {
                        (Some(o), Some(t)) => Some((word(&o)?, word(&t)?)),
                        _ => None,
                    };
                let published =
                    match (row.get::<Option<String>, _>(7), row.get::<Option<String>, _>(8)) {
                        (Some(id), Some(r)) => {
                            Some((number(&id)?, serde_json::from_str(&r).map_err(json)?))
                        }
                        _ => None,
                    };
                Ok(Record {
                    job_key: word(row.get(0))?,
                    asserted: serde_json::from_str(row.get(1)).map_err(json)?,
                    state: JobState::parse(row.get(2))?,
                    replayed,
                    record: row.get(5),
                    claimed: row.get::<i64, _>(6) != 0,
                    published,
                    done: row.get::<i64, _>(9) != 0,
                    note: row.get(10),
                })
            })
            .collect()
    }

    /// Committed batches whose records were not read yet.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub async fn unread_batches(&self) -> Result<Vec<Batch>> {
        let rows = sqlx::query(
            "SELECT batch_id, root, attempts FROM batches WHERE read = 0 ORDER BY rowid",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|row| {
                Ok(Batch {
                    batch_id: number(row.get(0))?,
                    root: word(row.get(1))?,
                    attempts: u32::try_from(row.get::<i64, _>(2)).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }

    /// Records an attempt to read a batch's records: `read` when done with it (read, or given
    /// up on).
    ///
    /// # Errors
    /// [`Error::Store`].
    pub async fn batch_attempt(&self, batch_id: U256, read: bool) -> Result<()> {
        sqlx::query("UPDATE batches SET attempts = attempts + 1, read = ? WHERE batch_id = ?")
            .bind(i64::from(read))
            .bind(batch_id.to_string())
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
        store.record_scan(&[(job, key)], &[(U256::from(3u8), job, 40)], &[], 41).await.unwrap();
        // A second scan that sees the same job and game keeps them as they are.
        let mut found = store.job(job).await.unwrap().expect("the job");
        assert_eq!((found.state, found.claimed), (JobState::New, false));
        found.state = JobState::Wrong;
        found.replayed = Some((B256::repeat_byte(1), B256::repeat_byte(2)));
        found.record = Some("{}".into());
        found.claimed = true;
        store.set_job(&found).await.unwrap();
        store.record_scan(&[(job, key)], &[(U256::from(3u8), job, 40)], &[], 50).await.unwrap();
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

    #[tokio::test]
    async fn records_and_batches_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("arbitrator.sqlite");
        let store = Store::open(&path).await.expect("opens");
        let key = B256::repeat_byte(9);
        let asserted = Receipt {
            job_key: key,
            model_id: B256::repeat_byte(1),
            input_root: B256::repeat_byte(2),
            output_hash: B256::repeat_byte(3),
            trace_root: B256::repeat_byte(4),
            worker: alloy_primitives::Address::repeat_byte(5),
        };
        let mut record = Record::new(asserted);
        assert!(store.add_record(&record).await.unwrap());
        // Adding it again (a later listing) keeps what was found.
        record.state = JobState::Wrong;
        record.replayed = Some((B256::repeat_byte(6), B256::repeat_byte(7)));
        record.claimed = true;
        record.published = Some((
            U256::from(12u8),
            PublishedRecord {
                id: "job_09".into(),
                sampled: assay_protocol::published::Sampled::Disputed,
                job_key: key,
                model_id: asserted.model_id,
                input_root: asserted.input_root,
                asserter: asserted.worker,
                output_hash: asserted.output_hash,
                trace_root: asserted.trace_root,
                fee: U256::from(1000u16),
                proof: vec![B256::repeat_byte(8)],
            },
        ));
        store.set_record(&record).await.unwrap();
        let fresh =
            Record { state: JobState::New, claimed: false, published: None, ..record.clone() };
        assert!(!store.add_record(&fresh).await.unwrap());
        store
            .record_scan(&[], &[], &[(U256::from(12u8), B256::repeat_byte(0xb0))], 60)
            .await
            .unwrap();
        drop(store);

        let store = Store::open(&path).await.expect("reopens");
        assert_eq!(store.record(key).await.unwrap(), Some(record.clone()));
        assert_eq!(store.open_records().await.unwrap(), vec![record.clone()]);
        let batches = store.unread_batches().await.unwrap();
        assert_eq!(
            batches,
            vec![Batch { batch_id: U256::from(12u8), root: B256::repeat_byte(0xb0), attempts: 0 }]
        );
        store.batch_attempt(U256::from(12u8), false).await.unwrap();
        assert_eq!(store.unread_batches().await.unwrap()[0].attempts, 1);
        store.batch_attempt(U256::from(12u8), true).await.unwrap();
        assert!(store.unread_batches().await.unwrap().is_empty());
        record.done = true;
        store.set_record(&record).await.unwrap();
        assert!(store.open_records().await.unwrap().is_empty());
    }
}
