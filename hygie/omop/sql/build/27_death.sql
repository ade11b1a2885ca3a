-- DEATH from Patient.deceasedDateTime (deceasedBoolean alone has no date: not written).
CREATE OR REPLACE TEMP TABLE stg_rows AS
SELECT
    person_id,
    fhir_date(deceased_datetime) AS death_date,
    fhir_datetime(deceased_datetime) AS death_datetime,
    32817 AS death_type_concept_id, -- EHR
    resource_type AS lineage_resource_type,
    resource_id AS lineage_resource_id,
    version_id AS lineage_version_id
FROM stg_patient
WHERE fhir_date(deceased_datetime) IS NOT NULL;

INSERT INTO omop.death BY NAME
SELECT * EXCLUDE (lineage_resource_type, lineage_resource_id, lineage_version_id) FROM stg_rows;

INSERT INTO omop.hygie_lineage
SELECT 'death', person_id, person_id, lineage_resource_type, lineage_resource_id,
    lineage_version_id
FROM stg_rows;
