"""Shared helpers of the connector tests: the test material and warehouse checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hygie.fhir.references import LITERAL_REFERENCE, iter_reference_holders
from hygie.fhir.validation import check_resource
from hygie.sources.base import Source
from hygie.warehouse.ingest import IngestReport, Stream, ingest_streams
from hygie.warehouse.warehouse import Warehouse

DATA = Path(__file__).parent.parent / "data"
HL7V2 = DATA / "hl7v2"
CDA = DATA / "cda"
CONNECTORS = DATA / "connectors"
CSV = DATA / "csv"
MAPPINGS = Path(__file__).parent.parent.parent / "hygie" / "sources" / "mappings"


def ingest_with(warehouse: Warehouse, source: Source, paths: list[Path]) -> IngestReport:
    """One ingestion run of ``paths`` read by an explicit source object (e.g. a CSV mapping)."""
    with warehouse.writing() as engine:
        streams: list[Stream] = [(str(path), source, source.read(path)) for path in paths]
        return ingest_streams(warehouse, engine, streams)


def stored_resources(warehouse: Warehouse) -> list[dict[str, Any]]:
    """Every current resource of the warehouse, parsed."""
    with warehouse.reading() as engine:
        rows = engine.fetchall("SELECT resource FROM resource ORDER BY resource_type, id")
    return [json.loads(row[0]) for row in rows]


def assert_valid_and_linked(warehouse: Warehouse) -> list[dict[str, Any]]:
    """Each stored resource passes check_resource and each literal reference resolves."""
    resources = stored_resources(warehouse)
    present = {(r["resourceType"], r["id"]) for r in resources}
    for resource in resources:
        assert check_resource(resource) is None, resource["id"]
        for holder in iter_reference_holders(resource):
            if holder["reference"].startswith("#"):
                contained = {c.get("id") for c in resource.get("contained", [])}
                assert holder["reference"][1:] in contained, holder["reference"]
                continue
            match = LITERAL_REFERENCE.fullmatch(holder["reference"])
            assert match is not None, holder["reference"]
            assert (match["type"], match["id"]) in present, holder["reference"]
    with warehouse.reading() as engine:
        assert engine.fetchall("SELECT COUNT(*) FROM dangling_reference")[0][0] == 0
    return resources


def matches_expected(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    """Each element named in the expected (hand-checked) resource is exactly the actual one."""
    for key, value in expected.items():
        assert actual.get(key) == value, f"{expected['resourceType']}/{expected.get('id')}: {key}"
