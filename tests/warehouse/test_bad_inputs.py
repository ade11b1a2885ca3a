"""Bad inputs go to quarantine with a reason and a position; the good items beside them are kept."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from hygie.warehouse.ingest import ingest
from hygie.warehouse.warehouse import Warehouse

GOOD_BEFORE = {"resourceType": "Patient", "id": "good-before", "gender": "female"}
GOOD_AFTER = {"resourceType": "Observation", "id": "good-after", "status": "final",
              "code": {"text": "weight"}, "subject": {"reference": "Patient/good-before"}}  # fmt: skip


def line(resource: dict[str, object]) -> bytes:
    return json.dumps(resource).encode()


def ndjson_around(bad: bytes) -> bytes:
    """A three-line NDJSON file: a good line, the bad one (line 2), a good line."""
    return line(GOOD_BEFORE) + b"\n" + bad + b"\n" + line(GOOD_AFTER) + b"\n"


BAD_LINES = {
    "truncated line": (
        b'{"resourceType": "Patient", "id": "cut", "name": [{"fam',
        "truncated-json",
    ),
    "invalid JSON": (b'{"resourceType": "Patient", "id": "x",, "gender": "male"}', "invalid-json"),
    "Latin-1 bytes": (
        '{"resourceType": "Patient", "id": "latin", "name": [{"family": "Hérault"}]}'.encode(
            "latin-1"
        ),
        "invalid-encoding",
    ),
    "unknown resourceType": (b'{"resourceType": "Patient2", "id": "u1"}', "unknown-resource-type"),
    "invalid id": (b'{"resourceType": "Patient", "id": "has space"}', "invalid-id"),
    "missing resourceType": (b'{"id": "no-type", "gender": "male"}', "missing-resource-type"),
    "missing required element": (
        b'{"resourceType": "Observation", "id": "o1", "status": "final"}',
        "missing-required-element",
    ),
    "not an object": (b'["Patient", "p1"]', "not-an-object"),
}


def stored_ids(warehouse: Warehouse) -> set[str]:
    with warehouse.reading() as engine:
        return {row[0] for row in engine.fetchall("SELECT id FROM resource")}


def quarantined(warehouse: Warehouse) -> list[tuple[object, ...]]:
    with warehouse.reading() as engine:
        return engine.fetchall(
            "SELECT source, line_no, byte_offset, entry_index, reason, message FROM quarantine"
        )


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_a_bad_line_is_quarantined_with_its_reason_and_the_rest_is_stored(
    case: str, warehouse: Warehouse, tmp_path: Path
) -> None:
    bad, reason = BAD_LINES[case]
    path = tmp_path / "input.ndjson"
    path.write_bytes(ndjson_around(bad))

    summary = ingest(warehouse, [str(path)]).summary()

    assert summary["status"] == "completed"
    assert summary["quarantined_by_reason"] == {reason: 1}
    assert stored_ids(warehouse) == {"good-before", "good-after"}
    [(source, line_no, offset, entry, found_reason, message)] = quarantined(warehouse)
    assert (source, line_no, found_reason) == (str(path), 2, reason)
    assert offset == len(line(GOOD_BEFORE)) + 1
    assert entry is None
    assert message  # a human explanation, shown by `hygie quarantine`
    with warehouse.reading() as engine:
        kept = engine.fetchall("SELECT content FROM raw WHERE line_no = 2")
    assert kept == [(bad,)]  # the raw zone keeps the rejected bytes as received


def test_an_empty_file_is_reported(warehouse: Warehouse, tmp_path: Path) -> None:
    empty = tmp_path / "empty.ndjson"
    empty.write_bytes(b"")
    good = tmp_path / "good.ndjson"
    good.write_bytes(line(GOOD_BEFORE) + b"\n")

    summary = ingest(warehouse, [str(empty), str(good)]).summary()

    assert summary["quarantined_by_reason"] == {"empty-file": 1}
    assert stored_ids(warehouse) == {"good-before"}
    [(source, *_rest, reason, _message)] = quarantined(warehouse)
    assert (source, reason) == (str(empty), "empty-file")


def test_a_cut_off_gzip_keeps_the_lines_before_the_cut(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    lines = [line({"resourceType": "Patient", "id": f"p{i}"}) for i in range(2000)]
    whole = gzip.compress(b"\n".join(lines) + b"\n")
    path = tmp_path / "cut.ndjson.gz"
    path.write_bytes(whole[: len(whole) // 2])

    summary = ingest(warehouse, [str(path)]).summary()

    reasons = summary["quarantined_by_reason"]
    assert reasons.get("truncated-gzip") == 1
    assert set(reasons) <= {"truncated-gzip", "truncated-json"}  # the last partial line, if any
    ids = stored_ids(warehouse)
    assert len(ids) > 100
    assert ids == {f"p{i}" for i in range(len(ids))}  # a prefix of the file, nothing invented


def test_a_bundle_entry_pointing_to_a_missing_fullurl_is_quarantined(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:11111111-1111-1111-1111-111111111111",
                "resource": {"resourceType": "Patient", "gender": "male"},
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "fullUrl": "urn:uuid:22222222-2222-2222-2222-222222222222",
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "pulse"},
                    "subject": {"reference": "urn:uuid:11111111-1111-1111-1111-111111111111"},
                },
                "request": {"method": "POST", "url": "Observation"},
            },
            {
                "fullUrl": "urn:uuid:33333333-3333-3333-3333-333333333333",
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "pulse"},
                    "subject": {"reference": "urn:uuid:99999999-9999-9999-9999-999999999999"},
                },
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    }
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))

    summary = ingest(warehouse, [str(path)]).summary()

    assert summary["quarantined_by_reason"] == {"unresolved-reference": 1}
    assert stored_ids(warehouse) == {
        "11111111-1111-1111-1111-111111111111",
        "22222222-2222-2222-2222-222222222222",
    }
    [(_source, _line, _offset, entry, _reason, message)] = quarantined(warehouse)
    assert entry == 2
    assert "urn:uuid:99999999-9999-9999-9999-999999999999" in message
    with warehouse.reading() as engine:
        [(subject,)] = engine.fetchall(
            "SELECT json_extract_string(resource, '$.subject.reference') FROM resource "
            "WHERE resource_type = 'Observation'"
        )
    assert subject == "Patient/11111111-1111-1111-1111-111111111111"


def test_a_json_file_that_is_not_json_is_quarantined(warehouse: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_bytes(b'{"resourceType": "Bundle", "type": "collection", "entry": [')
    good = tmp_path / "good.json"
    good.write_text(json.dumps(GOOD_BEFORE))

    summary = ingest(warehouse, [str(path), str(good)]).summary()

    assert summary["quarantined_by_reason"] == {"truncated-json": 1}
    assert stored_ids(warehouse) == {"good-before"}


def test_reingesting_a_bad_file_adds_no_quarantine_rows(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    path = tmp_path / "input.ndjson"
    path.write_bytes(ndjson_around(b"{not json"))
    ingest(warehouse, [str(path)])
    again = ingest(warehouse, [str(path)]).summary()
    assert again["quarantined"] == 1  # still reported for this run
    assert len(quarantined(warehouse)) == 1  # but recorded once


def test_references_to_absent_resources_are_recorded_not_hidden(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    path = tmp_path / "observations.ndjson"
    path.write_bytes(
        line(GOOD_BEFORE)
        + b"\n"
        + line({**GOOD_AFTER, "id": "o1"})
        + b"\n"
        + line({**GOOD_AFTER, "id": "o2", "subject": {"reference": "Patient/absent"}})
        + b"\n"
    )
    summary = ingest(warehouse, [str(path)]).summary()
    assert summary["quarantined"] == 0  # kept as received: the target may arrive later
    assert summary["dangling_references"] == 1
    with warehouse.reading() as engine:
        rows = engine.fetchall(
            "SELECT resource_type, id, target_type, target_id FROM dangling_reference"
        )
    assert rows == [("Observation", "o2", "Patient", "absent")]
