"""The public Synthea sample ingests whole, with every reference resolved, and only once."""

from __future__ import annotations

import json
import re

from hygie.warehouse.ingest import ingest
from hygie.warehouse.warehouse import Warehouse
from tests.conftest import SYNTHEA


def expected_from_files() -> tuple[int, set[tuple[str, str]]]:
    """Entries in the sample bundles and the distinct resources they name, read without Hygie."""
    entries = 0
    identities: set[tuple[str, str]] = set()
    for path in sorted(SYNTHEA.rglob("*.json")):
        for entry in json.loads(path.read_text())["entry"]:
            resource = entry["resource"]
            entries += 1
            identities.add((resource["resourceType"], resource["id"]))
    return entries, identities


def table_counts(warehouse: Warehouse) -> dict[str, int]:
    with warehouse.reading() as engine:
        return {
            name: engine.fetchall(f"SELECT COUNT(*) FROM {name}")[0][0]
            for name in ("raw_input", "resource_version", "resource_head", "resource", "quarantine")
        }


def test_synthea_sample_ingests_completely_and_resolves_every_reference(
    warehouse: Warehouse,
) -> None:
    entries, identities = expected_from_files()
    assert entries == 9267  # 20 + 3 patients, plus the 2 batch bundles of shared resources

    report = ingest(warehouse, [str(SYNTHEA)])
    summary = report.summary()

    assert summary["status"] == "completed"
    assert summary["quarantined"] == 0
    assert summary["resources_read"] == entries
    assert summary["dangling_references"] == 0
    with warehouse.reading() as engine:
        stored = set(engine.fetchall("SELECT resource_type, id FROM resource"))
        references = engine.fetchall(
            "SELECT id, regexp_extract_all(CAST(resource AS VARCHAR), "
            '\'"reference":"[^"]*"\') AS refs FROM resource'
        )
    assert stored == identities
    unresolved = [
        (resource_id, ref)
        for resource_id, refs in references
        for ref in refs
        if "urn:uuid:" in ref or "?" in ref
    ]
    assert unresolved == []
    assert sum(len(refs) for _, refs in references) > 9000  # references were there to resolve
    # Shared Organizations/Practitioners repeat across bundles: the first is created, a changed
    # copy is a new version, an identical copy is unchanged.
    assert summary["created"] == len(identities)
    assert summary["created"] + summary["updated"] + summary["unchanged"] == entries


def test_conditional_references_point_to_the_resources_of_the_batch_bundles(
    warehouse: Warehouse,
) -> None:
    ingest(warehouse, [str(SYNTHEA / "fhir-data-pipes-synthea-hiv")])
    with warehouse.reading() as engine:
        rows = engine.fetchall(
            "SELECT json_extract_string(resource, '$.serviceProvider.reference') FROM resource "
            "WHERE resource_type = 'Encounter'"
        )
        organizations = {r[0] for r in engine.fetchall(
            "SELECT id FROM resource WHERE resource_type = 'Organization'"
        )}  # fmt: skip
    assert rows
    for (reference,) in rows:
        match = re.fullmatch(r"Organization/(.+)", reference)
        assert match is not None, reference
        assert match[1] in organizations


def test_ingesting_the_same_input_again_adds_nothing(warehouse: Warehouse) -> None:
    entries, _ = expected_from_files()
    ingest(warehouse, [str(SYNTHEA)])
    before = table_counts(warehouse)

    again = ingest(warehouse, [str(SYNTHEA)]).summary()

    assert again["unchanged"] == entries
    assert again["created"] == again["updated"] == again["quarantined"] == 0
    assert table_counts(warehouse) == before


def test_raw_zone_keeps_each_input_as_received(warehouse: Warehouse) -> None:
    path = next((SYNTHEA / "generated-sample-data-r4").glob("*.json"))
    ingest(warehouse, [str(path)])
    with warehouse.reading() as engine:
        rows = engine.fetchall("SELECT source, line_no, byte_offset, size_bytes, content FROM raw")
    assert len(rows) == 1
    source, line_no, offset, size, content = rows[0]
    assert source == str(path)
    assert (line_no, offset) == (1, 0)
    assert content == path.read_bytes()
    assert size == path.stat().st_size
