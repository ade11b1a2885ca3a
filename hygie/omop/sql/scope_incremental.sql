-- Incremental build: the persons whose resources were added, changed (version or
-- last_updated) or removed since the last build, found by comparing the source with the
-- snapshot omop.hygie_build_state the last build left.
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
