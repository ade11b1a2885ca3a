"""Golden cases: hand-built FHIR input, hand-written expected OMOP rows (tests/data/omop-golden).

A case may bring vocabulary rows of its own (``vocab/<table>.csv``, added to the shard), and an
expected cell written ``@Type/id`` stands for the OMOP id of that FHIR identity (row ids are
hashes: the cell names what they hash).
"""

from __future__ import annotations

import csv
import hashlib
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


def _omop_id(key: str) -> str:
    return str(int(hashlib.md5(key.encode()).hexdigest()[:15], 16))


def _expected_cell(cell: str) -> str:
    return _omop_id(cell[1:]) if cell.startswith("@") else cell


def _add_case_vocabulary(engine: DuckDBEngine, case: Path) -> None:
    for path in sorted((case / "vocab").glob("*.csv")) if (case / "vocab").is_dir() else []:
        engine.execute(
            f"INSERT INTO omop.{path.stem} BY NAME SELECT * FROM read_csv(?, header = true)",
            [str(path)],
        )


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_build_matches_expected_tables(engine: DuckDBEngine, case: Path) -> None:
    _add_case_vocabulary(engine, case)
    load_resources(engine, _read_input(case))
    build_omop(engine)
    expected_files = sorted((case / "expected").glob("*.csv"))
    assert expected_files
    for expected_file in expected_files:
        with expected_file.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            columns = next(reader)
            expected = sorted(tuple(_expected_cell(cell) for cell in row) for row in reader)
        select = ", ".join(f"coalesce(CAST({column} AS VARCHAR), '')" for column in columns)
        actual = sorted(
            tuple(row) for row in engine.fetchall(f"SELECT {select} FROM omop.{expected_file.stem}")
        )
        assert actual == expected, expected_file.name
