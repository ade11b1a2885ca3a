-- Hygie's side tables in the omop schema: they are not part of the CDM and are named hygie_*.
-- Run after the CDM tables exist (hygie.omop.create_cdm_tables runs this file).

-- Where each OMOP row comes from: one row per OMOP row, for `hygie omop trace TABLE ID`.
-- person_id lets an incremental build delete the lineage of the persons it rebuilds.
CREATE TABLE IF NOT EXISTS omop.hygie_lineage (
    table_name VARCHAR NOT NULL,
    row_id BIGINT NOT NULL,
    person_id BIGINT,
    resource_type VARCHAR NOT NULL,
    resource_id VARCHAR NOT NULL,
    version_id INTEGER
);

-- The FHIR resources (identity and version) the last build read, with the person they belong
-- to: the next incremental build compares the source with this snapshot.
CREATE TABLE IF NOT EXISTS omop.hygie_build_state (
    resource_type VARCHAR NOT NULL,
    resource_id VARCHAR NOT NULL,
    version_id INTEGER,
    last_updated TIMESTAMP,
    person_ref VARCHAR
);

-- One row per build: when, from which relation, full or incremental, how many persons rebuilt.
CREATE TABLE IF NOT EXISTS omop.hygie_build_log (
    build_id INTEGER NOT NULL,
    started_at TIMESTAMP NOT NULL,
    source_relation VARCHAR NOT NULL,
    full_build BOOLEAN NOT NULL,
    persons_rebuilt BIGINT NOT NULL,
    source_fingerprint VARCHAR
);

-- FHIR code system URI -> OMOP vocabulary_id (data file vocabulary_systems.csv).
CREATE TABLE IF NOT EXISTS omop.hygie_vocabulary_system (
    fhir_system VARCHAR NOT NULL,
    vocabulary_id VARCHAR NOT NULL,
    priority INTEGER NOT NULL,
    source VARCHAR
);

-- Small FHIR value sets mapped to OMOP concepts by the HL7 FHIR-to-OMOP IG ConceptMaps
-- (gender, race, ethnicity, encounter class, comparators: data file concept_maps.csv).
CREATE TABLE IF NOT EXISTS omop.hygie_concept_map (
    map_name VARCHAR NOT NULL,
    fhir_system VARCHAR NOT NULL,
    source_code VARCHAR NOT NULL,
    target_concept_id INTEGER NOT NULL,
    target_concept_name VARCHAR,
    source VARCHAR
);

-- The source code behind each event row (one row per row of the event tables), kept for the
-- mapping coverage report: which codes of which system reached a standard concept.
CREATE TABLE IF NOT EXISTS omop.hygie_source_code (
    table_name VARCHAR NOT NULL,
    row_id BIGINT NOT NULL,
    person_id BIGINT NOT NULL,
    source_system VARCHAR,
    source_vocabulary_id VARCHAR,
    source_value VARCHAR,
    concept_id INTEGER NOT NULL
);
