-- The source code of every event row written above, for the coverage report.
INSERT INTO omop.hygie_source_code
SELECT
    target_table,
    omop_id(row_key),
    person_id,
    source_system,
    source_vocabulary_id,
    source_value,
    concept_id
FROM stg_event_mapped;
