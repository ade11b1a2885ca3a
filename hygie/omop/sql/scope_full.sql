-- Full build: every Patient of the source is in scope.
CREATE OR REPLACE TEMP TABLE omop_scope AS
SELECT DISTINCT 'Patient/' || id AS person_ref, omop_id('Patient/' || id) AS person_id
FROM omop_source
WHERE resource_type = 'Patient';
