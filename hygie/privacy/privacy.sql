-- Tables of the privacy stage (schema privacy, care side) and of the research zone (schema
-- research), and the boundary between the zones. Run by hygie/privacy/*.py.

-- name: create_privacy_schema
CREATE SCHEMA IF NOT EXISTS privacy;

-- name: create_research_schema
CREATE SCHEMA IF NOT EXISTS research;

-- name: create_objection
-- The objection registry: one row per objection; a withdrawal fills the withdrawn_* columns
-- (rows are never deleted, so the registry keeps who decided what and when).
-- patient_key is 'Patient/<id>' or '<identifier system>|<identifier value>'.
CREATE TABLE IF NOT EXISTS privacy.objection (
    objection_id VARCHAR PRIMARY KEY,
    patient_key VARCHAR NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    recorded_by VARCHAR NOT NULL,
    reason VARCHAR,
    withdrawn_at TIMESTAMP,
    withdrawn_by VARCHAR,
    withdrawal_reason VARCHAR
);

-- name: create_export_override
-- Exports let through below the k-anonymity threshold, with who decided and why.
CREATE TABLE IF NOT EXISTS privacy.export_override (
    recorded_at TIMESTAMP NOT NULL,
    recorded_by VARCHAR NOT NULL,
    relation VARCHAR NOT NULL,
    quasi_identifiers VARCHAR NOT NULL,
    k INTEGER NOT NULL,
    smallest_class BIGINT,
    reason VARCHAR NOT NULL
);

-- name: create_research_build_log
-- One row per research build: what was built, from which policy, with which key (its keyed
-- fingerprint, never the key), and the counts.
CREATE TABLE IF NOT EXISTS research.build_log (
    build_id INTEGER PRIMARY KEY,
    built_at TIMESTAMP NOT NULL,
    project VARCHAR NOT NULL,
    key_fingerprint VARCHAR NOT NULL,
    policy_sha256 VARCHAR NOT NULL,
    resources_read BIGINT NOT NULL,
    resources_written BIGINT NOT NULL,
    patients_written BIGINT NOT NULL,
    objecting_patients BIGINT NOT NULL,
    resources_withheld_by_objection BIGINT NOT NULL,
    seconds DOUBLE NOT NULL
);

-- name: create_objecting_patient
-- Care-zone patients with an objection in force, matched by Patient id or by identifier.
CREATE OR REPLACE TEMP VIEW privacy_objecting_patient AS
SELECT DISTINCT p.id AS patient_id
FROM resource AS p
JOIN privacy.objection AS o ON o.withdrawn_at IS NULL AND o.patient_key = 'Patient/' || p.id
WHERE p.resource_type = 'Patient'
UNION
SELECT DISTINCT p.id AS patient_id
FROM resource AS p,
    unnest(CAST(json_extract(p.resource, '$.identifier') AS JSON[])) AS x(identifier)
JOIN privacy.objection AS o
    ON o.withdrawn_at IS NULL
    AND o.patient_key = json_extract_string(x.identifier, '$.system') || '|'
        || json_extract_string(x.identifier, '$.value')
WHERE p.resource_type = 'Patient';

-- name: create_research_boundary
-- THE boundary of the research zone: the care zone's current resources minus everything of a
-- patient who objects. A resource belongs to an objecting patient when it is that Patient or
-- when any of its references points to that Patient (subject, patient, or deeper).
-- patient_id is the patient whose dates and names apply (the subject or patient, else the
-- first Patient referenced).
CREATE OR REPLACE TEMP VIEW privacy_research_input AS
WITH located AS (
    SELECT
        r.resource_type,
        r.id,
        r.version_id,
        r.last_updated,
        CAST(r.resource AS VARCHAR) AS resource,
        regexp_extract_all(
            CAST(r.resource AS VARCHAR), '"reference"\s*:\s*"Patient/([^"/]+)', 1
        ) AS patient_refs,
        regexp_extract(json_extract_string(r.resource, '$.subject.reference'), '^Patient/([^/]+)', 1)
            AS subject_patient,
        regexp_extract(json_extract_string(r.resource, '$.patient.reference'), '^Patient/([^/]+)', 1)
            AS patient_patient
    FROM resource AS r
)
SELECT
    l.resource_type,
    l.id,
    l.version_id,
    l.last_updated,
    l.resource,
    CASE
        WHEN l.resource_type = 'Patient' THEN l.id
        ELSE coalesce(nullif(l.subject_patient, ''), nullif(l.patient_patient, ''), l.patient_refs[1])
    END AS patient_id
FROM located AS l
WHERE NOT EXISTS (
    SELECT 1
    FROM privacy_objecting_patient AS o
    WHERE (l.resource_type = 'Patient' AND o.patient_id = l.id)
        OR list_contains(l.patient_refs, o.patient_id)
);

-- name: count_objecting
SELECT count(*) FROM privacy_objecting_patient;

-- name: count_care_resources
SELECT count(*) FROM resource;

-- name: research_patient_names
-- Names and contact values of the patients entering the research zone, for the text
-- de-identification (read into memory; never written to the research zone).
SELECT id, CAST(resource AS VARCHAR) AS resource
FROM resource
WHERE resource_type = 'Patient';

-- name: clinician_resources
-- Every person of the care zone who is not a patient (their names are removed from texts).
SELECT CAST(resource AS VARCHAR) AS resource
FROM resource
WHERE resource_type IN ('Practitioner', 'RelatedPerson');

-- name: create_research_resource_next
-- The research zone's resource table being built (swapped in when complete).
CREATE OR REPLACE TABLE research.resource_next (
    resource_type VARCHAR NOT NULL,
    id VARCHAR NOT NULL,
    version_id INTEGER,
    last_updated TIMESTAMP WITH TIME ZONE,
    resource JSON NOT NULL
);

-- name: insert_research_batch
INSERT INTO research.resource_next
SELECT resource_type, id, version_id, CAST(last_updated AS TIMESTAMP WITH TIME ZONE),
    CAST(resource AS JSON)
FROM privacy_research_batch;

-- name: swap_research_resource
DROP TABLE IF EXISTS research.resource;

-- name: rename_research_resource
ALTER TABLE research.resource_next RENAME TO resource;

-- name: research_patients_written
SELECT count(*) FROM research.resource WHERE resource_type = 'Patient';

-- name: create_patient_quasi_identifiers
-- The usual quasi-identifiers of a research patient, for the re-identification risk report:
-- 10-year age band (from the generalized birth year), sex, place (département) and the month of
-- the first encounter (shifted dates).
CREATE OR REPLACE TEMP VIEW privacy_patient_quasi_identifiers AS
WITH first_encounter AS (
    SELECT
        regexp_extract(json_extract_string(resource, '$.subject.reference'), '^Patient/(.+)$', 1)
            AS patient_id,
        min(left(json_extract_string(resource, '$.period.start'), 7)) AS admission_month
    FROM research.resource
    WHERE resource_type = 'Encounter'
    GROUP BY 1
)
SELECT
    p.id AS patient_id,
    CAST(floor((year(current_date) - TRY_CAST(left(json_extract_string(p.resource, '$.birthDate'), 4) AS INTEGER)) / 10) * 10 AS INTEGER)
        AS age_band,
    json_extract_string(p.resource, '$.gender') AS sex,
    json_extract_string(p.resource, '$.address[0].district') AS place,
    e.admission_month
FROM research.resource AS p
LEFT JOIN first_encounter AS e ON e.patient_id = p.id
WHERE p.resource_type = 'Patient';
