-- VISIT_OCCURRENCE from Encounter (not partOf another encounter; fields staged in
-- stg_encounter). visit_concept_id from Encounter.class by the FHIR-to-OMOP IG EncounterClass
-- ConceptMap. A visit without an end ends on its start (CDM 5.4 convention for visit_end_date).
CREATE OR REPLACE TEMP TABLE stg_rows AS
SELECT
    e.visit_occurrence_id,
    e.person_id,
    coalesce(vm.target_concept_id, 0) AS visit_concept_id,
    CAST(e.start_datetime AS DATE) AS visit_start_date,
    e.start_datetime AS visit_start_datetime,
    CAST(e.end_datetime AS DATE) AS visit_end_date,
    e.end_datetime AS visit_end_datetime,
    32817 AS visit_type_concept_id, -- EHR
    CASE WHEN e.provider_ref LIKE 'Practitioner/%' THEN omop_id(e.provider_ref) END AS provider_id,
    CASE WHEN e.care_site_ref LIKE 'Organization/%' THEN omop_id(e.care_site_ref) END
        AS care_site_id,
    left(e.class_code, 50) AS visit_source_value,
    0 AS visit_source_concept_id,
    left(e.admitted_from_source_value, 50) AS admitted_from_source_value,
    left(e.discharged_to_source_value, 50) AS discharged_to_source_value,
    e.resource_type AS lineage_resource_type,
    e.resource_id AS lineage_resource_id,
    e.version_id AS lineage_version_id
FROM stg_encounter AS e
LEFT JOIN omop.hygie_concept_map AS vm
    ON vm.map_name = 'visit' AND vm.source_code = e.class_code
WHERE e.visit_detail_id IS NULL;

INSERT INTO omop.visit_occurrence BY NAME
SELECT
    * EXCLUDE (lineage_resource_type, lineage_resource_id, lineage_version_id),
    lag(visit_occurrence_id) OVER (
        PARTITION BY person_id ORDER BY visit_start_datetime, visit_occurrence_id
    ) AS preceding_visit_occurrence_id
FROM stg_rows;

INSERT INTO omop.hygie_lineage
SELECT 'visit_occurrence', visit_occurrence_id, person_id, lineage_resource_type,
    lineage_resource_id, lineage_version_id
FROM stg_rows;
