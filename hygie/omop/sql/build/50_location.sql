-- LOCATION from Location resources (their address) and from Organization addresses (so that
-- CARE_SITE.location_id points somewhere). Rebuilt whole at every build: these resources are
-- shared by many persons. Patient addresses are not mapped (see docs/omop.md).
CREATE OR REPLACE TEMP TABLE stg_rows AS
SELECT
    omop_id(
        resource_type || '/' || id || CASE WHEN resource_type = 'Organization' THEN '/address' ELSE '' END
    ) AS location_id,
    left(coalesce(json_extract_string(resource, '$.address.line[0]'), json_extract_string(resource, '$.address[0].line[0]')), 50)
        AS address_1,
    left(coalesce(json_extract_string(resource, '$.address.line[1]'), json_extract_string(resource, '$.address[0].line[1]')), 50)
        AS address_2,
    left(coalesce(json_extract_string(resource, '$.address.city'), json_extract_string(resource, '$.address[0].city')), 50) AS city,
    left(coalesce(json_extract_string(resource, '$.address.state'), json_extract_string(resource, '$.address[0].state')), 2) AS state,
    left(coalesce(json_extract_string(resource, '$.address.postalCode'), json_extract_string(resource, '$.address[0].postalCode')), 9)
        AS zip,
    left(coalesce(json_extract_string(resource, '$.address.district'), json_extract_string(resource, '$.address[0].district')), 20)
        AS county,
    left(resource_type || '/' || id, 50) AS location_source_value,
    left(coalesce(json_extract_string(resource, '$.address.country'), json_extract_string(resource, '$.address[0].country')), 80)
        AS country_source_value,
    TRY_CAST(json_extract_string(resource, '$.position.latitude') AS DOUBLE) AS latitude,
    TRY_CAST(json_extract_string(resource, '$.position.longitude') AS DOUBLE) AS longitude,
    resource_type AS lineage_resource_type,
    id AS lineage_resource_id,
    version_id AS lineage_version_id
FROM omop_source
WHERE resource_type = 'Location'
    OR (resource_type = 'Organization' AND json_extract(resource, '$.address[0]') IS NOT NULL);

INSERT INTO omop.location BY NAME
SELECT * EXCLUDE (lineage_resource_type, lineage_resource_id, lineage_version_id) FROM stg_rows;

INSERT INTO omop.hygie_lineage
SELECT 'location', location_id, NULL, lineage_resource_type, lineage_resource_id,
    lineage_version_id
FROM stg_rows;
