-- Stage 1: the FHIR resources of the persons being built.
-- Inputs: omop_source (the staged source: resource_type, id, version_id, last_updated,
-- resource JSON, person_ref, status) and omop_scope (person_ref 'Patient/<id>', person_id).
-- Each staging statement reads the JSON of a resource once, for all the paths it needs
-- (json_extract_string with a list of paths), then names the values.

-- The Patients in scope. A Patient without a birth date cannot be a PERSON (year_of_birth is
-- required): it and its resources are left out.
CREATE OR REPLACE TEMP TABLE stg_patient AS
WITH patient AS (
    SELECT
        p.id AS resource_id,
        p.version_id,
        p.resource,
        s.person_ref,
        s.person_id,
        json_extract_string(p.resource, [
            '$.birthDate', '$.gender', '$.generalPractitioner[0].reference',
            '$.managingOrganization.reference', '$.deceasedDateTime'
        ]) AS f
    FROM omop_scope AS s
    JOIN omop_source AS p ON p.resource_type = 'Patient' AND p.person_ref = s.person_ref
)
SELECT
    'Patient' AS resource_type,
    resource_id,
    version_id,
    resource,
    person_ref,
    person_id,
    f[1] AS birth_date,
    f[2] AS gender,
    f[3] AS general_practitioner_ref,
    f[4] AS managing_organization_ref,
    f[5] AS deceased_datetime
FROM patient
WHERE fhir_date(f[1]) IS NOT NULL;

-- Each resource of the patient compartment, with the person it belongs to.
CREATE OR REPLACE TEMP TABLE stg_resource AS
SELECT
    r.resource_type,
    r.id AS resource_id,
    r.version_id,
    r.resource,
    r.status,
    p.person_id
FROM omop_source AS r
JOIN stg_patient AS p ON p.person_ref = r.person_ref
WHERE r.resource_type IN (
    'Patient', 'Encounter', 'Condition', 'Observation', 'Procedure', 'MedicationRequest',
    'MedicationStatement', 'MedicationAdministration', 'MedicationDispense', 'Immunization',
    'AllergyIntolerance', 'DeviceUseStatement', 'DocumentReference', 'Composition', 'Specimen'
)
    AND coalesce(r.status, '') <> 'entered-in-error';

-- Encounters -> the visit ids events point to. An encounter that is partOf another one is a
-- VISIT_DETAIL of its parent's VISIT_OCCURRENCE (one level, as in the FHIR-to-OMOP IG).
CREATE OR REPLACE TEMP TABLE stg_encounter AS
WITH field AS (
    SELECT
        resource_type,
        resource_id,
        version_id,
        person_id,
        json_extract_string(resource, [
            '$.partOf.reference', '$.period.start', '$.period.end', '$.class.code',
            '$.participant[0].individual.reference', '$.serviceProvider.reference',
            '$.hospitalization.admitSource.coding[0].code',
            '$.hospitalization.dischargeDisposition.coding[0].code'
        ]) AS f
    FROM stg_resource
    WHERE resource_type = 'Encounter'
),
encounter AS (
    SELECT
        'Encounter/' || resource_id AS encounter_ref,
        resource_type,
        resource_id,
        version_id,
        person_id,
        f[1] AS parent_ref,
        fhir_datetime(f[2]) AS start_datetime,
        coalesce(fhir_datetime(f[3]), fhir_datetime(f[2])) AS end_datetime,
        f[4] AS class_code,
        f[5] AS provider_ref,
        f[6] AS care_site_ref,
        f[7] AS admitted_from_source_value,
        f[8] AS discharged_to_source_value
    FROM field
    WHERE fhir_datetime(f[2]) IS NOT NULL
)
SELECT
    e.*,
    omop_id(coalesce(p.encounter_ref, e.encounter_ref)) AS visit_occurrence_id,
    CASE WHEN p.encounter_ref IS NOT NULL THEN omop_id(e.encounter_ref) END AS visit_detail_id
FROM encounter AS e
LEFT JOIN encounter AS p ON p.encounter_ref = e.parent_ref;
