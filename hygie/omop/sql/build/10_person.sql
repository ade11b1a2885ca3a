-- PERSON from Patient. Gender, race and ethnicity through the FHIR-to-OMOP IG ConceptMaps
-- (omop.hygie_concept_map), race/ethnicity from the US Core extensions' ombCategory.
CREATE OR REPLACE TEMP TABLE stg_rows AS
WITH patient_category AS (
    SELECT
        p.resource_id,
        json_extract_string(ext, '$.url') AS extension_url,
        json_extract_string(sub, '$.valueCoding.system') AS system,
        json_extract_string(sub, '$.valueCoding.code') AS code
    FROM stg_patient AS p,
        unnest(CAST(json_extract(p.resource, '$.extension') AS JSON[])) AS x(ext),
        unnest(CAST(json_extract(ext, '$.extension') AS JSON[])) AS y(sub)
    WHERE json_extract_string(sub, '$.url') = 'ombCategory'
),
race AS (
    SELECT resource_id, min(code) AS code, min(system) AS system
    FROM patient_category WHERE extension_url LIKE '%/us-core-race' GROUP BY resource_id
),
ethnicity AS (
    SELECT resource_id, min(code) AS code, min(system) AS system
    FROM patient_category WHERE extension_url LIKE '%/us-core-ethnicity' GROUP BY resource_id
)
SELECT
    p.person_id,
    coalesce(g.target_concept_id, 0) AS gender_concept_id,
    year(fhir_date(p.birth_date)) AS year_of_birth,
    CASE WHEN length(p.birth_date) >= 7 THEN month(fhir_date(p.birth_date)) END AS month_of_birth,
    CASE WHEN length(p.birth_date) >= 10 THEN day(fhir_date(p.birth_date)) END AS day_of_birth,
    CASE WHEN length(p.birth_date) >= 10 THEN fhir_datetime(p.birth_date) END AS birth_datetime,
    coalesce(rm.target_concept_id, 0) AS race_concept_id,
    coalesce(em.target_concept_id, 0) AS ethnicity_concept_id,
    CASE WHEN p.general_practitioner_ref LIKE 'Practitioner/%'
        THEN omop_id(p.general_practitioner_ref) END AS provider_id,
    CASE WHEN p.managing_organization_ref LIKE 'Organization/%'
        THEN omop_id(p.managing_organization_ref) END AS care_site_id,
    left(p.resource_id, 50) AS person_source_value,
    left(p.gender, 50) AS gender_source_value,
    0 AS gender_source_concept_id,
    race.code AS race_source_value,
    0 AS race_source_concept_id,
    ethnicity.code AS ethnicity_source_value,
    0 AS ethnicity_source_concept_id,
    p.resource_type AS lineage_resource_type,
    p.resource_id AS lineage_resource_id,
    p.version_id AS lineage_version_id
FROM stg_patient AS p
LEFT JOIN omop.hygie_concept_map AS g
    ON g.map_name = 'gender' AND g.source_code = p.gender
LEFT JOIN race ON race.resource_id = p.resource_id
LEFT JOIN omop.hygie_concept_map AS rm
    ON rm.map_name = 'race' AND rm.source_code = race.code AND rm.fhir_system = race.system
LEFT JOIN ethnicity ON ethnicity.resource_id = p.resource_id
LEFT JOIN omop.hygie_concept_map AS em
    ON em.map_name = 'ethnicity' AND em.source_code = ethnicity.code
    AND em.fhir_system = ethnicity.system;

INSERT INTO omop.person BY NAME
SELECT * EXCLUDE (lineage_resource_type, lineage_resource_id, lineage_version_id) FROM stg_rows;

INSERT INTO omop.hygie_lineage
SELECT 'person', person_id, person_id, lineage_resource_type, lineage_resource_id,
    lineage_version_id
FROM stg_rows;
