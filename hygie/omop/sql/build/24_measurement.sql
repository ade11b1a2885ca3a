-- MEASUREMENT: facts in the Measurement domain (laboratory results, vital signs, ...).
-- value_as_number from valueQuantity/valueInteger, unit_concept_id from the UCUM code,
-- value_as_concept_id from valueCodeableConcept (or 'Maps to value'), operator from comparator.
CREATE OR REPLACE TEMP TABLE stg_rows AS
SELECT
    omop_id(row_key) AS measurement_id,
    person_id,
    concept_id AS measurement_concept_id,
    CAST(start_datetime AS DATE) AS measurement_date,
    start_datetime AS measurement_datetime,
    32817 AS measurement_type_concept_id, -- EHR
    operator_concept_id,
    value_number AS value_as_number,
    value_as_concept_id,
    CASE WHEN unit_code IS NOT NULL THEN coalesce(unit_concept_id, 0) END AS unit_concept_id,
    range_low,
    range_high,
    provider_id,
    visit_occurrence_id,
    visit_detail_id,
    source_value AS measurement_source_value,
    source_concept_id AS measurement_source_concept_id,
    left(unit_code, 50) AS unit_source_value,
    left(value_source_value, 50) AS value_source_value,
    resource_type AS lineage_resource_type,
    resource_id AS lineage_resource_id,
    version_id AS lineage_version_id
FROM stg_event_mapped
WHERE target_table = 'measurement';

INSERT INTO omop.measurement BY NAME
SELECT * EXCLUDE (lineage_resource_type, lineage_resource_id, lineage_version_id) FROM stg_rows;

INSERT INTO omop.hygie_lineage
SELECT 'measurement', measurement_id, person_id, lineage_resource_type, lineage_resource_id,
    lineage_version_id
FROM stg_rows;
