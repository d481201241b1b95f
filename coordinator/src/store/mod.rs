//! Durable storage with sqlx: SQLite by default, PostgreSQL by URL (the `Any` driver, portable SQL
//! and `$n` placeholders). Migrations are the files in `coordinator/migrations/`, embedded.
//!
//! New jobs are inserted by the caller and awaited (a job is durable before it is dispatched or
//! acknowledged). Later changes go through a [`Writer`]: one task applies them in order, many per
//! transaction, and acknowledges each once committed.

use std::borrow::Cow;

use alloy_primitives::{Address, B256};
use assay_protocol::job::Output;
use assay_protocol::wire::SignedReceipt;
use sqlx::{
    AnyPool, Row,
    any::{AnyPoolOptions, AnyRow},
    error::BoxDynError,
    migrate::{Migration, MigrationSource, MigrationType, Migrator},
};
use tokio::sync::{mpsc, oneshot};

mod batches;

pub use batches::{BatchRow, BatchState};

use crate::{
    error::{Error, Result},
    job::{JobRow, Kind, Settlement, Status, ValidationState, now_ms},
};

/// The embedded migrations.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "jobs", include_str!("../../migrations/0001_jobs.sql")),
    (2, "settlement", include_str!("../../migrations/0002_settlement.sql")),
];

/// The migrations in `coordinator/migrations/`, compiled into the binary.
#[derive(Debug)]
struct Embedded;

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> futures::future::BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// A validator's part in a challenged job, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationRow {
    /// The validator.
    pub validator: Address,
    /// Where it is.
    pub state: ValidationState,
    /// Its commitment.
    pub commitment: Option<B256>,
    /// Its revealed output hash.
    pub output_hash: Option<B256>,
    /// Its salt.
    pub salt: Option<B256>,
    /// Its signed receipt.
    pub receipt: Option<SignedReceipt>,
}

/// A flag raised against a worker.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Flag {
    /// The worker.
    pub worker: Address,
    /// The job (or canary) that raised it.
    pub job_id: String,
    /// Why.
    pub reason: String,
    /// When, ms since the Unix epoch.
    pub created_ms: i64,
}

/// A change to stored state, applied in order by the [`Writer`].
#[derive(Debug, Clone)]
pub enum Write {
    /// A new job.
    Insert(Box<JobRow>),
    /// Status (and the asserter holding the job, and attempts).
    Status {
        /// Job.
        id: String,
        /// New status.
        status: Status,
        /// Asserter (kept when `None`).
        asserter: Option<Address>,
        /// Attempts so far.
        attempts: u32,
    },
    /// The asserter's result.
    Asserted {
        /// Job.
        id: String,
        /// Output.
        output: Output,
        /// Receipt.
        receipt: SignedReceipt,
    },
    /// Final outcome of a challenge.
    Outcome {
        /// Job.
        id: String,
        /// Matched, disputed or asserted.
        status: Status,
        /// Parties outside the majority.
        suspects: Vec<Address>,
    },
    /// The job failed.
    Failed {
        /// Job.
        id: String,
        /// Why.
        error: String,
    },
    /// A validator's row (upserted).
    Validation {
        /// Job.
        job_id: String,
        /// Row.
        row: ValidationRow,
    },
    /// Drop a job's validations (a re-drawn challenge after a restart).
    ClearValidations {
        /// Job.
        job_id: String,
    },
    /// A flag against a worker.
    Flag(Flag),
}

/// The database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
}

pub(crate) fn hex<T: AsRef<[u8]>>(v: T) -> String {
    format!("0x{}", alloy_primitives::hex::encode(v))
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("serialisable")
}

pub(crate) fn parse<T: std::str::FromStr>(what: &str, s: &str) -> Result<T> {
    s.parse().map_err(|_| Error::Corrupt(format!("{what}: {s}")))
}

fn parse_json<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| Error::Corrupt(format!("{what}: {e}")))
}

pub(crate) fn opt<T>(s: Option<String>, f: impl FnOnce(&str) -> Result<T>) -> Result<Option<T>> {
    s.as_deref().map(f).transpose()
}

