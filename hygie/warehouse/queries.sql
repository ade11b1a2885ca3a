-- Queries of the warehouse catalogs used by the `hygie` command and the ingestion run.

-- name: resources_by_type
SELECT resource_type, COUNT(*) AS resources
FROM resource
GROUP BY resource_type
ORDER BY resources DESC, resource_type;

-- name: list_runs
SELECT run_id, command, status, strftime(started_at, '%Y-%m-%d %H:%M:%S') AS started,
    created, updated, unchanged, quarantined
FROM runs
ORDER BY started_at DESC
LIMIT $limit;

-- name: list_quarantine
SELECT run_id, source, line_no, entry_index, reason, message
FROM quarantine
WHERE ($run_id IS NULL OR run_id = $run_id) AND ($reason IS NULL OR reason = $reason)
ORDER BY quarantined_at DESC, source, line_no, entry_index
LIMIT $limit;

-- name: mark_interrupted
-- Only one writer runs at a time: a run still 'running' when a writer starts was cut off.
UPDATE runs SET status = 'interrupted' WHERE status = 'running';

-- name: start_run
INSERT INTO runs (run_id, command, started_at, status, inputs)
VALUES ($run_id, $command, $now, 'running', $inputs);

-- name: add_run_counts
UPDATE runs SET
    items_read = items_read + $items_read,
    resources_read = resources_read + $resources_read,
    created = created + $created,
    updated = updated + $updated,
    deleted = deleted + $deleted,
    unchanged = unchanged + $unchanged,
    quarantined = quarantined + $quarantined,
    bytes_read = bytes_read + $bytes_read
WHERE run_id = $run_id;

-- name: finish_run
UPDATE runs SET status = $status, finished_at = $now, seconds = $seconds, report = $report
WHERE run_id = $run_id;
