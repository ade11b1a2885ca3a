-- A fingerprint of the source's identities and versions (no JSON read): when it equals the one
-- the last build recorded for the same source, an incremental build has nothing to do.
SELECT
    CAST(count(*) AS VARCHAR) || ':'
    || coalesce(CAST(max(last_updated) AS VARCHAR), '') || ':'
    || coalesce(CAST(sum(hash(resource_type || '/' || id || '/' || CAST(version_id AS VARCHAR))) AS VARCHAR), '')
FROM omop_input;
