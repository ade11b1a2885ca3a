-- Views made on every connection to the warehouse (temporary: they name absolute file paths).
-- resource_content (over the care/ Parquet files) is made just before, by
-- hygie/warehouse/warehouse.py, because its file list depends on where the warehouse is.

-- name: create_resource_view
-- Current, not deleted resources: what queries, views and the OMOP build read.
-- Only rows of files named by committed versions count (a file left by a crash is ignored).
-- The JSON is typed in the Parquet files, so it is not parsed again here.
CREATE OR REPLACE TEMPORARY VIEW resource AS
SELECT h.resource_type, h.id, h.version_id, v.last_updated, v.run_id, v.source, c.resource
FROM resource_head AS h
JOIN resource_version AS v
    ON v.resource_type = h.resource_type AND v.id = h.id AND v.version_id = h.version_id
JOIN resource_content AS c
    ON c.file = v.file AND c.resource_type = v.resource_type AND c.id = v.id
    AND c.version_id = v.version_id
WHERE NOT h.deleted;

-- name: create_resource_history
-- Every version, with its JSON (NULL for deletes).
CREATE OR REPLACE TEMPORARY VIEW resource_history AS
SELECT v.resource_type, v.id, v.version_id, v.last_updated, v.deleted, v.run_id, v.source,
    c.resource
FROM resource_version AS v
LEFT JOIN resource_content AS c
    ON c.file = v.file AND c.resource_type = v.resource_type AND c.id = v.id
    AND c.version_id = v.version_id;

-- name: create_raw_view
-- Every raw item with its bytes as received: in a raw file, or, for an item that is exactly one
-- resource's JSON (an NDJSON line), in the care file holding that resource (stored once).
-- The hash is shown in hex, as sha256sum prints it.
CREATE OR REPLACE TEMPORARY VIEW raw AS
SELECT
    lower(hex(r.sha256)) AS sha256, r.source, r.line_no, r.byte_offset, r.format, r.size_bytes,
    r.received_at, r.run_id, r.file, b.content
FROM raw_input AS r
JOIN raw_bytes AS b ON b.file = r.file AND b.sha256 = r.sha256
UNION ALL
SELECT
    lower(hex(r.sha256)) AS sha256, r.source, r.line_no, r.byte_offset, r.format, r.size_bytes,
    r.received_at, r.run_id, r.file, encode(CAST(c.resource AS VARCHAR)) AS content
FROM raw_input AS r
JOIN resource_content AS c ON c.file = r.file AND c.raw_sha256 = r.sha256;
