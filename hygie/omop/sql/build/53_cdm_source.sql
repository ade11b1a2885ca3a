-- CDM_SOURCE: one row describing this OMOP instance.
-- cdm_version_concept_id 756265 = 'OMOP CDM Version 5.4.0' (Athena, CDM vocabulary).
INSERT INTO omop.cdm_source BY NAME
SELECT
    'Hygie research warehouse' AS cdm_source_name,
    'Hygie' AS cdm_source_abbreviation,
    'Hygie' AS cdm_holder,
    'OMOP CDM 5.4 built from FHIR R4 resources by Hygie' AS source_description,
    current_date AS source_release_date,
    current_date AS cdm_release_date,
    'v5.4' AS cdm_version,
    756265 AS cdm_version_concept_id,
    coalesce(
        (SELECT min(vocabulary_version) FROM omop.vocabulary WHERE vocabulary_id = 'None'),
        'none loaded'
    ) AS vocabulary_version;
