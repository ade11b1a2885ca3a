-- Patients merged by HL7 v2 ADT^A40 (see hygie/sources/hl7v2/adt.py): a merged patient carries
-- a Patient.link of type "replaced-by" to its survivor. These statements reach the merged
-- patients (and their data) from a survivor. Run on a connection with the warehouse views.

-- name: merged_patient_ids
-- The ids of $patient_id and of every patient merged into it, directly or through a chain.
WITH RECURSIVE merged (id) AS (
    SELECT CAST($patient_id AS VARCHAR) AS id
    UNION
    SELECT r.id
    FROM resource AS r
    CROSS JOIN UNNEST(CAST(json_extract(r.resource, '$.link') AS JSON[])) AS t (link)
    JOIN merged AS m
        ON json_extract_string(t.link, '$.other.reference') = 'Patient/' || m.id
    WHERE r.resource_type = 'Patient'
        AND json_extract_string(t.link, '$.type') = 'replaced-by'
)
SELECT id FROM merged ORDER BY id;

-- name: resources_of_merged_patients
-- Every current resource whose subject or patient is $patient_id or a patient merged into it.
WITH RECURSIVE merged (id) AS (
    SELECT CAST($patient_id AS VARCHAR) AS id
    UNION
    SELECT r.id
    FROM resource AS r
    CROSS JOIN UNNEST(CAST(json_extract(r.resource, '$.link') AS JSON[])) AS t (link)
    JOIN merged AS m
        ON json_extract_string(t.link, '$.other.reference') = 'Patient/' || m.id
    WHERE r.resource_type = 'Patient'
        AND json_extract_string(t.link, '$.type') = 'replaced-by'
)
SELECT r.resource_type, r.id
FROM resource AS r
JOIN merged AS m
    ON coalesce(
        json_extract_string(r.resource, '$.subject.reference'),
        json_extract_string(r.resource, '$.patient.reference')
    ) = 'Patient/' || m.id
ORDER BY r.resource_type, r.id;
