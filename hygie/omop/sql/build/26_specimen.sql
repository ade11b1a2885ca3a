-- SPECIMEN from Specimen: type, collection time, quantity and unit.
CREATE OR REPLACE TEMP TABLE stg_rows AS
SELECT
    omop_id(row_key) AS specimen_id,
    person_id,
    concept_id AS specimen_concept_id,
    32817 AS specimen_type_concept_id, -- EHR
    CAST(start_datetime AS DATE) AS specimen_date,
    start_datetime AS specimen_datetime,
    quantity,
    CASE WHEN unit_code IS NOT NULL THEN coalesce(unit_concept_id, 0) END AS unit_concept_id,
    left(resource_id, 50) AS specimen_source_id,
    source_value AS specimen_source_value,
    left(unit_code, 50) AS unit_source_value,
    resource_type AS lineage_resource_type,
    resource_id AS lineage_resource_id,
    version_id AS lineage_version_id
FROM stg_event_mapped
WHERE target_table = 'specimen';

INSERT INTO omop.specimen BY NAME
SELECT * EXCLUDE (lineage_resource_type, lineage_resource_id, lineage_version_id) FROM stg_rows;

INSERT INTO omop.hygie_lineage
SELECT 'specimen', specimen_id, person_id, lineage_resource_type, lineage_resource_id,
    lineage_version_id
FROM stg_rows;
