"""Large NDJSON inputs are parsed in a second process; what is stored must not depend on it.

The same files are ingested twice, once parsed in the ingesting process and once in the second
process (the size threshold lowered to 0 bytes), and the two warehouses are compared: run
counts, quarantine entries with their positions, stored resources, raw items and their bytes.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import pytest

from hygie.config import Settings
from hygie.errors import WarehouseError
from hygie.warehouse import plain_lines
from hygie.warehouse.ingest import ingest
from hygie.warehouse.warehouse import Warehouse

PARSE_PROCESS_DEFAULT = plain_lines.PARSE_PROCESS_BYTES

COMPARED = {
    "quarantine": "SELECT source, line_no, byte_offset, reason, message FROM quarantine",
    "resources": "SELECT resource_type, id, version_id, CAST(resource AS VARCHAR) FROM resource",
    "raw": "SELECT sha256, source, line_no, byte_offset, format, size_bytes, content FROM raw",
    "dangling": "SELECT resource_type, id, target_type, target_id FROM dangling_reference",
}


def make_inputs(directory: Path) -> list[str]:
    """Two NDJSON files (one gzipped and cut off) with good lines and every kind of other line."""
    directory.mkdir()
    lines = []
    for number in range(3000):
        lines.append(
            json.dumps(
                {"resourceType": "Patient", "id": f"p{number}", "gender": "female",
                 "managingOrganization": {"reference": f"Organization/o{number % 7}"}}
            ).encode()
        )  # fmt: skip
        if number % 500 == 0:
            lines += [
                b'{"resourceType": "Patient", "id": "cut", "name": [{"fam',
                '{"resourceType": "Patient", "id": "latin", "name": "Hérault"}'.encode("latin-1"),
                b'{"resourceType": "Observation", "id": "o1", "status": "final"}',
                b"",
                b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": '
                b'{"resourceType": "Organization", "id": "o1"}}]}',
                b'{"resourceType": "Patient", "id": "dup", "gender": "male"}',
                b'{"resourceType": "Patient", "id": "deep", "x": ' + b"[" * 3000 + b"]" * 3000
                + b"}",
            ]  # fmt: skip
    plain = directory / "a.ndjson"
    plain.write_bytes(b"\n".join(lines) + b"\n")
    whole = gzip.compress(b"\n".join(lines) + b"\n")
    cut = directory / "b.ndjson.gz"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    return [str(plain), str(cut)]


def snapshot(warehouse: Warehouse) -> dict[str, object]:
    with warehouse.reading() as engine:
        found: dict[str, object] = {
            name: sorted(engine.fetchall(sql), key=repr) for name, sql in COMPARED.items()
        }
        found["runs"] = engine.fetchall(
            "SELECT items_read, resources_read, created, updated, unchanged, quarantined, "
            "bytes_read FROM runs"
        )
    return found


def test_parsing_in_a_second_process_stores_exactly_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = make_inputs(tmp_path / "in")
    here = Warehouse(Settings(warehouse=tmp_path / "here", batch_size=700))
    ingest(here, inputs)
    monkeypatch.setattr(plain_lines, "PARSE_PROCESS_BYTES", 0)
    there = Warehouse(Settings(warehouse=tmp_path / "there", batch_size=700))
    summary = ingest(there, inputs).summary()

    assert summary["created"] > 3000  # the second file is cut off, so fewer than twice
    assert summary["quarantined_by_reason"]["truncated-gzip"] == 1
    with there.reading() as engine:
        deep = engine.fetchall(
            "SELECT q.reason, count(*) FROM quarantine AS q JOIN raw_input AS r "
            "ON q.raw_sha256 = r.sha256 WHERE r.size_bytes > 6000 GROUP BY q.reason"
        )
    assert deep == [
        ("invalid-json", 1)
    ]  # nested too deep (one line, repeated): quarantined, the run went on
    assert snapshot(here) == snapshot(there)


def test_a_parsing_process_that_dies_fails_the_run_with_the_file_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = make_inputs(tmp_path / "in")
    monkeypatch.setattr(plain_lines, "PARSE_PROCESS_BYTES", 0)
    # The second process is started with this interpreter: make it one that exits at once.
    monkeypatch.setattr(sys, "executable", "/bin/false")
    warehouse = Warehouse(Settings(warehouse=tmp_path / "warehouse"))
    with pytest.raises(WarehouseError, match=r"a\.ndjson: the parsing process stopped"):
        ingest(warehouse, inputs)
    with warehouse.reading() as engine:
        assert engine.fetchall("SELECT status FROM runs") == [("failed",)]
        assert engine.fetchall("SELECT count(*) FROM raw_input") == [(0,)]


@pytest.mark.parametrize("threshold", [PARSE_PROCESS_DEFAULT, 0])
def test_a_line_nested_too_deep_in_a_utf8_block_is_quarantined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threshold: int
) -> None:
    # All lines valid UTF-8: the block takes the fast check, which must hand the line over.
    monkeypatch.setattr(plain_lines, "PARSE_PROCESS_BYTES", threshold)
    deep = b'{"resourceType": "Patient", "id": "deep", "x": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    good = [b'{"resourceType": "Patient", "id": "p%d"}' % n for n in range(5)]
    path = tmp_path / "deep.ndjson"
    path.write_bytes(b"\n".join([*good[:2], deep, *good[2:]]) + b"\n")
    warehouse = Warehouse(Settings(warehouse=tmp_path / "w"))
    summary = ingest(warehouse, [str(path)]).summary()
    assert summary["created"] == 5
    assert summary["quarantined_by_reason"] == {"invalid-json": 1}
    with warehouse.reading() as engine:
        assert engine.fetchall("SELECT line_no FROM quarantine") == [(3,)]
