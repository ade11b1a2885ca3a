-- CONDITION_ERA by the OHDSI era rules: occurrences of the same standard condition concept
-- are merged when one starts at most 30 days (the persistence window) after the end of the
-- previous ones. An occurrence without an end date ends the day after its start. The era ends
-- at the latest end of its occurrences. Unmapped conditions (concept 0) make no era.
CREATE OR REPLACE TEMP TABLE stg_rows AS
WITH occurrence AS (
    SELECT
        person_id,
        condition_concept_id AS concept_id,
        condition_start_date AS start_date,
        coalesce(condition_end_date, condition_start_date + 1) AS end_date
    FROM omop.condition_occurrence
    WHERE condition_concept_id <> 0
        AND person_id IN (SELECT person_id FROM stg_patient)
),
marked AS (
    SELECT
        *,
        CASE
            WHEN start_date <= max(end_date + 30) OVER (
                PARTITION BY person_id, concept_id ORDER BY start_date, end_date
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
            ) THEN 0
            ELSE 1
        END AS starts_era
    FROM occurrence
),
numbered AS (
    SELECT
        *,
        sum(starts_era) OVER (
            PARTITION BY person_id, concept_id ORDER BY start_date, end_date
            ROWS UNBOUNDED PRECEDING
        ) AS era_number
    FROM marked
)
SELECT
    omop_id(
        'condition_era/' || person_id || '/' || concept_id || '/' || CAST(min(start_date) AS VARCHAR)
    ) AS condition_era_id,
    person_id,
    concept_id AS condition_concept_id,
    min(start_date) AS condition_era_start_date,
    max(end_date) AS condition_era_end_date,
    CAST(count(*) AS INTEGER) AS condition_occurrence_count
FROM numbered
GROUP BY person_id, concept_id, era_number;

INSERT INTO omop.condition_era BY NAME SELECT * FROM stg_rows;

-- An era comes from several occurrences: its lineage is the person's Patient resource.
INSERT INTO omop.hygie_lineage
SELECT 'condition_era', e.condition_era_id, e.person_id, p.resource_type, p.resource_id,
    p.version_id
FROM stg_rows AS e
JOIN stg_patient AS p ON p.person_id = e.person_id;
