"""Run compiled views on an engine: as an Arrow table, or materialized as a table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from hygie.errors import QueryError
from hygie.fhir.views.compiler import CompiledView, compile_view, quote_identifier
from hygie.fhir.views.definition import COLUMN_NAME
from hygie.fhir.views.view_errors import ViewDefinitionError
from hygie.warehouse.engine import Engine

# Messages of the errors the generated SQL raises itself (see compiler and path_sql): they
# describe a view that does not fit the data, so they surface as ViewDefinitionError.
_VIEW_ERROR_MARKERS = (
    "returned several values",
    "is not a boolean expression",
    "data nested deeper than",
    "found several values",
)


def run_view(
    engine: Engine, view: Mapping[str, Any] | CompiledView, source: str = "resource"
) -> pa.Table:
    """Run a ViewDefinition over ``source`` and return its rows as an Arrow table.

    >>> from hygie.warehouse.duckdb_engine import DuckDBEngine
    >>> engine = DuckDBEngine(None)
    >>> engine.execute(
    ...     "CREATE TABLE resource AS SELECT 'Patient' AS resource_type, 'p1' AS id,"
    ...     " 1 AS version_id, now() AS last_updated,"
    ...     " CAST('{\\"resourceType\\": \\"Patient\\", \\"id\\": \\"p1\\"}' AS JSON) AS resource"
    ... )
    >>> view = {"resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}]}]}
    >>> run_view(engine, view).to_pylist()
    [{'id': 'p1'}]
    """
    compiled = view if isinstance(view, CompiledView) else compile_view(view, source)
    try:
        return engine.fetch_arrow(compiled.sql)
    except QueryError as error:
        raise _view_error(error, compiled) from error


def materialize_view(
    engine: Engine,
    view: Mapping[str, Any] | CompiledView,
    name: str,
    source: str = "resource",
) -> CompiledView:
    """Create (or replace) the table ``name`` holding the rows of the view; returns the view."""
    if not COLUMN_NAME.match(name):
        raise ViewDefinitionError(
            f"table name {name!r} must match {COLUMN_NAME.pattern} (letters, digits, _)"
        )
    compiled = view if isinstance(view, CompiledView) else compile_view(view, source)
    try:
        engine.execute(f"CREATE OR REPLACE TABLE {quote_identifier(name)} AS\n{compiled.sql}")
    except QueryError as error:
        raise _view_error(error, compiled) from error
    return compiled


def _view_error(error: QueryError, compiled: CompiledView) -> Exception:
    message = str(error)
    if any(marker in message for marker in _VIEW_ERROR_MARKERS):
        detail = message.split("Error: ", 1)[-1]
        return ViewDefinitionError(f"view on {compiled.resource}: {detail}")
    return error
