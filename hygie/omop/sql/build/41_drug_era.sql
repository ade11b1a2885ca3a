-- DRUG_ERA by the OHDSI era rules: drug exposures are rolled up to their RxNorm ingredients
-- (CONCEPT_ANCESTOR, or the concept itself when it is an ingredient) and merged when one starts
-- at most 30 days (the persistence window) after the end of the previous ones.
-- gap_days = era length - days exposed (overlaps counted once per exposure, floor 0).
CREATE OR REPLACE TEMP TABLE stg_rows AS
WITH ingredient AS (
    SELECT ca.descendant_concept_id AS drug_concept_id, c.concept_id AS ingredient_concept_id
    FROM omop.concept_ancestor AS ca
    JOIN omop.concept AS c ON c.concept_id = ca.ancestor_concept_id
    WHERE c.vocabulary_id IN ('RxNorm', 'RxNorm Extension')
        AND c.concept_class_id = 'Ingredient'
        AND c.invalid_reason IS NULL
    UNION
    SELECT concept_id, concept_id
    FROM omop.concept
    WHERE vocabulary_id IN ('RxNorm', 'RxNorm Extension')
        AND concept_class_id = 'Ingredient'
        AND invalid_reason IS NULL
),
exposure AS (
    SELECT
        d.person_id,
        i.ingredient_concept_id AS concept_id,
        d.drug_exposure_start_date AS start_date,
        d.drug_exposure_end_date AS end_date
    FROM omop.drug_exposure AS d
    JOIN ingredient AS i ON i.drug_concept_id = d.drug_concept_id
    WHERE d.person_id IN (SELECT person_id FROM stg_patient)
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
    FROM exposure
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
        'drug_era/' || person_id || '/' || concept_id || '/' || CAST(min(start_date) AS VARCHAR)
    ) AS drug_era_id,
    person_id,
    concept_id AS drug_concept_id,
    min(start_date) AS drug_era_start_date,
    max(end_date) AS drug_era_end_date,
    CAST(count(*) AS INTEGER) AS drug_exposure_count,
    CAST(greatest(
        date_diff('day', min(start_date), max(end_date)) - sum(date_diff('day', start_date, end_date)),
        0
    ) AS INTEGER) AS gap_days
FROM numbered
GROUP BY person_id, concept_id, era_number;

INSERT INTO omop.drug_era BY NAME SELECT * FROM stg_rows;

INSERT INTO omop.hygie_lineage
SELECT 'drug_era', e.drug_era_id, e.person_id, p.resource_type, p.resource_id, p.version_id
FROM stg_rows AS e
JOIN stg_patient AS p ON p.person_id = e.person_id;
