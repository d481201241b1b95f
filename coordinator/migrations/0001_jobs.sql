-- Jobs, validator commitments/reveals and worker flags. Portable SQL: SQLite and PostgreSQL.
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    job_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    model_id TEXT NOT NULL,
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    asserter TEXT,
    output TEXT,
    receipt TEXT,
    output_hash TEXT,
    error TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    suspects TEXT,
    batch_id TEXT,
    commit_tx TEXT,
    seal_tx TEXT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);

CREATE TABLE IF NOT EXISTS validations (
    job_id TEXT NOT NULL,
    validator TEXT NOT NULL,
    state TEXT NOT NULL,
    commitment TEXT,
    output_hash TEXT,
    salt TEXT,
    receipt TEXT,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (job_id, validator)
);

CREATE TABLE IF NOT EXISTS flags (
    worker TEXT NOT NULL,
    job_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS flags_worker ON flags (worker);
