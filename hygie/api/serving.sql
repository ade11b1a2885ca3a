-- Statements of the serving store (hygie/api/serving.py): what is current, rendered as served.

-- name: current_versions
-- The current version of each resource (all, or those of $ids), as the locator knows it.
SELECT resource_type, id, version_id FROM api_locator
WHERE $ids IS NULL OR list_contains($ids, id);

-- name: files_of_missing
-- The care files holding the versions the store lacks (registered as serving_missing).
SELECT DISTINCT l.file
FROM api_locator AS l
JOIN serving_missing AS m ON m.resource_type = l.resource_type AND m.id = l.id
ORDER BY l.file;

-- name: render_missing
-- Those versions read from some of their care files ($files), with meta.versionId and
-- meta.lastUpdated as the API serves them (the same expression as reads.RENDERED).
SELECT
    c.resource_type, c.id, c.version_id,
    CAST(json_merge_patch(c.resource, json_object('meta', json_object(
        'versionId', CAST(c.version_id AS VARCHAR),
        'lastUpdated', strftime(timezone('UTC', l.last_updated), '%Y-%m-%dT%H:%M:%S.%gZ')
    ))) AS VARCHAR) AS body
FROM read_parquet($files) AS c
JOIN api_locator AS l
    ON l.resource_type = c.resource_type AND l.id = c.id AND l.version_id = c.version_id
JOIN serving_missing AS m ON m.resource_type = c.resource_type AND m.id = c.id;
