-- Stage 2: one row per clinical fact, whatever the resource type, before concept mapping.
-- source_key is the FHIR identity of the fact: 'Type/id', plus '/component/<i>' for an
-- Observation component. default_domain is used when the code maps to no standard concept.
-- Each resource's JSON is parsed once: json_extract_string with a list of paths gives the
-- list f of their values (objects come back as JSON text, cast to JSON where needed).

CREATE OR REPLACE TEMP TABLE stg_event AS
WITH drug AS (
    SELECT
        *,
        json_extract_string(resource, [
            '$.medicationCodeableConcept', '$.vaccineCode', '$.medicationReference.reference',
            '$.encounter.reference', '$.context.reference', '$.requester.reference',
            '$.performer[0].actor.reference', '$.informationSource.reference', '$.authoredOn',
            '$.dispenseRequest.validityPeriod.start', '$.effectiveDateTime',
            '$.effectivePeriod.start', '$.occurrenceDateTime', '$.whenHandedOver',
            '$.whenPrepared', '$.dispenseRequest.validityPeriod.end', '$.effectivePeriod.end',
            '$.dispenseRequest.quantity.value', '$.quantity.value', '$.dosage.dose.value',
            '$.doseQuantity.value', '$.dispenseRequest.expectedSupplyDuration.value',
            '$.daysSupply.value', '$.dispenseRequest.numberOfRepeatsAllowed',
            '$.dosageInstruction[0].text', '$.dosage[0].text', '$.dosage.text',
            '$.dosageInstruction[0].route.coding[0].code', '$.dosage[0].route.coding[0].code',
            '$.dosage.route.coding[0].code', '$.route.coding[0].code', '$.lotNumber',
            '$.contained'
        ]) AS f
    FROM stg_resource
    WHERE resource_type IN (
        'MedicationRequest', 'MedicationStatement', 'MedicationAdministration',
        'MedicationDispense', 'Immunization'
    )
        AND coalesce(status, '') NOT IN ('not-done', 'cancelled')
),
contained_medication AS (
    -- A Medication contained in the resource ('#id' references), found by its local id.
    SELECT
        d.resource_type,
        d.resource_id,
        json_extract(c.item, '$.code') AS code,
        json_extract(c.item, '$.batch') AS batch
    FROM drug AS d,
        unnest(CAST(CAST(d.f[33] AS JSON) AS JSON[])) AS c(item)
    WHERE left(d.f[3], 1) = '#'
        AND json_extract_string(c.item, '$.resourceType') = 'Medication'
        AND '#' || json_extract_string(c.item, '$.id') = d.f[3]
),
observation AS (
    -- f[1..14]: code, value[x] and range paths, the same for an Observation and a component.
    SELECT
        resource_type, resource_id, version_id, person_id,
        json_extract_string(resource, [
            '$.code', '$.valueQuantity.value', '$.valueInteger', '$.valueQuantity.comparator',
            '$.valueQuantity.system', '$.valueQuantity.code', '$.valueQuantity.unit',
            '$.valueCodeableConcept', '$.valueCodeableConcept.coding[0].code',
            '$.valueCodeableConcept.text', '$.valueString', '$.valueBoolean',
            '$.referenceRange[0].low.value', '$.referenceRange[0].high.value',
            '$.encounter.reference', '$.performer[0].reference', '$.effectiveDateTime',
            '$.effectivePeriod.start', '$.effectiveInstant', '$.issued', '$.effectivePeriod.end',
            '$.component', '$.category'
        ]) AS f
    FROM stg_resource
    WHERE resource_type = 'Observation'
),
observation_item AS (
    -- Observation.value[x] (when present or when there are no components) ...
    SELECT o.*, '' AS part, o.f AS v
    FROM observation AS o
    WHERE coalesce(json_array_length(CAST(o.f[22] AS JSON)), 0) = 0
        OR coalesce(o.f[2], o.f[3], o.f[8], o.f[11], o.f[12]) IS NOT NULL
    UNION ALL
    -- ... and each Observation.component (e.g. systolic and diastolic blood pressure).
    SELECT
        o.*,
        '/component/' || (c.n - 1) AS part,
        json_extract_string(c.component, [
            '$.code', '$.valueQuantity.value', '$.valueInteger', '$.valueQuantity.comparator',
            '$.valueQuantity.system', '$.valueQuantity.code', '$.valueQuantity.unit',
            '$.valueCodeableConcept', '$.valueCodeableConcept.coding[0].code',
            '$.valueCodeableConcept.text', '$.valueString', '$.valueBoolean',
            '$.referenceRange[0].low.value', '$.referenceRange[0].high.value'
        ]) AS v
    FROM observation AS o,
        unnest(CAST(CAST(o.f[22] AS JSON) AS JSON[])) WITH ORDINALITY AS c(component, n)
    WHERE o.f[22] IS NOT NULL
),
observation_category AS (
    SELECT
        resource_id,
        json_extract_string(CAST(f[23] AS JSON), '$[*].coding[*].code') AS codes
    FROM observation
    WHERE f[23] IS NOT NULL
)
SELECT
    i.resource_type, i.resource_id, i.version_id, i.person_id,
    i.resource_type || '/' || i.resource_id || i.part AS source_key,
    CAST(i.v[1] AS JSON) AS code,
    CASE
        WHEN list_contains(k.codes, 'laboratory') OR list_contains(k.codes, 'vital-signs')
            OR i.v[2] IS NOT NULL OR i.v[6] IS NOT NULL OR i.v[7] IS NOT NULL
            THEN 'Measurement'
        ELSE 'Observation'
    END AS default_domain,
    i.f[15] AS encounter_ref,
    i.f[16] AS provider_ref,
    fhir_datetime(coalesce(i.f[17], i.f[18], i.f[19], i.f[20])) AS start_datetime,
    fhir_datetime(i.f[21]) AS end_datetime,
    coalesce(TRY_CAST(i.v[2] AS DOUBLE), TRY_CAST(i.v[3] AS DOUBLE)) AS value_number,
    i.v[4] AS value_comparator,
    i.v[5] AS unit_system,
    coalesce(i.v[6], i.v[7]) AS unit_code,
    CAST(i.v[8] AS JSON) AS value_code,
    coalesce(i.v[2], i.v[9], i.v[10], i.v[11], i.v[12], i.v[3]) AS value_source_value,
    i.v[11] AS value_string,
    TRY_CAST(i.v[13] AS DOUBLE) AS range_low,
    TRY_CAST(i.v[14] AS DOUBLE) AS range_high,
    CAST(NULL AS DOUBLE) AS quantity,
    CAST(NULL AS INTEGER) AS days_supply,
    CAST(NULL AS INTEGER) AS refills,
    CAST(NULL AS VARCHAR) AS sig,
    CAST(NULL AS VARCHAR) AS route_source_value,
    CAST(NULL AS VARCHAR) AS lot_number,
    CAST(NULL AS VARCHAR) AS unique_device_id,
    CAST(NULL AS VARCHAR) AS status_source_value
