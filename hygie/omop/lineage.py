"""``trace``: from an OMOP row back to the FHIR resource it was built from."""

from __future__ import annotations

from typing import Any

import orjson

from hygie.errors import InputError
from hygie.omop.build import _RELATION_NAME
from hygie.warehouse.engine import Engine

TRACE_SQL = """
SELECT l.resource_type, l.resource_id, l.version_id, CAST(r.resource AS VARCHAR)
FROM omop.hygie_lineage AS l
LEFT JOIN {source} AS r ON r.resource_type = l.resource_type AND r.id = l.resource_id
WHERE l.table_name = ? AND l.row_id = ?
"""


def trace(engine: Engine, table: str, row_id: int, source: str = "resource") -> dict[str, Any]:
    """The FHIR resource behind OMOP row ``row_id`` of ``table``.

    Returns ``{"table", "row_id", "resource_type", "resource_id", "version_id", "resource"}``;
    ``resource`` is the current JSON in ``source`` (None when it is no longer there, and
    ``current_version_id`` says which version ``source`` holds now).
    """
    if not _RELATION_NAME.match(source):
        raise InputError(f"{source!r} is not a relation name")
    rows = engine.fetchall(TRACE_SQL.format(source=source), [table, row_id])
    if not rows:
        raise InputError(
            f"no lineage for {table} row {row_id}; check the table name and id, "
            "or run `hygie omop build` first"
        )
    resource_type, resource_id, version_id, resource = rows[0]
    document = orjson.loads(resource) if resource is not None else None
    return {
        "table": table,
        "row_id": row_id,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "version_id": version_id,
        "resource": document,
    }
