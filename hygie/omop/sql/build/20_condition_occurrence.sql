-- CONDITION_OCCURRENCE: every fact whose standard concept is in the Condition domain (mostly
-- Condition resources. A Condition coded in another domain goes to that domain's table).
CREATE OR REPLACE TEMP TABLE stg_rows AS
SELECT
    omop_id(row_key) AS condition_occurrence_id,
    person_id,
    concept_id AS condition_concept_id,
    CAST(start_datetime AS DATE) AS condition_start_date,
    start_datetime AS condition_start_datetime,
    CAST(end_datetime AS DATE) AS condition_end_date,
    end_datetime AS condition_end_datetime,
    32817 AS condition_type_concept_id, -- EHR
    provider_id,
    visit_occurrence_id,
    visit_detail_id,
    source_value AS condition_source_value,
    source_concept_id AS condition_source_concept_id,
    status_source_value AS condition_status_source_value,
    resource_type AS lineage_resource_type,
    resource_id AS lineage_resource_id,
    version_id AS lineage_version_id
FROM stg_event_mapped
WHERE target_table = 'condition_occurrence';

INSERT INTO omop.condition_occurrence BY NAME
SELECT * EXCLUDE (lineage_resource_type, lineage_resource_id, lineage_version_id) FROM stg_rows;

INSERT INTO omop.hygie_lineage
SELECT 'condition_occurrence', condition_occurrence_id, person_id, lineage_resource_type,
    lineage_resource_id, lineage_version_id
FROM stg_rows;
