-- Statements run by the FHIR API (parameters are always bound, never concatenated).

-- name: insert_client
INSERT INTO api_client (client_id, name, zone, scopes, patient_id, jwks, created_at)
VALUES ($client_id, $name, $zone, $scopes, $patient_id, $jwks, $now);

-- name: list_clients
SELECT client_id, name, zone, scopes, patient_id, created_at, revoked_at
FROM api_client
ORDER BY created_at, client_id;

-- name: client_by_id
SELECT client_id, name, zone, scopes, patient_id, jwks, revoked_at
FROM api_client
WHERE client_id = $client_id;

-- name: active_clients
SELECT client_id FROM api_client WHERE revoked_at IS NULL AND zone = $zone;

-- name: revoke_client
UPDATE api_client SET revoked_at = $now
WHERE client_id = $client_id AND revoked_at IS NULL
RETURNING client_id;

-- name: release_stale_claim
-- A claim whose resource no longer matches its condition (deleted, changed) is released.
DELETE FROM api_conditional_create
WHERE resource_type = $resource_type AND condition = $condition;

-- name: claim_conditional_create
INSERT INTO api_conditional_create (resource_type, condition, id, claimed_at)
VALUES ($resource_type, $condition, $id, $now)
ON CONFLICT DO NOTHING
RETURNING id;

-- name: claim_holder
SELECT id FROM api_conditional_create
WHERE resource_type = $resource_type AND condition = $condition;

-- name: prune_reference_index
-- Drop the references of versions that are no longer current.
DELETE FROM api_reference AS r
WHERE ($ids IS NULL OR list_contains($ids, r.id)) AND NOT EXISTS (
    SELECT 1 FROM resource_head AS h
    WHERE h.resource_type = r.resource_type AND h.id = r.id AND h.version_id = r.version_id
        AND NOT h.deleted
);

-- name: prune_locator
-- Drop the locations of versions that are no longer current (updated or deleted since).
DELETE FROM api_locator AS l
WHERE ($ids IS NULL OR list_contains($ids, l.id)) AND NOT EXISTS (
    SELECT 1 FROM resource_head AS h
    WHERE h.resource_type = l.resource_type AND h.id = l.id AND h.version_id = l.version_id
        AND NOT h.deleted
);

-- name: index_references
-- Add the references of current versions not located yet ($ids narrows to some ids, or NULL).
INSERT INTO api_reference (resource_type, id, version_id, target)
SELECT r.resource_type, r.id, r.version_id,
    UNNEST(regexp_extract_all(CAST(r.resource AS VARCHAR),
        '"reference"\s*:\s*"([A-Z][A-Za-z]+/[A-Za-z0-9.\-]{1,64})"', 1))
FROM resource AS r
WHERE ($ids IS NULL OR list_contains($ids, r.id))
    AND NOT EXISTS (
        SELECT 1 FROM api_locator AS l
        WHERE l.resource_type = r.resource_type AND l.id = r.id AND l.version_id = r.version_id
    );

-- name: locate_current
-- Record where the current versions not located yet are.
INSERT INTO api_locator (resource_type, id, version_id, last_updated, file)
SELECT h.resource_type, h.id, h.version_id, v.last_updated, v.file
FROM resource_head AS h
JOIN resource_version AS v
    ON v.resource_type = h.resource_type AND v.id = h.id AND v.version_id = h.version_id
WHERE NOT h.deleted AND ($ids IS NULL OR list_contains($ids, h.id))
    AND NOT EXISTS (
        SELECT 1 FROM api_locator AS l
        WHERE l.resource_type = h.resource_type AND l.id = h.id
    );

-- name: locate
SELECT version_id, last_updated, file FROM api_locator
WHERE resource_type = $resource_type AND id = $id;

-- name: files_of
-- The Parquet files holding the current versions of some resources.
SELECT DISTINCT file FROM api_locator
WHERE resource_type = $resource_type AND list_contains($ids, id);

-- name: reference_candidates
-- Resources of a type that reference one of the targets (before the exact JSON predicate).
SELECT DISTINCT id FROM api_reference
WHERE resource_type = $resource_type AND list_contains($targets, target);
