"""Every shipped OMOP SQL statement transpiles to Spark; ids follow the documented formula."""

from __future__ import annotations

import hashlib

from hygie.omop.sql_files import SQL_DIR, read_statements
from hygie.warehouse.duckdb_engine import DuckDBEngine
from hygie.warehouse.engine import transpile


def test_every_statement_transpiles_to_spark() -> None:
    files = sorted(SQL_DIR.rglob("*.sql"))
    assert len(files) > 20
    for path in files:
        for statement in read_statements(path):
            assert transpile(statement, "spark"), path.name


def test_omop_id_is_the_first_60_bits_of_md5() -> None:
    engine = DuckDBEngine(None)
    for statement in read_statements(SQL_DIR / "build" / "00_functions.sql"):
        engine.execute(statement)
    key = "Observation/abc/component/1"
    expected = int(hashlib.md5(key.encode()).hexdigest()[:15], 16)
    assert engine.fetchall("SELECT omop_id(?)", [key]) == [(expected,)]
