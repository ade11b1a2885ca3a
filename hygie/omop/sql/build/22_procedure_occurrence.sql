-- PROCEDURE_OCCURRENCE: facts in the Procedure domain.
CREATE OR REPLACE TEMP TABLE stg_rows AS
SELECT
    omop_id(row_key) AS procedure_occurrence_id,
    person_id,
    concept_id AS procedure_concept_id,
    CAST(start_datetime AS DATE) AS procedure_date,
    start_datetime AS procedure_datetime,
    CAST(end_datetime AS DATE) AS procedure_end_date,
    end_datetime AS procedure_end_datetime,
    32817 AS procedure_type_concept_id, -- EHR
    CAST(quantity AS INTEGER) AS quantity,
    provider_id,
    visit_occurrence_id,
    visit_detail_id,
    source_value AS procedure_source_value,
    source_concept_id AS procedure_source_concept_id,
    resource_type AS lineage_resource_type,
    resource_id AS lineage_resource_id,
    version_id AS lineage_version_id
FROM stg_event_mapped
WHERE target_table = 'procedure_occurrence';

INSERT INTO omop.procedure_occurrence BY NAME
SELECT * EXCLUDE (lineage_resource_type, lineage_resource_id, lineage_version_id) FROM stg_rows;

INSERT INTO omop.hygie_lineage
SELECT 'procedure_occurrence', procedure_occurrence_id, person_id, lineage_resource_type,
    lineage_resource_id, lineage_version_id
FROM stg_rows;
