-- CARE_SITE from Organization (the FHIR-to-OMOP IG maps care sites from Organization and
-- Location. Hygie uses Organization, the target of Encounter.serviceProvider).
CREATE OR REPLACE TEMP TABLE stg_rows AS
SELECT
    omop_id('Organization/' || id) AS care_site_id,
    left(json_extract_string(resource, '$.name'), 255) AS care_site_name,
    0 AS place_of_service_concept_id,
    CASE WHEN json_extract(resource, '$.address[0]') IS NOT NULL
        THEN omop_id('Organization/' || id || '/address') END AS location_id,
    left(coalesce(json_extract_string(resource, '$.identifier[0].value'), id), 50) AS care_site_source_value,
    left(json_extract_string(resource, '$.type[0].coding[0].code'), 50) AS place_of_service_source_value,
    resource_type AS lineage_resource_type,
    id AS lineage_resource_id,
    version_id AS lineage_version_id
FROM omop_source
WHERE resource_type = 'Organization';

INSERT INTO omop.care_site BY NAME
SELECT * EXCLUDE (lineage_resource_type, lineage_resource_id, lineage_version_id) FROM stg_rows;

INSERT INTO omop.hygie_lineage
SELECT 'care_site', care_site_id, NULL, lineage_resource_type, lineage_resource_id,
    lineage_version_id
FROM stg_rows;
