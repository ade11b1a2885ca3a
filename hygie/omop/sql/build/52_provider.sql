-- PROVIDER from Practitioner: name, NPI (US) identifier, gender, year of birth.
CREATE OR REPLACE TEMP TABLE stg_rows AS
SELECT
    omop_id('Practitioner/' || p.id) AS provider_id,
    left(concat_ws(
        ' ', array_to_string(json_extract_string(p.resource, '$.name[0].given[*]'), ' '),
        json_extract_string(p.resource, '$.name[0].family')
    ), 255) AS provider_name,
    CASE WHEN json_extract_string(p.resource, '$.identifier[0].system') = 'http://hl7.org/fhir/sid/us-npi'
        THEN left(json_extract_string(p.resource, '$.identifier[0].value'), 20) END AS npi,
    year(fhir_date(json_extract_string(p.resource, '$.birthDate'))) AS year_of_birth,
    coalesce(g.target_concept_id, 0) AS gender_concept_id,
    left(p.id, 50) AS provider_source_value,
    json_extract_string(p.resource, '$.gender') AS gender_source_value,
    p.resource_type AS lineage_resource_type,
    p.id AS lineage_resource_id,
    p.version_id AS lineage_version_id
FROM omop_source AS p
LEFT JOIN omop.hygie_concept_map AS g
    ON g.map_name = 'gender' AND g.source_code = json_extract_string(p.resource, '$.gender')
WHERE p.resource_type = 'Practitioner';

INSERT INTO omop.provider BY NAME
SELECT * EXCLUDE (lineage_resource_type, lineage_resource_id, lineage_version_id) FROM stg_rows;

INSERT INTO omop.hygie_lineage
SELECT 'provider', provider_id, NULL, lineage_resource_type, lineage_resource_id,
    lineage_version_id
FROM stg_rows;
