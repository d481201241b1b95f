//! Settlement batches as stored: a batch row per committed Merkle root, and each job's part in
//! one (the `fee`, `settlement`, `settle_tx` and `chain_job_id` columns of `jobs`).

use alloy_primitives::{B256, U256};
use sqlx::{Row, any::AnyRow};

use super::{Store, decode_job, hex, opt, parse};
use crate::{
    error::{Error, Result},
    job::{JobRow, Settlement, now_ms},
};

/// Where a batch is in its settlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchState {
    /// Stored with its jobs; `commitBatch` may or may not have been sent.
    Committing,
    /// On chain; not sealed yet.
    Committed,
    /// Sealed: the draw is fixed, records are being opened or claimed.
    Sealed,
    /// Every record claimed or opened.
    Settled,
}

impl BatchState {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Committing => "committing",
            Self::Committed => "committed",
            Self::Sealed => "sealed",
            Self::Settled => "settled",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Committing, Self::Committed, Self::Sealed, Self::Settled]
            .into_iter()
            .find(|state| state.as_str() == s)
    }
}

/// A stored batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRow {
    /// Merkle root of its records (the key).
    pub root: B256,
    /// State.
    pub state: BatchState,
    /// Sum of its records' fees, sent with `commitBatch`.
    pub escrow: U256,
    /// The id `JobMarket` gave it.
    pub chain_batch_id: Option<U256>,
    /// `commitBatch` transaction.
    pub commit_tx: Option<B256>,
    /// Block of the commit.
    pub commit_block: Option<u64>,
    /// Timestamp of that block (the batch window starts there).
    pub committed_at: Option<u64>,
    /// `sealBatch` transaction.
    pub seal_tx: Option<B256>,
    /// The sealed draw hash.
    pub draw_hash: Option<B256>,
    /// Sealed too late for the commit block's hash: every record is challenged.
    pub late: bool,
    /// When it was formed, ms since the Unix epoch.
    pub created_ms: i64,
}

impl BatchRow {
    /// A new batch about to be committed.
    pub fn new(root: B256, escrow: U256) -> Self {
        Self {
            root,
            state: BatchState::Committing,
            escrow,
            chain_batch_id: None,
            commit_tx: None,
            commit_block: None,
            committed_at: None,
            seal_tx: None,
            draw_hash: None,
            late: false,
            created_ms: now_ms(),
        }
    }
}

fn to_i64(v: Option<u64>) -> Option<i64> {
    v.map(|v| i64::try_from(v).unwrap_or(i64::MAX))
}

fn decode_batch(r: &AnyRow) -> Result<BatchRow> {
    let state: String = r.try_get("state")?;
    let unsigned = |v: Option<i64>| v.map(|v| u64::try_from(v).unwrap_or(0));
    Ok(BatchRow {
        root: parse("root", &r.try_get::<String, _>("root")?)?,
        state: BatchState::parse(&state)
            .ok_or_else(|| Error::Corrupt(format!("batch state {state}")))?,
        escrow: parse("escrow", &r.try_get::<String, _>("escrow")?)?,
        chain_batch_id: opt(r.try_get("chain_batch_id")?, |s| parse("chain_batch_id", s))?,
        commit_tx: opt(r.try_get("commit_tx")?, |s| parse("commit_tx", s))?,
        commit_block: unsigned(r.try_get("commit_block")?),
        committed_at: unsigned(r.try_get("committed_at")?),
        seal_tx: opt(r.try_get("seal_tx")?, |s| parse("seal_tx", s))?,
        draw_hash: opt(r.try_get("draw_hash")?, |s| parse("draw_hash", s))?,
        late: r.try_get::<i64, _>("late")? != 0,
        created_ms: r.try_get("created_ms")?,
    })
}

