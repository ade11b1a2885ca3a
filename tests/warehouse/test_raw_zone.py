"""The raw zone gives back every input item byte for byte, wherever its bytes are kept.

An NDJSON line that is exactly one resource is stored once, in the care file of its version;
other items (bundles, lines that are rewritten or rejected) keep their bytes in raw files. The
``raw`` view joins both, so what a user reads back must hash to the item's key in every case.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson

from hygie.warehouse.ingest import ingest
from hygie.warehouse.warehouse import Warehouse


def raw_rows(warehouse: Warehouse) -> list[tuple[str, bytes, str]]:
    with warehouse.reading() as engine:
        rows = engine.fetchall("SELECT sha256, content, file FROM raw ORDER BY line_no, file")
        catalog = engine.fetchall("SELECT count(*) FROM raw_input")[0][0]
    assert len(rows) == catalog, "every catalog row has its bytes, exactly once"
    return [(sha, bytes(content), file) for sha, content, file in rows]


def test_every_raw_item_reads_back_as_received(warehouse: Warehouse, tmp_path: Path) -> None:
    lines = [
        b'{"resourceType":"Patient","id":"p1","gender":"female","name":[{"family":"\\u00c9l\\\\x41"}]}',
        '{"resourceType": "Patient", "id": "p2", "name": [{"family": "Lefèvre"}]}'.encode(),
        b'{"resourceType":"Observation","id":"o1"}',  # rejected: no status, no code
        b'{"resourceType":"Patient","id":"p3","link":[{"other":{"reference":"urn:uuid:x"}}]}',
        b"not json",
    ]
    path = tmp_path / "mixed.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    ingest(warehouse, [str(path)])

    rows = raw_rows(warehouse)
    assert sorted(content for _sha, content, _file in rows) == sorted(lines)
    for sha, content, _file in rows:
        assert hashlib.sha256(content).hexdigest() == sha
    in_care = {content for _sha, content, file in rows if file.startswith("care/")}
    # The two plain resources are stored once, in the care file; the others in a raw file.
    assert in_care == {lines[0], lines[1]}


def test_a_line_identical_to_the_current_version_keeps_its_bytes_in_a_raw_file(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    patient = {"resourceType": "Patient", "id": "p1", "gender": "male"}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": patient}]}
    (tmp_path / "bundle.json").write_bytes(orjson.dumps(bundle))
    ingest(warehouse, [str(tmp_path / "bundle.json")])
    # The same resource, byte for byte as the care zone holds it, now as an NDJSON line: the
    # resource is unchanged (no new care row), yet the new raw item must keep its bytes.
    line = orjson.dumps(patient)
    (tmp_path / "same.ndjson").write_bytes(line + b"\n")
    summary = ingest(warehouse, [str(tmp_path / "same.ndjson")]).summary()

    assert summary["unchanged"] == 1
    rows = raw_rows(warehouse)
    assert len(rows) == 2
    stored = [r for r in rows if r[1] == line]
    assert len(stored) == 1 and stored[0][2].startswith("raw/")
    assert stored[0][0] == hashlib.sha256(line).hexdigest()


def test_a_resource_changed_and_changed_back_in_one_file_reads_back_once(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    a = b'{"resourceType":"Patient","id":"p1","gender":"female"}'
    b = b'{"resourceType":"Patient","id":"p1","gender":"other"}'
    path = tmp_path / "flip.ndjson"
    path.write_bytes(b"\n".join([a, b, a]) + b"\n")
    summary = ingest(warehouse, [str(path)]).summary()

    assert (summary["created"], summary["updated"]) == (1, 2)
    rows = raw_rows(warehouse)
    assert sorted(content for _sha, content, _file in rows) == sorted([a, b])
    with warehouse.reading() as engine:
        versions = engine.fetchall("SELECT count(*) FROM resource_history WHERE id = 'p1'")
    assert versions == [(3,)]