impl Store {
    /// Opens (creating a SQLite file when the URL says `mode=rwc`) and migrates the database.
    ///
    /// # Errors
    /// [`Error::Database`] or [`Error::Migrate`].
    pub async fn open(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 16 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        // WAL lets readers run beside the writer; synchronous=NORMAL keeps every
                        // committed transaction across a process kill (only an OS crash can lose
                        // the last ones) without an fsync per commit.
                        sqlx::query("PRAGMA journal_mode=WAL").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA synchronous=NORMAL").execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        Migrator::new(Embedded).await?.run(&pool).await?;
        Ok(Self { pool })
    }

    /// Inserts a new job; returns once it is committed.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn insert(&self, job: &JobRow) -> Result<()> {
        insert_query(job).execute(&self.pool).await?;
        Ok(())
    }

    /// One job.
    ///
    /// # Errors
    /// [`Error::Database`], [`Error::Corrupt`].
    pub async fn job(&self, id: &str) -> Result<Option<JobRow>> {
        let row = sqlx::query("SELECT * FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| decode_job(&r)).transpose()
    }

    /// Jobs the coordinator still has work on (pending, assigned, challenged), oldest first.
    ///
    /// # Errors
    /// [`Error::Database`], [`Error::Corrupt`].
    pub async fn open_jobs(&self) -> Result<Vec<JobRow>> {
        let rows = sqlx::query(
            "SELECT * FROM jobs WHERE status IN ('pending', 'assigned', 'challenged') \
             ORDER BY created_ms",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode_job).collect()
    }

    /// A job's validators.
    ///
    /// # Errors
    /// [`Error::Database`], [`Error::Corrupt`].
    pub async fn validations(&self, job_id: &str) -> Result<Vec<ValidationRow>> {
        let rows = sqlx::query("SELECT * FROM validations WHERE job_id = $1 ORDER BY validator")
            .bind(job_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ValidationRow {
                    validator: parse("validator", &r.try_get::<String, _>("validator")?)?,
                    state: {
                        let state: String = r.try_get("state")?;
                        ValidationState::parse(&state)
                            .ok_or_else(|| Error::Corrupt(format!("validation state {state}")))?
                    },
                    commitment: opt(r.try_get("commitment")?, |s| parse("commitment", s))?,
                    output_hash: opt(r.try_get("output_hash")?, |s| parse("output_hash", s))?,
                    salt: opt(r.try_get("salt")?, |s| parse("salt", s))?,
                    receipt: opt(r.try_get("receipt")?, |s| parse_json("receipt", s))?,
                })
            })
            .collect()
    }

    /// Flags raised, newest first, optionally for one worker.
    ///
    /// # Errors
    /// [`Error::Database`], [`Error::Corrupt`].
    pub async fn flags(&self, worker: Option<Address>) -> Result<Vec<Flag>> {
        let rows = match worker {
            Some(w) => {
                sqlx::query("SELECT * FROM flags WHERE worker = $1 ORDER BY created_ms DESC")
                    .bind(hex(w))
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query("SELECT * FROM flags ORDER BY created_ms DESC")
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter()
            .map(|r| {
                Ok(Flag {
                    worker: parse("worker", &r.try_get::<String, _>("worker")?)?,
                    job_id: r.try_get("job_id")?,
                    reason: r.try_get("reason")?,
                    created_ms: r.try_get("created_ms")?,
                })
            })
            .collect()
    }

    /// Applies writes in one transaction.
    ///
    /// # Errors
    /// [`Error::Database`]; nothing is applied then.
    pub async fn apply(&self, writes: &[Write]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        for w in writes {
            let q = match w {
                Write::Insert(job) => insert_query(job),
                Write::Status { id, status, asserter, attempts } => sqlx::query(
                    "UPDATE jobs SET status = $2, asserter = COALESCE($3, asserter), \
                     attempts = $4, updated_ms = $5 WHERE id = $1",
                )
                .bind(id)
                .bind(status.as_str())
                .bind(asserter.map(hex))
                .bind(i64::from(*attempts))
                .bind(now),
                Write::Asserted { id, output, receipt } => sqlx::query(
                    "UPDATE jobs SET status = 'asserted', asserter = $2, output = $3, \
                     receipt = $4, output_hash = $5, updated_ms = $6 WHERE id = $1",
                )
                .bind(id)
                .bind(hex(receipt.receipt.worker))
                .bind(json(output))
                .bind(json(receipt))
                .bind(hex(receipt.receipt.output_hash))
                .bind(now),
                Write::Outcome { id, status, suspects } => sqlx::query(
                    "UPDATE jobs SET status = $2, suspects = $3, updated_ms = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(status.as_str())
                .bind(json(suspects))
                .bind(now),
                Write::Failed { id, error } => sqlx::query(
                    "UPDATE jobs SET status = 'failed', error = $2, updated_ms = $3 WHERE id = $1",
                )
                .bind(id)
                .bind(error)
                .bind(now),
                Write::Validation { job_id, row } => sqlx::query(
                    "INSERT INTO validations (job_id, validator, state, commitment, output_hash, \
                     salt, receipt, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (job_id, validator) DO UPDATE SET state = excluded.state, \
                     commitment = COALESCE(excluded.commitment, validations.commitment), \
                     output_hash = COALESCE(excluded.output_hash, validations.output_hash), \
                     salt = COALESCE(excluded.salt, validations.salt), \
                     receipt = COALESCE(excluded.receipt, validations.receipt), \
                     updated_ms = excluded.updated_ms",
                )
                .bind(job_id)
                .bind(hex(row.validator))
                .bind(row.state.as_str())
                .bind(row.commitment.map(hex))
                .bind(row.output_hash.map(hex))
                .bind(row.salt.map(hex))
                .bind(row.receipt.as_ref().map(json))
                .bind(now),
                Write::ClearValidations { job_id } => {
                    sqlx::query("DELETE FROM validations WHERE job_id = $1").bind(job_id)
                }
                Write::Flag(f) => sqlx::query(
                    "INSERT INTO flags (worker, job_id, reason, created_ms) VALUES ($1, $2, $3, $4)",
                )
                .bind(hex(f.worker))
                .bind(&f.job_id)
                .bind(&f.reason)
                .bind(f.created_ms),
            };
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Starts the writer task.
    pub fn writer(&self) -> Writer {
        let (tx, mut rx) = mpsc::unbounded_channel::<Queued>();
        let store = self.clone();
        tokio::spawn(async move {
            let mut batch = Vec::new();
            while let Some(first) = rx.recv().await {
                batch.push(first);
                while batch.len() < 512 {
                    match rx.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let writes: Vec<Write> = batch.iter().map(|(w, _)| w.clone()).collect();
                let result = store.apply(&writes).await.map_err(|e| e.to_string());
                if let Err(e) = &result {
                    tracing::error!(error = %e, count = writes.len(), "job store write failed");
                }
                for (_, ack) in batch.drain(..) {
                    if let Some(ack) = ack {
                        ack.send(result.clone()).ok();
                    }
                }
            }
        });
        Writer { tx }
    }
}

fn insert_query(job: &JobRow) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
    sqlx::query(
        "INSERT INTO jobs (id, job_key, kind, model_id, spec, status, attempts, created_ms, \
         updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&job.id)
    .bind(hex(job.job_key))
    .bind(job.kind.as_str())
    .bind(hex(job.model_id))
    .bind(json(&job.spec))
    .bind(job.status.as_str())
    .bind(i64::from(job.attempts))
    .bind(job.created_ms)
    .bind(job.created_ms)
}

pub(crate) fn decode_job(r: &AnyRow) -> Result<JobRow> {
    let status: String = r.try_get("status")?;
    let kind: String = r.try_get("kind")?;
    let suspects: Option<String> = r.try_get("suspects")?;
    Ok(JobRow {
        id: r.try_get("id")?,
        job_key: parse("job_key", &r.try_get::<String, _>("job_key")?)?,
        kind: Kind::parse(&kind).ok_or_else(|| Error::Corrupt(format!("kind {kind}")))?,
        model_id: parse("model_id", &r.try_get::<String, _>("model_id")?)?,
        spec: parse_json("spec", &r.try_get::<String, _>("spec")?)?,
        status: Status::parse(&status).ok_or_else(|| Error::Corrupt(format!("status {status}")))?,
        asserter: opt(r.try_get("asserter")?, |s| parse("asserter", s))?,
        output: opt(r.try_get("output")?, |s| parse_json("output", s))?,
        receipt: opt(r.try_get("receipt")?, |s| parse_json("receipt", s))?,
        error: r.try_get("error")?,
        attempts: u32::try_from(r.try_get::<i64, _>("attempts")?).unwrap_or(0),
        suspects: opt(suspects, |s| parse_json("suspects", s))?.unwrap_or_default(),
        batch_id: r.try_get("batch_id")?,
        fee: opt(r.try_get("fee")?, |s| parse("fee", s))?,
        settlement: opt(r.try_get("settlement")?, |s: &str| {
            Settlement::parse(s).ok_or_else(|| Error::Corrupt(format!("settlement {s}")))
        })?,
        settle_tx: r.try_get("settle_tx")?,
        chain_job_id: r.try_get("chain_job_id")?,
        created_ms: r.try_get("created_ms")?,
    })
}

/// Whether a write was committed (the error's text otherwise).
pub type Ack = std::result::Result<(), String>;

/// Sends ordered writes to the writer task, which commits them in batches (group commit).
#[derive(Debug, Clone)]
pub struct Writer {
    tx: mpsc::UnboundedSender<Queued>,
}

/// A queued write and who waits for it to be committed.
type Queued = (Write, Option<oneshot::Sender<Ack>>);

impl Writer {
    /// A writer whose writes go to the returned receiver instead of a store (unit tests).
    #[cfg(test)]
    pub(crate) fn detached() -> (Self, mpsc::UnboundedReceiver<Queued>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx }, rx)
    }

    /// Queues a write.
    pub fn send(&self, w: Write) {
        self.tx.send((w, None)).ok();
    }

    /// Queues a write; the receiver resolves once it is committed (or failed).
    pub fn send_acked(&self, w: Write) -> oneshot::Receiver<Ack> {
        let (ack, rx) = oneshot::channel();
        self.tx.send((w, Some(ack))).ok();
        rx
    }

    /// Inserts a new job and returns once it is committed.
    ///
    /// # Errors
    /// [`Error::Write`] when the transaction failed or the writer has stopped.
    pub async fn insert(&self, job: &JobRow) -> Result<()> {
        match self.send_acked(Write::Insert(Box::new(job.clone()))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::Write(e)),
            Err(_) => Err(Error::Write("the job store writer has stopped".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use assay_protocol::job::JobSpec;

    use super::*;

    #[tokio::test]
    async fn jobs_survive_reopening_and_writes_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
        let store = Store::open(&url).await.unwrap();
        let job =
            JobRow::new(Kind::Chat, B256::repeat_byte(1), JobSpec::Embed { prompt: "p".into() });
        store.insert(&job).await.unwrap();
        let writer = store.writer();
        let w = Address::repeat_byte(7);
        writer.send(Write::Status {
            id: job.id.clone(),
            status: Status::Assigned,
            asserter: Some(w),
            attempts: 1,
        });
        let row = ValidationRow {
            validator: w,
            state: ValidationState::Committed,
            commitment: Some(B256::repeat_byte(3)),
            output_hash: None,
            salt: None,
            receipt: None,
        };
        writer.send(Write::Validation { job_id: job.id.clone(), row: row.clone() });
        let revealed = ValidationRow {
            state: ValidationState::Revealed,
            commitment: None,
            output_hash: Some(B256::repeat_byte(4)),
            ..row
        };
        writer.send(Write::Validation { job_id: job.id.clone(), row: revealed });
        let other = JobRow::new(Kind::Embedding, B256::ZERO, JobSpec::Embed { prompt: "q".into() });
        writer.insert(&other).await.unwrap();
        writer
            .send_acked(Write::Flag(Flag {
                worker: w,
                job_id: job.id.clone(),
                reason: "x".into(),
                created_ms: 1,
            }))
            .await
            .unwrap()
            .unwrap();
        drop(store);

        let store = Store::open(&url).await.unwrap();
        let back = store.job(&job.id).await.unwrap().unwrap();
        assert_eq!((back.status, back.asserter, back.attempts), (Status::Assigned, Some(w), 1));
        assert_eq!(back.spec, job.spec);
        assert_eq!(store.open_jobs().await.unwrap().len(), 2);
        assert_eq!(store.job(&other.id).await.unwrap().unwrap().kind, Kind::Embedding);
        let v = store.validations(&job.id).await.unwrap();
        assert_eq!(v[0].state, ValidationState::Revealed);
        assert_eq!(v[0].commitment, Some(B256::repeat_byte(3)), "upsert keeps the commitment");
        assert_eq!(v[0].output_hash, Some(B256::repeat_byte(4)));
        assert_eq!(store.flags(Some(w)).await.unwrap().len(), 1);
        assert!(store.flags(Some(Address::ZERO)).await.unwrap().is_empty());
        assert!(store.job("job_missing").await.unwrap().is_none());
    }
}