FROM observation_item AS i
LEFT JOIN observation_category AS k ON k.resource_id = i.resource_id

UNION ALL BY NAME
-- Condition: onset .. abatement.
SELECT
    resource_type, resource_id, version_id, person_id,
    resource_type || '/' || resource_id AS source_key,
    CAST(f[1] AS JSON) AS code,
    'Condition' AS default_domain,
    f[2] AS encounter_ref,
    f[3] AS provider_ref,
    fhir_datetime(coalesce(f[4], f[5], f[6])) AS start_datetime,
    fhir_datetime(coalesce(f[7], f[8])) AS end_datetime,
    f[9] AS status_source_value
FROM (
    SELECT
        *,
        json_extract_string(resource, [
            '$.code', '$.encounter.reference', '$.asserter.reference', '$.onsetDateTime',
            '$.onsetPeriod.start', '$.recordedDate', '$.abatementDateTime',
            '$.abatementPeriod.end', '$.clinicalStatus.coding[0].code'
        ]) AS f
    FROM stg_resource
    WHERE resource_type = 'Condition'
)

UNION ALL BY NAME
-- AllergyIntolerance: the allergy is an observation of the person (default domain).
SELECT
    resource_type, resource_id, version_id, person_id,
    resource_type || '/' || resource_id AS source_key,
    CAST(f[1] AS JSON) AS code,
    'Observation' AS default_domain,
    f[2] AS encounter_ref,
    f[3] AS provider_ref,
    fhir_datetime(coalesce(f[4], f[5])) AS start_datetime
FROM (
    SELECT
        *,
        json_extract_string(resource, [
            '$.code', '$.encounter.reference', '$.recorder.reference', '$.onsetDateTime',
            '$.recordedDate'
        ]) AS f
    FROM stg_resource
    WHERE resource_type = 'AllergyIntolerance'
)

