"""Test helper: put FHIR resources into an in-memory ``resource`` relation like the care zone's.

Transaction bundles reference their entries by ``urn:uuid:``; they are rewritten to ``Type/id``
from the bundle's fullUrls, as ingestion does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa

from hygie.warehouse.engine import Engine

RESOURCE_SCHEMA = pa.schema(
    [
        ("resource_type", pa.string()),
        ("id", pa.string()),
        ("version_id", pa.int32()),
        ("last_updated", pa.timestamp("us", tz="UTC")),
        ("resource", pa.string()),
    ]
)


def _rewrite(value: Any, refs: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {
            key: refs.get(item, item)
            if key == "reference" and isinstance(item, str)
            else _rewrite(item, refs)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_rewrite(item, refs) for item in value]
    return value


def bundle_resources(path: Path) -> list[dict[str, Any]]:
    """The resources of one transaction bundle, references rewritten to ``Type/id``."""
    bundle = json.loads(path.read_text(encoding="utf-8"))
    entries = bundle.get("entry", [])
    refs = {
        entry["fullUrl"]: f"{entry['resource']['resourceType']}/{entry['resource']['id']}"
        for entry in entries
        if "fullUrl" in entry
    }
    return [_rewrite(entry["resource"], refs) for entry in entries]


def load_resources(
    engine: Engine,
    resources: Iterable[dict[str, Any]],
    version_id: int = 1,
    table: str = "resource",
) -> int:
    """Insert resources into ``table`` (created if needed), replacing same type and id."""
    # One current version per resource, as in the care zone (bundles may repeat shared ones).
    rows = list({(row["resourceType"], row["id"]): row for row in resources}.values())
    engine.execute(
        f"CREATE TABLE IF NOT EXISTS {table} (resource_type VARCHAR, id VARCHAR, "
        "version_id INTEGER, last_updated TIMESTAMPTZ, resource JSON)"
    )
    arrow = pa.table(
        {
            "resource_type": [row["resourceType"] for row in rows],
            "id": [row["id"] for row in rows],
            "version_id": [int(row.get("meta", {}).get("versionId", version_id)) for row in rows],
            "last_updated": [None for _ in rows],
            "resource": [json.dumps(row) for row in rows],
        },
        schema=RESOURCE_SCHEMA,
    )
    engine.register_arrow("incoming_resources", arrow)
    engine.execute(
        f"DELETE FROM {table} WHERE (resource_type, id) IN "
        "(SELECT (resource_type, id) FROM incoming_resources)"
    )
    engine.execute(
        f"INSERT INTO {table} SELECT resource_type, id, version_id, last_updated, "
        "CAST(resource AS JSON) FROM incoming_resources"
    )
    engine.unregister("incoming_resources")
    return len(rows)
