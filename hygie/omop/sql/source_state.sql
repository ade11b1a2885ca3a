-- The identity, version and person of every source resource: compared with the last build's
-- snapshot (incremental builds) and saved as the new snapshot after the build.
CREATE OR REPLACE TEMP TABLE stg_source_state AS
SELECT
    resource_type,
    id AS resource_id,
    version_id,
    CAST(last_updated AS TIMESTAMP) AS last_updated,
    CASE
        WHEN resource_type = 'Patient' THEN 'Patient/' || id
        ELSE coalesce(json_extract_string(resource, '$.subject.reference'), json_extract_string(resource, '$.patient.reference'))
    END AS person_ref
FROM omop_source;
