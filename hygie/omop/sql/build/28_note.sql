-- NOTE from DocumentReference (one row per content attachment holding text: inline data is
-- base64, decoded here) and Composition (its narrative and its sections' narratives).
-- note_class_concept_id from the document type (LOINC document ontology) when it maps.
CREATE OR REPLACE TEMP TABLE stg_note AS
SELECT
    r.resource_type, r.resource_id, r.version_id, r.person_id,
    r.resource_type || '/' || r.resource_id
        || CASE WHEN json_array_length(r.resource, '$.content') > 1
            THEN '/content/' || (c.n - 1) ELSE '' END AS row_key,
    fhir_datetime(coalesce(json_extract_string(r.resource, '$.date'), json_extract_string(r.resource, '$.context.period.start')))
        AS note_datetime,
    json_extract(r.resource, '$.type') AS type_code,
    coalesce(json_extract_string(c.content, '$.attachment.title'), json_extract_string(r.resource, '$.description')) AS note_title,
    CASE WHEN coalesce(json_extract_string(c.content, '$.attachment.contentType'), 'text/plain') LIKE 'text/%'
        THEN decode(from_base64(json_extract_string(c.content, '$.attachment.data')), 'replace') END AS note_text,
    json_extract_string(r.resource, '$.context.encounter[0].reference') AS encounter_ref,
    json_extract_string(r.resource, '$.author[0].reference') AS provider_ref
FROM stg_resource AS r,
    unnest(CAST(json_extract(r.resource, '$.content') AS JSON[])) WITH ORDINALITY AS c(content, n)
WHERE r.resource_type = 'DocumentReference'
UNION ALL
SELECT
    resource_type, resource_id, version_id, person_id,
    resource_type || '/' || resource_id AS row_key,
    fhir_datetime(json_extract_string(resource, '$.date')) AS note_datetime,
    json_extract(resource, '$.type') AS type_code,
    json_extract_string(resource, '$.title') AS note_title,
    concat_ws(
        chr(10), json_extract_string(resource, '$.text.div'),
        array_to_string(json_extract_string(resource, '$.section[*].text.div'), chr(10))
    ) AS note_text,
    json_extract_string(resource, '$.encounter.reference') AS encounter_ref,
    json_extract_string(resource, '$.author[0].reference') AS provider_ref
FROM stg_resource
WHERE resource_type = 'Composition';

CREATE OR REPLACE TEMP TABLE stg_rows AS
WITH note_class AS (
    -- The document type's first LOINC coding, mapped to its standard concept.
    SELECT n.row_key, min(t.concept_id) AS concept_id, min(c.concept_code) AS code
    FROM stg_note AS n,
        unnest(CAST(json_extract(n.type_code, '$.coding') AS JSON[])) AS x(coding)
    JOIN omop.hygie_vocabulary_system AS vs ON vs.fhir_system = json_extract_string(x.coding, 'system')
    JOIN omop.concept AS c
        ON c.vocabulary_id = vs.vocabulary_id AND c.concept_code = json_extract_string(x.coding, 'code')
    LEFT JOIN omop.concept_relationship AS r
        ON r.concept_id_1 = c.concept_id AND r.relationship_id = 'Maps to'
        AND r.invalid_reason IS NULL
    LEFT JOIN omop.concept AS t ON t.concept_id = r.concept_id_2 AND t.standard_concept = 'S'
    GROUP BY n.row_key
)
SELECT
    omop_id(n.row_key) AS note_id,
    n.person_id,
    CAST(n.note_datetime AS DATE) AS note_date,
    n.note_datetime,
    32817 AS note_type_concept_id, -- EHR
    coalesce(nc.concept_id, 0) AS note_class_concept_id,
    left(n.note_title, 250) AS note_title,
    coalesce(n.note_text, '') AS note_text,
    32678 AS encoding_concept_id, -- UTF-8 (CDM 5.4 note.encoding_concept_id guidance)
    0 AS language_concept_id,
    CASE WHEN n.provider_ref LIKE 'Practitioner/%' THEN omop_id(n.provider_ref) END AS provider_id,
    enc.visit_occurrence_id,
    enc.visit_detail_id,
    left(coalesce(nc.code, json_extract_string(n.type_code, '$.coding[0].code'), json_extract_string(n.type_code, '$.text')), 50)
        AS note_source_value,
    n.resource_type AS lineage_resource_type,
    n.resource_id AS lineage_resource_id,
    n.version_id AS lineage_version_id
FROM stg_note AS n
LEFT JOIN note_class AS nc ON nc.row_key = n.row_key
LEFT JOIN stg_encounter AS enc ON enc.encounter_ref = n.encounter_ref
WHERE n.note_datetime IS NOT NULL;

INSERT INTO omop.note BY NAME
SELECT * EXCLUDE (lineage_resource_type, lineage_resource_id, lineage_version_id) FROM stg_rows;

INSERT INTO omop.hygie_lineage
SELECT 'note', note_id, person_id, lineage_resource_type, lineage_resource_id,
    lineage_version_id
FROM stg_rows;
