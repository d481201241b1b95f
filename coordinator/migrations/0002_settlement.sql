-- On-chain settlement: batches of job records committed to JobMarket, and each job's part in one.
CREATE TABLE IF NOT EXISTS batches (
    root TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    escrow TEXT NOT NULL,
    chain_batch_id TEXT,
    commit_tx TEXT,
    commit_block BIGINT,
    committed_at BIGINT,
    seal_tx TEXT,
    draw_hash TEXT,
    late BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS batches_state ON batches (state);
ALTER TABLE jobs ADD COLUMN fee TEXT;
ALTER TABLE jobs ADD COLUMN settlement TEXT;
ALTER TABLE jobs ADD COLUMN settle_tx TEXT;
ALTER TABLE jobs ADD COLUMN chain_job_id TEXT;
CREATE INDEX IF NOT EXISTS jobs_batch ON jobs (batch_id);