UNION ALL BY NAME
-- Procedure: performed[x].
SELECT
    resource_type, resource_id, version_id, person_id,
    resource_type || '/' || resource_id AS source_key,
    CAST(f[1] AS JSON) AS code,
    'Procedure' AS default_domain,
    f[2] AS encounter_ref,
    f[3] AS provider_ref,
    fhir_datetime(coalesce(f[4], f[5])) AS start_datetime,
    fhir_datetime(f[6]) AS end_datetime
FROM (
    SELECT
        *,
        json_extract_string(resource, [
            '$.code', '$.encounter.reference', '$.performer[0].actor.reference',
            '$.performedDateTime', '$.performedPeriod.start', '$.performedPeriod.end'
        ]) AS f
    FROM stg_resource
    WHERE resource_type = 'Procedure'
)

UNION ALL BY NAME
-- Medication* and Immunization: drug exposures. The medication is the CodeableConcept, or the
-- code of the referenced Medication: a resource of the source, or one contained ('#id').
SELECT
    r.resource_type, r.resource_id, r.version_id, r.person_id,
    r.resource_type || '/' || r.resource_id AS source_key,
    coalesce(
        CAST(r.f[1] AS JSON), CAST(r.f[2] AS JSON), json_extract(m.resource, '$.code'),
        contained.code
    ) AS code,
    'Drug' AS default_domain,
    coalesce(r.f[4], r.f[5]) AS encounter_ref,
    coalesce(r.f[6], r.f[7], r.f[8]) AS provider_ref,
    fhir_datetime(coalesce(r.f[9], r.f[10], r.f[11], r.f[12], r.f[13], r.f[14], r.f[15]))
        AS start_datetime,
    fhir_datetime(coalesce(r.f[16], r.f[17])) AS end_datetime,
    TRY_CAST(coalesce(r.f[18], r.f[19], r.f[20], r.f[21]) AS DOUBLE) AS quantity,
    CAST(TRY_CAST(coalesce(r.f[22], r.f[23]) AS DOUBLE) AS INTEGER) AS days_supply,
    TRY_CAST(r.f[24] AS INTEGER) AS refills,
    coalesce(r.f[25], r.f[26], r.f[27]) AS sig,
    coalesce(r.f[28], r.f[29], r.f[30], r.f[31]) AS route_source_value,
    coalesce(r.f[32], json_extract_string(contained.batch, '$.lotNumber')) AS lot_number
FROM drug AS r
LEFT JOIN omop_source AS m
    ON m.resource_type = 'Medication' AND 'Medication/' || m.id = r.f[3]
LEFT JOIN contained_medication AS contained
    ON contained.resource_type = r.resource_type AND contained.resource_id = r.resource_id

UNION ALL BY NAME
-- DeviceUseStatement: the device type comes from the referenced Device.
SELECT
    r.resource_type, r.resource_id, r.version_id, r.person_id,
    r.resource_type || '/' || r.resource_id AS source_key,
    json_extract(d.resource, '$.type') AS code,
    'Device' AS default_domain,
    fhir_datetime(coalesce(r.f[2], r.f[3], r.f[4])) AS start_datetime,
    fhir_datetime(r.f[5]) AS end_datetime,
    json_extract_string(d.resource, '$.udiCarrier[0].deviceIdentifier') AS unique_device_id
FROM (
    SELECT
        *,
        json_extract_string(resource, [
            '$.device.reference', '$.timingPeriod.start', '$.timingDateTime', '$.recordedOn',
            '$.timingPeriod.end'
        ]) AS f
    FROM stg_resource
    WHERE resource_type = 'DeviceUseStatement'
) AS r
LEFT JOIN omop_source AS d ON d.resource_type = 'Device' AND 'Device/' || d.id = r.f[1]

UNION ALL BY NAME
-- Specimen: always written to SPECIMEN (its type code is looked up like the others).
SELECT
    resource_type, resource_id, version_id, person_id,
    resource_type || '/' || resource_id AS source_key,
    CAST(f[1] AS JSON) AS code,
    'Specimen' AS default_domain,
    fhir_datetime(coalesce(f[2], f[3], f[4])) AS start_datetime,
    TRY_CAST(f[5] AS DOUBLE) AS quantity,
    coalesce(f[6], f[7]) AS unit_code,
    f[8] AS unit_system
FROM (
    SELECT
        *,
        json_extract_string(resource, [
            '$.type', '$.collection.collectedDateTime', '$.collection.collectedPeriod.start',
            '$.receivedTime', '$.collection.quantity.value', '$.collection.quantity.code',
            '$.collection.quantity.unit', '$.collection.quantity.system'
        ]) AS f
    FROM stg_resource
    WHERE resource_type = 'Specimen'
);
