-- Full build, step 1: stage the source once. omop_input is the relation given to the build
-- (the care zone's `resource` view joins catalogs with Parquet files: it is read once, here).
-- Only the resource types the build reads are kept, and each one's person and status are read from
-- its JSON in one pass (one parse per resource).

-- The resource types the build reads. Shared ones (not in a patient compartment, or read by
-- person rows) are staged whole on every build.
CREATE OR REPLACE TEMP TABLE omop_input_type AS
SELECT * FROM (
    VALUES
        ('Patient', false), ('Encounter', false), ('Condition', false), ('Observation', false),
        ('Procedure', false), ('MedicationRequest', false), ('MedicationStatement', false),
        ('MedicationAdministration', false), ('MedicationDispense', false),
        ('Immunization', false), ('AllergyIntolerance', false), ('DeviceUseStatement', false),
        ('DocumentReference', false), ('Composition', false), ('Specimen', false),
        ('Medication', true), ('Device', true), ('Location', true), ('Organization', true),
        ('Practitioner', true)
) AS t(resource_type, shared);

CREATE OR REPLACE TEMP TABLE omop_source AS
WITH input AS (
    SELECT
        resource_type,
        id,
        version_id,
        CAST(last_updated AS TIMESTAMP) AS last_updated,
        CAST(resource AS JSON) AS resource,
        json_extract_string(resource, ['$.subject.reference', '$.patient.reference', '$.status'])
            AS f
    FROM omop_input
    WHERE resource_type IN (SELECT resource_type FROM omop_input_type)
)
SELECT
    resource_type,
    id,
    version_id,
    last_updated,
    resource,
    CASE WHEN resource_type = 'Patient' THEN 'Patient/' || id ELSE coalesce(f[1], f[2]) END
        AS person_ref,
    f[3] AS status
FROM input;

-- The identity, version and person of every staged resource: saved as the snapshot the next
-- incremental build compares the source with.
CREATE OR REPLACE TEMP TABLE stg_source_state AS
SELECT resource_type, id AS resource_id, version_id, last_updated, person_ref
FROM omop_source;

-- Every Patient of the source is in scope.
CREATE OR REPLACE TEMP TABLE omop_scope AS
SELECT DISTINCT person_ref, omop_id(person_ref) AS person_id
FROM omop_source
WHERE resource_type = 'Patient';
