-- DEVICE_EXPOSURE: facts in the Device domain (DeviceUseStatement, or any resource coded with
-- a device).
CREATE OR REPLACE TEMP TABLE stg_rows AS
SELECT
    omop_id(row_key) AS device_exposure_id,
    person_id,
    concept_id AS device_concept_id,
    CAST(start_datetime AS DATE) AS device_exposure_start_date,
    start_datetime AS device_exposure_start_datetime,
    CAST(end_datetime AS DATE) AS device_exposure_end_date,
    end_datetime AS device_exposure_end_datetime,
    32817 AS device_type_concept_id, -- EHR
    left(unique_device_id, 255) AS unique_device_id,
    CAST(quantity AS INTEGER) AS quantity,
    provider_id,
    visit_occurrence_id,
    visit_detail_id,
    source_value AS device_source_value,
    source_concept_id AS device_source_concept_id,
    resource_type AS lineage_resource_type,
    resource_id AS lineage_resource_id,
    version_id AS lineage_version_id
FROM stg_event_mapped
WHERE target_table = 'device_exposure';

INSERT INTO omop.device_exposure BY NAME
SELECT * EXCLUDE (lineage_resource_type, lineage_resource_id, lineage_version_id) FROM stg_rows;

INSERT INTO omop.hygie_lineage
SELECT 'device_exposure', device_exposure_id, person_id, lineage_resource_type,
    lineage_resource_id, lineage_version_id
FROM stg_rows;
