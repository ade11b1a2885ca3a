-- VISIT_DETAIL from Encounter.partOf: a sub-encounter (e.g. a ward stay) inside its parent's
-- VISIT_OCCURRENCE (fields staged in stg_encounter).
CREATE OR REPLACE TEMP TABLE stg_rows AS
SELECT
    e.visit_detail_id,
    e.person_id,
    coalesce(vm.target_concept_id, 0) AS visit_detail_concept_id,
    CAST(e.start_datetime AS DATE) AS visit_detail_start_date,
    e.start_datetime AS visit_detail_start_datetime,
    CAST(e.end_datetime AS DATE) AS visit_detail_end_date,
    e.end_datetime AS visit_detail_end_datetime,
    32817 AS visit_detail_type_concept_id, -- EHR
    CASE WHEN e.provider_ref LIKE 'Practitioner/%' THEN omop_id(e.provider_ref) END AS provider_id,
    CASE WHEN e.care_site_ref LIKE 'Organization/%' THEN omop_id(e.care_site_ref) END
        AS care_site_id,
    left(e.class_code, 50) AS visit_detail_source_value,
    0 AS visit_detail_source_concept_id,
    left(e.admitted_from_source_value, 50) AS admitted_from_source_value,
    left(e.discharged_to_source_value, 50) AS discharged_to_source_value,
    e.visit_occurrence_id,
    e.resource_type AS lineage_resource_type,
    e.resource_id AS lineage_resource_id,
    e.version_id AS lineage_version_id
FROM stg_encounter AS e
LEFT JOIN omop.hygie_concept_map AS vm
    ON vm.map_name = 'visit' AND vm.source_code = e.class_code
WHERE e.visit_detail_id IS NOT NULL;

INSERT INTO omop.visit_detail BY NAME
SELECT * EXCLUDE (lineage_resource_type, lineage_resource_id, lineage_version_id) FROM stg_rows;

INSERT INTO omop.hygie_lineage
SELECT 'visit_detail', visit_detail_id, person_id, lineage_resource_type, lineage_resource_id,
    lineage_version_id
FROM stg_rows;
