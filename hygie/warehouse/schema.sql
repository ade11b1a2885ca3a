-- The warehouse schema: raw zone, care zone, runs and quarantine.
-- Written in the DuckDB dialect; every statement is checked to transpile to Spark SQL.
-- Uniqueness and idempotence are enforced here, by keys, not only by Python.

-- name: create_meta
CREATE TABLE IF NOT EXISTS hygie_meta (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

-- name: create_runs
-- One row per `hygie ingest` (or other command that writes). Counters are updated as batches
-- commit, so an interrupted run still shows how far it went.
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    command VARCHAR NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    status VARCHAR NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'interrupted')),
    inputs JSON,
    items_read BIGINT NOT NULL DEFAULT 0,
    resources_read BIGINT NOT NULL DEFAULT 0,
    created BIGINT NOT NULL DEFAULT 0,
    updated BIGINT NOT NULL DEFAULT 0,
    deleted BIGINT NOT NULL DEFAULT 0,
    unchanged BIGINT NOT NULL DEFAULT 0,
    quarantined BIGINT NOT NULL DEFAULT 0,
    bytes_read BIGINT NOT NULL DEFAULT 0,
    seconds DOUBLE,
    report JSON
);

-- name: create_raw_input
-- The raw zone catalog: every input item exactly as received. Append-only. The content hash is
-- the key, so re-ingesting the same bytes adds nothing. The bytes themselves are in immutable
-- Parquet files under raw/ (columns sha256, content), named by `file` relative to the warehouse.
-- Hashes are stored as their 32 bytes (half the size of hex text, in the key and in the log of
-- every commit); the `raw` view shows them in hex.
CREATE TABLE IF NOT EXISTS raw_input (
    sha256 BLOB PRIMARY KEY,
    source VARCHAR NOT NULL,
    line_no BIGINT,
    byte_offset BIGINT,
    format VARCHAR NOT NULL,
    size_bytes BIGINT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    run_id VARCHAR NOT NULL,
    file VARCHAR NOT NULL
);

-- name: create_resource_head
-- The current version of each resource, used to tell new, changed and unchanged resources apart.
CREATE TABLE IF NOT EXISTS resource_head (
    resource_type VARCHAR NOT NULL,
    id VARCHAR NOT NULL,
    version_id INTEGER NOT NULL CHECK (version_id >= 1),
    content_sha256 BLOB NOT NULL,
    deleted BOOLEAN NOT NULL,
    PRIMARY KEY (resource_type, id)
);

-- name: create_resource_version
-- The care zone: every version of every FHIR resource (deletes are versions with deleted = true).
-- The JSON of each version is in the immutable Parquet file `file` (under care/, columns
-- resource_type, id, version_id, resource); the `resource` view joins them.
-- Uniqueness of (resource_type, id, version_id) follows from resource_head's key: versions are
-- only ever written from the rows that key lets through, in the same transaction.
CREATE TABLE IF NOT EXISTS resource_version (
    resource_type VARCHAR NOT NULL,
    id VARCHAR NOT NULL,
    version_id INTEGER NOT NULL CHECK (version_id >= 1),
    last_updated TIMESTAMPTZ NOT NULL,
    deleted BOOLEAN NOT NULL,
    content_sha256 BLOB NOT NULL,
    raw_sha256 BLOB NOT NULL,
    run_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    file VARCHAR
);

-- name: create_quarantine
-- What could not enter the care zone, with why and where. The raw bytes stay in raw_input.
CREATE TABLE IF NOT EXISTS quarantine (
    quarantine_key VARCHAR PRIMARY KEY,
    run_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    line_no BIGINT,
    byte_offset BIGINT,
    entry_index INTEGER,
    resource_type VARCHAR,
    resource_id VARCHAR,
    reason VARCHAR NOT NULL,
    message VARCHAR NOT NULL,
    raw_sha256 BLOB,
    quarantined_at TIMESTAMPTZ NOT NULL
);

-- name: create_dangling_reference
-- References of stored resources to `Type/id` targets absent from the warehouse when the run
-- ended. They are kept as received (the target may arrive later) but never silently.
CREATE TABLE IF NOT EXISTS dangling_reference (
    run_id VARCHAR NOT NULL,
    resource_type VARCHAR NOT NULL,
    id VARCHAR NOT NULL,
    target_type VARCHAR NOT NULL,
    target_id VARCHAR NOT NULL,
    PRIMARY KEY (resource_type, id, target_type, target_id)
);
