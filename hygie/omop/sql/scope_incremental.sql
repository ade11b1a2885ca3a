-- Incremental build: find the persons whose resources were added, changed (version or
-- last_updated) or removed since the last build, by comparing the source with the snapshot
-- omop.hygie_build_state the last build left. Then stage the resources of those persons only.
-- Run after stage_source.sql's first statement (omop_input_type).

-- Identities and versions only: no JSON is read for this.
CREATE OR REPLACE TEMP TABLE stg_source_head AS
SELECT resource_type, id AS resource_id, version_id, CAST(last_updated AS TIMESTAMP) AS last_updated
FROM omop_input
WHERE resource_type IN (SELECT resource_type FROM omop_input_type);

-- The person of an unchanged resource is the one in the snapshot, the JSON of new or changed
-- resources is read to find theirs.
CREATE OR REPLACE TEMP TABLE stg_source_state AS
SELECT h.resource_type, h.resource_id, h.version_id, h.last_updated, b.person_ref
FROM stg_source_head AS h
JOIN omop.hygie_build_state AS b
    ON b.resource_type = h.resource_type AND b.resource_id = h.resource_id
    AND b.version_id IS NOT DISTINCT FROM h.version_id
    AND b.last_updated IS NOT DISTINCT FROM h.last_updated
UNION ALL
SELECT
    i.resource_type,
    i.id AS resource_id,
    i.version_id,
    CAST(i.last_updated AS TIMESTAMP) AS last_updated,
    CASE
        WHEN i.resource_type = 'Patient' THEN 'Patient/' || i.id
        ELSE coalesce(
            json_extract_string(i.resource, '$.subject.reference'),
            json_extract_string(i.resource, '$.patient.reference')
        )
    END AS person_ref
FROM omop_input AS i
JOIN (
    SELECT h.resource_type, h.resource_id
    FROM stg_source_head AS h
    ANTI JOIN omop.hygie_build_state AS b
        ON b.resource_type = h.resource_type AND b.resource_id = h.resource_id
        AND b.version_id IS NOT DISTINCT FROM h.version_id
        AND b.last_updated IS NOT DISTINCT FROM h.last_updated
) AS n ON n.resource_type = i.resource_type AND n.resource_id = i.id;

CREATE OR REPLACE TEMP TABLE omop_changed AS
(
    SELECT resource_type, resource_id, version_id, last_updated, person_ref
    FROM stg_source_state
    EXCEPT
    SELECT resource_type, resource_id, version_id, last_updated, person_ref
    FROM omop.hygie_build_state
)
UNION ALL
(
    SELECT resource_type, resource_id, version_id, last_updated, person_ref
    FROM omop.hygie_build_state
    EXCEPT
    SELECT resource_type, resource_id, version_id, last_updated, person_ref
    FROM stg_source_state
);

CREATE OR REPLACE TEMP TABLE omop_scope AS
SELECT DISTINCT person_ref, omop_id(person_ref) AS person_id
FROM omop_changed
WHERE person_ref LIKE 'Patient/%';

-- The resources of the persons in scope, and the shared resources, with their JSON.
CREATE OR REPLACE TEMP TABLE omop_source AS
SELECT
    i.resource_type,
    i.id,
    i.version_id,
    s.last_updated,
    CAST(i.resource AS JSON) AS resource,
    s.person_ref,
    json_extract_string(i.resource, '$.status') AS status
FROM stg_source_state AS s
JOIN omop_input AS i ON i.resource_type = s.resource_type AND i.id = s.resource_id
WHERE s.person_ref IN (SELECT person_ref FROM omop_scope)
    OR s.resource_type IN (SELECT resource_type FROM omop_input_type WHERE shared);
