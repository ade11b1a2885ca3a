-- Statements of one ingestion batch, run in one transaction by hygie/warehouse/store.py.
-- The batch arrives as Arrow tables registered as batch_raw, batch_resource, batch_quarantine.
-- $run_id and $now are bound parameters.

-- name: insert_raw
-- Only bytes never received before are added; RETURNING tells which ones are new.
-- The bytes of the new items go to the Parquet file named $file (written before COMMIT), those
-- of verbatim items (exactly one resource's JSON) to the care file $care_file, once.
INSERT INTO raw_input
    (sha256, source, line_no, byte_offset, format, size_bytes, received_at, run_id, file)
SELECT
    sha256, source, line_no, byte_offset, format, size_bytes, $now, $run_id,
    CASE WHEN verbatim THEN $care_file ELSE $file END
FROM batch_raw
ON CONFLICT DO NOTHING
RETURNING sha256;

-- name: move_raw_to_raw_file
-- Verbatim items whose resource did not become a version (identical to the current one, from
-- another input): their bytes go to the raw file $file after all.
UPDATE raw_input SET file = $file
WHERE sha256 IN (SELECT sha256 FROM kept_raw);

-- name: stage_fresh
-- Resources from new raw items (keys only). `pass` orders several versions of one resource
-- arriving in one batch.
CREATE OR REPLACE TEMPORARY TABLE fresh AS
SELECT
    r.row_index, r.resource_type, r.id, r.content_sha256, r.deleted,
    ROW_NUMBER() OVER (PARTITION BY r.resource_type, r.id ORDER BY r.seq, r.row_index) AS pass
FROM batch_resource AS r
WHERE r.raw_sha256 IN (SELECT sha256 FROM new_raw);

-- name: max_pass
SELECT COALESCE(MAX(pass), 0) FROM fresh;

-- name: upsert_head
-- A new resource gets version 1; a changed one the next version; an identical one nothing.
-- A delete of a resource never seen is ignored.
INSERT INTO resource_head (resource_type, id, version_id, content_sha256, deleted)
SELECT f.resource_type, f.id, 1, f.content_sha256, f.deleted
FROM fresh AS f
WHERE f.pass = $pass
    AND (NOT f.deleted OR EXISTS (
        SELECT 1 FROM resource_head AS h WHERE h.resource_type = f.resource_type AND h.id = f.id
    ))
ON CONFLICT (resource_type, id) DO UPDATE SET
    version_id = resource_head.version_id + 1,
    content_sha256 = excluded.content_sha256,
    deleted = excluded.deleted
WHERE resource_head.content_sha256 <> excluded.content_sha256
    OR resource_head.deleted <> excluded.deleted
RETURNING resource_type, id, version_id, deleted;

-- name: changed_rows
-- The batch rows that became versions in this pass, with their version number.
SELECT f.row_index, c.version_id
FROM fresh AS f
JOIN changed AS c ON c.resource_type = f.resource_type AND c.id = f.id
WHERE f.pass = $pass;

-- name: insert_versions
-- Version metadata; the JSON was written to the Parquet file $file before this statement.
INSERT INTO resource_version
    (resource_type, id, version_id, last_updated, deleted, content_sha256, raw_sha256, run_id,
     source, file)
SELECT
    r.resource_type, r.id, v.version_id, $now, r.deleted, r.content_sha256, r.raw_sha256, $run_id,
    r.source, CASE WHEN r.deleted THEN NULL ELSE $file END
FROM batch_resource AS r
JOIN version_rows AS v ON v.row_index = r.row_index;

-- name: insert_quarantine
INSERT INTO quarantine
    (quarantine_key, run_id, source, line_no, byte_offset, entry_index, resource_type,
     resource_id, reason, message, raw_sha256, quarantined_at)
SELECT
    quarantine_key, $run_id, source, line_no, byte_offset, entry_index, resource_type,
    resource_id, reason, message, raw_sha256, $now
FROM batch_quarantine
ON CONFLICT DO NOTHING;

-- name: identifiers_of_type
-- Identifiers of the current resources of one type, to resolve conditional references.
SELECT r.id, json_extract_string(t.i, '$.system') AS system, json_extract_string(t.i, '$.value') AS value
FROM resource AS r
CROSS JOIN UNNEST(CAST(json_extract(r.resource, '$.identifier') AS JSON[])) AS t (i)
WHERE r.resource_type = $resource_type;

-- name: record_dangling
-- After a run: references from this run's resources (gathered in the Parquet files $files) to
-- Type/id targets not in the warehouse.
INSERT INTO dangling_reference (run_id, resource_type, id, target_type, target_id)
SELECT DISTINCT $run_id, r.resource_type, r.id, r.target_type, r.target_id
FROM read_parquet($files) AS r
WHERE NOT EXISTS (
    SELECT 1 FROM resource_head AS h
    WHERE h.resource_type = r.target_type AND h.id = r.target_id AND NOT h.deleted
)
ON CONFLICT DO NOTHING
RETURNING target_id;

-- name: record_dangling_in_memory
-- The same, for a run small enough to keep its references in memory (registered run_reference).
INSERT INTO dangling_reference (run_id, resource_type, id, target_type, target_id)
SELECT DISTINCT $run_id, r.resource_type, r.id, r.target_type, r.target_id
FROM run_reference AS r
WHERE NOT EXISTS (
    SELECT 1 FROM resource_head AS h
    WHERE h.resource_type = r.target_type AND h.id = r.target_id AND NOT h.deleted
)
ON CONFLICT DO NOTHING
RETURNING target_id;
