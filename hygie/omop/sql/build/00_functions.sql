-- Scalar functions used by the build files. These are DuckDB macros (temporary, per connection),
-- another engine registers functions with the same names and meaning (e.g. Spark SQL UDFs).

-- OMOP row id from a FHIR identity such as 'Observation/123' (plus a discriminator when one
-- resource yields several rows): the first 15 hex digits (60 bits) of its MD5. The same resource
-- gets the same id in every build and on every engine.
CREATE OR REPLACE TEMP MACRO omop_id(fhir_key) AS
    CAST(('0x' || left(md5(fhir_key), 15)) AS BIGINT);

-- FHIR date, dateTime or instant -> TIMESTAMP at the clock time recorded (the UTC offset is
-- dropped, so dates stay the local dates of the source). Partial dates go to the first day.
CREATE OR REPLACE TEMP MACRO fhir_datetime(value) AS
    TRY_CAST(CASE length(value)
        WHEN 4 THEN value || '-01-01'
        WHEN 7 THEN value || '-01'
        ELSE left(value, 19)
    END AS TIMESTAMP);

CREATE OR REPLACE TEMP MACRO fhir_date(value) AS CAST(fhir_datetime(value) AS DATE);
