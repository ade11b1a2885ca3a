"""Golden cases: hand-built FHIR input, hand-written expected OMOP rows (tests/data/omop-golden)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from hygie.omop import build_omop
from hygie.warehouse.duckdb_engine import DuckDBEngine

from .bundles import load_resources
from .conftest import GOLDEN_DIR

CASES = sorted(path for path in GOLDEN_DIR.iterdir() if path.is_dir())


def _read_input(case: Path) -> list[dict[str, object]]:
    lines = (case / "input.ndjson").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_build_matches_expected_tables(engine: DuckDBEngine, case: Path) -> None:
    load_resources(engine, _read_input(case))
    build_omop(engine)
    for expected_file in sorted((case / "expected").glob("*.csv")):
        with expected_file.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            columns = next(reader)
            expected = sorted(tuple(row) for row in reader)
        select = ", ".join(f"coalesce(CAST({column} AS VARCHAR), '')" for column in columns)
        actual = sorted(
            tuple(row) for row in engine.fetchall(f"SELECT {select} FROM omop.{expected_file.stem}")
        )
        assert actual == expected, expected_file.name
