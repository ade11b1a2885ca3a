"""The SQL on FHIR v2 conformance suite as data: its cases, and how one case is judged.

Shared by ``test_sql_on_fhir.py`` and ``report.py``.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from hygie.fhir.views import ViewDefinitionError, compile_view, run_view
from hygie.warehouse.duckdb_engine import DuckDBEngine

SUITE = Path(__file__).resolve().parents[1] / "data" / "sql-on-fhir-v2" / "tests"

# Cases that cannot pass, with the reason (none today).
XFAIL: dict[str, str] = {}


@dataclass(frozen=True)
class Case:
    """One test of the suite: its file, title, view, input resources and expectation."""

    file: str
    title: str
    view: dict[str, Any]
    resources: list[dict[str, Any]]
    test: dict[str, Any]

    @property
    def case_id(self) -> str:
        """``file::title``, the pytest id."""
        return f"{self.file}::{self.title}"


def load_cases() -> list[Case]:
    """Every case of every suite file, in file order."""
    cases: list[Case] = []
    for path in sorted(SUITE.glob("*.json")):
        suite = json.loads(path.read_text(encoding="utf-8"))
        for test in suite["tests"]:
            cases.append(Case(path.stem, test["title"], test["view"], suite["resources"], test))
    return cases


def load_resources(engine: DuckDBEngine, resources: list[dict[str, Any]]) -> None:
    """Create the ``resource`` relation of the care zone from FHIR resources."""
    table = pa.table(
        {
            "resource_type": [r.get("resourceType") for r in resources],
            "id": [r.get("id") for r in resources],
            "resource": [json.dumps(r) for r in resources],
        }
    )
    engine.register_arrow("suite_input", table)
    engine.execute(
        "CREATE OR REPLACE TABLE resource AS SELECT resource_type, id, 1 AS version_id,"
        " TIMESTAMPTZ '2024-01-01 00:00:00+00' AS last_updated,"
        " CAST(resource AS JSON) AS resource FROM suite_input"
    )
    engine.unregister("suite_input")


def _normalize(value: Any) -> Any:
    if isinstance(value, float) and not math.isnan(value) and value == int(value):
        return int(value)
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    return value


def _row_key(row: dict[str, Any]) -> str:
    return json.dumps({k: _normalize(v) for k, v in sorted(row.items())}, sort_keys=True)


def run_case(case: Case) -> None:
    """Run one case; raises AssertionError (with a diff) when the result is not the expected."""
    engine = DuckDBEngine(None)
    try:
        load_resources(engine, case.resources)
        if case.test.get("expectError"):
            try:
                run_view(engine, case.view)
            except ViewDefinitionError:
                return
            raise AssertionError("expected a ViewDefinitionError, the view ran")
        table = run_view(engine, case.view)
        if "expectColumns" in case.test:
            assert table.column_names == case.test["expectColumns"], table.column_names
            return
        expected = case.test["expect"]
        actual = table.to_pylist()
        if expected:
            assert table.column_names == list(expected[0]) or set(table.column_names) == set(
                expected[0]
            ), f"columns {table.column_names} != {list(expected[0])}"
        got = Counter(_row_key(r) for r in actual)
        want = Counter(_row_key(r) for r in expected)
        assert got == want, f"missing {want - got}, unexpected {got - want}"
    finally:
        engine.close()


def compiled_sql(case: Case) -> str | None:
    """The SQL of a case's view, or None for views the suite expects to be rejected."""
    try:
        return compile_view(case.view).sql
    except ViewDefinitionError:
        if case.test.get("expectError"):
            return None
        raise
