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

-- name: located_missing
-- Those versions read from some of their care files ($files), with the time of their version
-- (serving.py renders them with reads.RENDERED, the expression every read uses).
SELECT c.resource_type, c.id, c.version_id, l.last_updated, c.resource
FROM read_parquet($files) AS c
JOIN api_locator AS l
    ON l.resource_type = c.resource_type AND l.id = c.id AND l.version_id = c.version_id
JOIN serving_missing AS m ON m.resource_type = c.resource_type AND m.id = c.id;
