-- Stage 3: from FHIR codings to OMOP concepts, and from concepts to target tables.
--   source concept   = CONCEPT row of (vocabulary of the coding's system, code)
--   standard concept = target of 'Maps to' (or the source concept itself when it is standard)
--   value concept    = target of 'Maps to value' (a source code that pre-coordinates a value)
-- The first coding that reaches a standard concept wins, else the first one found in the
-- vocabulary, else the first coding. The target table follows the standard concept's domain.

-- Every coding of the fact's code ('code') and of its coded value ('value').
CREATE OR REPLACE TEMP TABLE stg_event_coding AS
SELECT e.source_key, 'code' AS slot, c.n AS ordinal, json_extract_string(c.coding, 'system') AS system,
    json_extract_string(c.coding, 'code') AS code
FROM stg_event AS e,
    unnest(CAST(json_extract(e.code, '$.coding') AS JSON[])) WITH ORDINALITY AS c(coding, n)
UNION ALL
SELECT e.source_key, 'value' AS slot, c.n AS ordinal, json_extract_string(c.coding, 'system') AS system,
    json_extract_string(c.coding, 'code') AS code
FROM stg_event AS e,
    unnest(CAST(json_extract(e.value_code, '$.coding') AS JSON[])) WITH ORDINALITY AS c(coding, n);

-- Distinct (system, code) pairs -> source concepts.
CREATE OR REPLACE TEMP TABLE stg_code_source AS
SELECT DISTINCT
    ec.system, ec.code, vs.vocabulary_id, vs.priority, src.concept_id AS source_concept_id,
    src.standard_concept
FROM (SELECT DISTINCT system, code FROM stg_event_coding) AS ec
JOIN omop.hygie_vocabulary_system AS vs ON vs.fhir_system = ec.system
JOIN omop.concept AS src ON src.vocabulary_id = vs.vocabulary_id AND src.concept_code = ec.code;

-- Source concept -> standard concepts (one or more) and value concept.
CREATE OR REPLACE TEMP TABLE stg_code_target AS
WITH maps_to AS (
    SELECT r.concept_id_1 AS source_concept_id, t.concept_id AS target_concept_id,
        t.domain_id AS target_domain_id
    FROM omop.concept_relationship AS r
    JOIN omop.concept AS t ON t.concept_id = r.concept_id_2
    WHERE r.relationship_id = 'Maps to'
        AND r.invalid_reason IS NULL
        AND t.standard_concept = 'S'
        AND t.invalid_reason IS NULL
        AND r.concept_id_1 IN (SELECT source_concept_id FROM stg_code_source)
    UNION
    SELECT source_concept_id, source_concept_id, c.domain_id
    FROM stg_code_source AS s
    JOIN omop.concept AS c ON c.concept_id = s.source_concept_id
    WHERE s.standard_concept = 'S' AND c.invalid_reason IS NULL
),
maps_to_value AS (
    SELECT r.concept_id_1 AS source_concept_id, min(t.concept_id) AS value_concept_id
    FROM omop.concept_relationship AS r
    JOIN omop.concept AS t ON t.concept_id = r.concept_id_2
    WHERE r.relationship_id = 'Maps to value'
        AND r.invalid_reason IS NULL
        AND r.concept_id_1 IN (SELECT source_concept_id FROM stg_code_source)
    GROUP BY r.concept_id_1
)
SELECT m.source_concept_id, m.target_concept_id, m.target_domain_id, v.value_concept_id
FROM maps_to AS m
LEFT JOIN maps_to_value AS v ON v.source_concept_id = m.source_concept_id;

-- The chosen coding of each fact and slot, with its standard concepts (one row per target).
CREATE OR REPLACE TEMP TABLE stg_event_concept AS
WITH candidate AS (
    SELECT
        ec.source_key, ec.slot, ec.ordinal, ec.system, ec.code, s.vocabulary_id,
        s.priority, s.source_concept_id, t.source_concept_id IS NOT NULL AS has_target
    FROM stg_event_coding AS ec
    LEFT JOIN stg_code_source AS s ON s.system = ec.system AND s.code = ec.code
    LEFT JOIN (SELECT DISTINCT source_concept_id FROM stg_code_target) AS t
        ON t.source_concept_id = s.source_concept_id
),
chosen AS (
    SELECT *
    FROM candidate
    QUALIFY row_number() OVER (
        PARTITION BY source_key, slot
        ORDER BY has_target DESC, source_concept_id IS NULL, ordinal, priority
    ) = 1
)
SELECT
    c.source_key, c.slot, c.system, c.code, c.vocabulary_id,
    coalesce(c.source_concept_id, 0) AS source_concept_id,
    t.target_concept_id, t.target_domain_id, t.value_concept_id,
    count(*) OVER (PARTITION BY c.source_key, c.slot) AS target_count
FROM chosen AS c
LEFT JOIN stg_code_target AS t ON t.source_concept_id = c.source_concept_id;

-- Facts with their concepts, row key and target table: the input of every event table.
-- A code that maps to several standard concepts gives one row per concept ('#<concept_id>').
CREATE OR REPLACE TEMP TABLE stg_event_mapped AS
SELECT
    e.*,
    CASE
        WHEN c.target_count > 1 THEN e.source_key || '#' || c.target_concept_id
        ELSE e.source_key
    END AS row_key,
    coalesce(c.target_concept_id, 0) AS concept_id,
    coalesce(c.source_concept_id, 0) AS source_concept_id,
    left(coalesce(c.code, json_extract_string(e.code, '$.text')), 50) AS source_value,
    c.system AS source_system,
    c.vocabulary_id AS source_vocabulary_id,
    coalesce(c.value_concept_id, v.target_concept_id) AS value_as_concept_id,
    CASE
        WHEN e.resource_type = 'Specimen' THEN 'specimen'
        ELSE CASE coalesce(c.target_domain_id, e.default_domain)
            WHEN 'Condition' THEN 'condition_occurrence'
            WHEN 'Procedure' THEN 'procedure_occurrence'
            WHEN 'Drug' THEN 'drug_exposure'
            WHEN 'Device' THEN 'device_exposure'
            WHEN 'Measurement' THEN 'measurement'
            ELSE 'observation'
        END
    END AS target_table,
    enc.visit_occurrence_id,
    enc.visit_detail_id,
    CASE WHEN e.provider_ref LIKE 'Practitioner/%' THEN omop_id(e.provider_ref) END AS provider_id,
    unit.concept_id AS unit_concept_id,
    op.target_concept_id AS operator_concept_id
FROM stg_event AS e
LEFT JOIN stg_event_concept AS c ON c.source_key = e.source_key AND c.slot = 'code'
LEFT JOIN (
    SELECT source_key, min(target_concept_id) AS target_concept_id
    FROM stg_event_concept
    WHERE slot = 'value'
    GROUP BY source_key
) AS v ON v.source_key = e.source_key
LEFT JOIN stg_encounter AS enc ON enc.encounter_ref = e.encounter_ref
LEFT JOIN omop.concept AS unit
    ON unit.vocabulary_id = 'UCUM'
    AND unit.concept_code = e.unit_code
    AND unit.standard_concept = 'S'
    AND coalesce(e.unit_system, 'http://unitsofmeasure.org') = 'http://unitsofmeasure.org'
LEFT JOIN omop.hygie_concept_map AS op
    ON op.map_name = 'operator' AND op.source_code = e.value_comparator
WHERE e.start_datetime IS NOT NULL;
