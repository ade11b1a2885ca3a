-- OBSERVATION: facts in the Observation domain, and facts whose domain has no event table.
CREATE OR REPLACE TEMP TABLE stg_rows AS
SELECT
    omop_id(row_key) AS observation_id,
    person_id,
    concept_id AS observation_concept_id,
    CAST(start_datetime AS DATE) AS observation_date,
    start_datetime AS observation_datetime,
    32817 AS observation_type_concept_id, -- EHR
    value_number AS value_as_number,
    left(coalesce(value_string, json_extract_string(value_code, '$.text')), 60) AS value_as_string,
    value_as_concept_id,
    CASE WHEN unit_code IS NOT NULL THEN coalesce(unit_concept_id, 0) END AS unit_concept_id,
    provider_id,
    visit_occurrence_id,
    visit_detail_id,
    source_value AS observation_source_value,
    source_concept_id AS observation_source_concept_id,
    left(unit_code, 50) AS unit_source_value,
    left(value_source_value, 50) AS value_source_value,
    resource_type AS lineage_resource_type,
    resource_id AS lineage_resource_id,
    version_id AS lineage_version_id
FROM stg_event_mapped
WHERE target_table = 'observation';

INSERT INTO omop.observation BY NAME
SELECT * EXCLUDE (lineage_resource_type, lineage_resource_id, lineage_version_id) FROM stg_rows;

INSERT INTO omop.hygie_lineage
SELECT 'observation', observation_id, person_id, lineage_resource_type, lineage_resource_id,
    lineage_version_id
FROM stg_rows;
