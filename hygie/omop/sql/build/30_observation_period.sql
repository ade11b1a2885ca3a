-- OBSERVATION_PERIOD: one period per person, from the earliest to the latest event date of the
-- person in the event tables (CDM 5.4 observation_period_start_date convention when the source
-- has no enrolment periods). Runs after the event tables.
CREATE OR REPLACE TEMP TABLE stg_rows AS
WITH event_date AS (
    SELECT person_id, visit_start_date AS start_date, visit_end_date AS end_date
    FROM omop.visit_occurrence
    UNION ALL
    SELECT person_id, condition_start_date, coalesce(condition_end_date, condition_start_date)
    FROM omop.condition_occurrence
    UNION ALL
    SELECT person_id, drug_exposure_start_date, drug_exposure_end_date FROM omop.drug_exposure
    UNION ALL
    SELECT person_id, procedure_date, coalesce(procedure_end_date, procedure_date)
    FROM omop.procedure_occurrence
    UNION ALL
    SELECT person_id, device_exposure_start_date,
        coalesce(device_exposure_end_date, device_exposure_start_date)
    FROM omop.device_exposure
    UNION ALL
    SELECT person_id, measurement_date, measurement_date FROM omop.measurement
    UNION ALL
    SELECT person_id, observation_date, observation_date FROM omop.observation
    UNION ALL
    SELECT person_id, specimen_date, specimen_date FROM omop.specimen
    UNION ALL
    SELECT person_id, note_date, note_date FROM omop.note
)
SELECT
    omop_id('Patient/' || p.resource_id || '/observation_period') AS observation_period_id,
    p.person_id,
    min(e.start_date) AS observation_period_start_date,
    greatest(max(e.end_date), max(e.start_date)) AS observation_period_end_date,
    32817 AS period_type_concept_id, -- EHR
    p.resource_type AS lineage_resource_type,
    p.resource_id AS lineage_resource_id,
    p.version_id AS lineage_version_id
FROM stg_patient AS p
JOIN event_date AS e ON e.person_id = p.person_id
GROUP BY p.person_id, p.resource_type, p.resource_id, p.version_id;

INSERT INTO omop.observation_period BY NAME
SELECT * EXCLUDE (lineage_resource_type, lineage_resource_id, lineage_version_id) FROM stg_rows;

INSERT INTO omop.hygie_lineage
SELECT 'observation_period', observation_period_id, person_id, lineage_resource_type,
    lineage_resource_id, lineage_version_id
FROM stg_rows;
