-- Statements of the MLLP listener (hygie/sources/hl7v2/mllp.py).

-- name: received_messages
-- Messages already received over MLLP (raw source `mllp:APP^FACILITY:CONTROL_ID`) and whether
-- they went to quarantine, so that a message sent again is acknowledged, not ingested twice.
SELECT r.source, COUNT(q.raw_sha256) > 0 AS rejected
FROM raw_input AS r
LEFT JOIN quarantine AS q ON q.raw_sha256 = r.sha256
WHERE r.format = 'hl7v2' AND r.source LIKE 'mllp:%'
GROUP BY r.source;
