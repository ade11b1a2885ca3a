-- Tables and queries of the FHIR API kept in the warehouse database.

-- name: create_api_client
-- SMART Backend Services clients: who may ask for tokens, for which zone and scopes.
-- jwks holds the client's public keys (a JWK Set as registered); a revoked client gets no token.
CREATE TABLE IF NOT EXISTS api_client (
    client_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    zone VARCHAR NOT NULL,
    scopes VARCHAR NOT NULL,
    patient_id VARCHAR,
    jwks JSON NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);

-- name: create_api_conditional_create
-- One claim per conditional create (If-None-Exist): the key makes two creates with the same
-- condition exclusive even if they ever ran concurrently.
CREATE TABLE IF NOT EXISTS api_conditional_create (
    resource_type VARCHAR NOT NULL,
    condition VARCHAR NOT NULL,
    id VARCHAR NOT NULL,
    claimed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (resource_type, condition)
);

-- name: create_api_reference
-- Literal Type/id references of the current resources, kept by the API server to narrow
-- searches on reference parameters and patient compartments before reading any JSON.
-- A superset: the exact JSON predicates still decide; a stale row can only cost time.
CREATE TABLE IF NOT EXISTS api_reference (
    resource_type VARCHAR NOT NULL,
    id VARCHAR NOT NULL,
    version_id INTEGER NOT NULL,
    target VARCHAR NOT NULL
);

-- name: create_api_locator
-- Where the current version of each resource is: its version, time and Parquet file. Reads by
-- id look here (a key lookup) and then read one file, instead of joining every file; it also
-- tells which versions api_reference holds.
CREATE TABLE IF NOT EXISTS api_locator (
    resource_type VARCHAR NOT NULL,
    id VARCHAR NOT NULL,
    version_id INTEGER NOT NULL,
    last_updated TIMESTAMPTZ NOT NULL,
    file VARCHAR NOT NULL,
    PRIMARY KEY (resource_type, id)
);
