-- DRUG_EXPOSURE: facts in the Drug domain (MedicationRequest/Statement/Administration/Dispense,
-- Immunization, and any other resource coded with a drug).
-- drug_exposure_end_date, required by CDM 5.4, when the source gives no end:
--   start + days_supply - 1 (OHDSI CommonDataModel issue #71 convention), else the start date.
CREATE OR REPLACE TEMP TABLE stg_rows AS
SELECT
    omop_id(row_key) AS drug_exposure_id,
    person_id,
    concept_id AS drug_concept_id,
    CAST(start_datetime AS DATE) AS drug_exposure_start_date,
    start_datetime AS drug_exposure_start_datetime,
    coalesce(
        CAST(end_datetime AS DATE),
        CAST(start_datetime AS DATE) + (days_supply - 1),
        CAST(start_datetime AS DATE)
    ) AS drug_exposure_end_date,
    end_datetime AS drug_exposure_end_datetime,
    CAST(end_datetime AS DATE) AS verbatim_end_date,
    32817 AS drug_type_concept_id, -- EHR
    refills,
    quantity,
    days_supply,
    sig,
    left(lot_number, 50) AS lot_number,
    provider_id,
    visit_occurrence_id,
    visit_detail_id,
    source_value AS drug_source_value,
    source_concept_id AS drug_source_concept_id,
    left(route_source_value, 50) AS route_source_value,
    resource_type AS lineage_resource_type,
    resource_id AS lineage_resource_id,
    version_id AS lineage_version_id
FROM stg_event_mapped
WHERE target_table = 'drug_exposure';

INSERT INTO omop.drug_exposure BY NAME
SELECT * EXCLUDE (lineage_resource_type, lineage_resource_id, lineage_version_id) FROM stg_rows;

INSERT INTO omop.hygie_lineage
SELECT 'drug_exposure', drug_exposure_id, person_id, lineage_resource_type, lineage_resource_id,
    lineage_version_id
FROM stg_rows;