impl Store {
    /// Served jobs whose record is not in a batch yet, oldest first: matched, asserted (and not
    /// challenged off-chain within `settle_after_ms`), or disputed off-chain more than
    /// `escalation_wait_ms` ago.
    ///
    /// # Errors
    /// [`Error::Database`], [`Error::Corrupt`].
    pub async fn unbatched_jobs(
        &self,
        limit: usize,
        settle_after_ms: i64,
        escalation_wait_ms: i64,
    ) -> Result<Vec<JobRow>> {
        let now = now_ms();
        let rows = sqlx::query(
            "SELECT * FROM jobs WHERE batch_id IS NULL AND receipt IS NOT NULL \
             AND (status = 'matched' OR (status = 'asserted' AND updated_ms <= $1) \
             OR (status = 'disputed' AND updated_ms <= $2)) \
             ORDER BY created_ms LIMIT $3",
        )
        .bind(now.saturating_sub(settle_after_ms))
        .bind(now.saturating_sub(escalation_wait_ms))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode_job).collect()
    }

    /// Jobs disputed off-chain whose record is not in a batch yet, oldest first.
    ///
    /// # Errors
    /// [`Error::Database`], [`Error::Corrupt`].
    pub async fn unbatched_disputes(&self, limit: usize) -> Result<Vec<JobRow>> {
        let rows = sqlx::query(
            "SELECT * FROM jobs WHERE batch_id IS NULL AND receipt IS NOT NULL \
             AND status = 'disputed' ORDER BY created_ms LIMIT $1",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode_job).collect()
    }

    /// Stores a new batch and marks its jobs as batched with their fees, in one transaction.
    ///
    /// # Errors
    /// [`Error::Database`]; nothing is stored then.
    pub async fn insert_batch(&self, batch: &BatchRow, fees: &[(String, U256)]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO batches (root, state, escrow, late, created_ms, updated_ms) \
             VALUES ($1, $2, $3, 0, $4, $4)",
        )
        .bind(hex(batch.root))
        .bind(batch.state.as_str())
        .bind(batch.escrow.to_string())
        .bind(batch.created_ms)
        .execute(&mut *tx)
        .await?;
        for (id, fee) in fees {
            sqlx::query(
                "UPDATE jobs SET batch_id = $2, fee = $3, settlement = 'batched' WHERE id = $1",
            )
            .bind(id)
            .bind(hex(batch.root))
            .bind(fee.to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Writes a batch's chain data and state.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn update_batch(&self, batch: &BatchRow) -> Result<()> {
        sqlx::query(
            "UPDATE batches SET state = $2, chain_batch_id = $3, commit_tx = $4, \
             commit_block = $5, committed_at = $6, seal_tx = $7, draw_hash = $8, late = $9, \
             updated_ms = $10 WHERE root = $1",
        )
        .bind(hex(batch.root))
        .bind(batch.state.as_str())
        .bind(batch.chain_batch_id.map(|id| id.to_string()))
        .bind(batch.commit_tx.map(hex))
        .bind(to_i64(batch.commit_block))
        .bind(to_i64(batch.committed_at))
        .bind(batch.seal_tx.map(hex))
        .bind(batch.draw_hash.map(hex))
        .bind(i64::from(batch.late))
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Batches in `state`, oldest first.
    ///
    /// # Errors
    /// [`Error::Database`], [`Error::Corrupt`].
    pub async fn batches(&self, state: BatchState) -> Result<Vec<BatchRow>> {
        let rows = sqlx::query("SELECT * FROM batches WHERE state = $1 ORDER BY created_ms")
            .bind(state.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_batch).collect()
    }

    /// One batch by root.
    ///
    /// # Errors
    /// [`Error::Database`], [`Error::Corrupt`].
    pub async fn batch(&self, root: &str) -> Result<Option<BatchRow>> {
        let row = sqlx::query("SELECT * FROM batches WHERE root = $1")
            .bind(root)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| decode_batch(&r)).transpose()
    }

    /// The committed batch `JobMarket` numbered `batch_id`.
    ///
    /// # Errors
    /// [`Error::Database`], [`Error::Corrupt`].
    pub async fn batch_by_chain_id(&self, batch_id: U256) -> Result<Option<BatchRow>> {
        let row = sqlx::query("SELECT * FROM batches WHERE chain_batch_id = $1")
            .bind(batch_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| decode_batch(&r)).transpose()
    }

    /// Jobs the off-chain sampling found disputed whose records are not settled on chain yet
    /// (not batched, batched, opened or in dispute games), oldest first, at most `limit`.
    ///
    /// # Errors
    /// [`Error::Database`], [`Error::Corrupt`].
    pub async fn unsettled_disputes(&self, limit: usize) -> Result<Vec<JobRow>> {
        let rows = sqlx::query(
            "SELECT * FROM jobs WHERE status = 'disputed' AND receipt IS NOT NULL \
             AND (settlement IS NULL OR settlement IN ('batched', 'opened', 'disputed')) \
             ORDER BY created_ms LIMIT $1",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode_job).collect()
    }

    /// The jobs of a batch in record order (by job id, so the tree can always be rebuilt).
    ///
    /// # Errors
    /// [`Error::Database`], [`Error::Corrupt`].
    pub async fn batch_jobs(&self, root: B256) -> Result<Vec<JobRow>> {
        let rows = sqlx::query("SELECT * FROM jobs WHERE batch_id = $1 ORDER BY id")
            .bind(hex(root))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_job).collect()
    }

    /// Opened records whose on-chain challenge is not finalized yet, and disputed ones whose games
    /// have not settled them yet.
    ///
    /// # Errors
    /// [`Error::Database`], [`Error::Corrupt`].
    pub async fn opened_jobs(&self) -> Result<Vec<JobRow>> {
        let rows = sqlx::query(
            "SELECT * FROM jobs WHERE settlement IN ('opened', 'disputed') ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode_job).collect()
    }

    /// Records a job's settlement step (the transaction and on-chain job id are kept when
    /// `None`).
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn set_settlement(
        &self,
        id: &str,
        settlement: Settlement,
        tx: Option<B256>,
        chain_job_id: Option<U256>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE jobs SET settlement = $2, settle_tx = COALESCE($3, settle_tx), \
             chain_job_id = COALESCE($4, chain_job_id) WHERE id = $1",
        )
        .bind(id)
        .bind(settlement.as_str())
        .bind(tx.map(hex))
        .bind(chain_job_id.map(|j| j.to_string()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
