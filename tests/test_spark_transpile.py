"""Every SQL statement Hygie ships transpiles to Spark SQL, so the Spark engine stays possible."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot

import hygie
from hygie.config import Settings
from hygie.warehouse.engine import transpile
from hygie.warehouse.warehouse import Warehouse

PACKAGE = Path(hygie.__file__).parent
SQL_FILES = sorted(PACKAGE.rglob("*.sql"))


def statements_of(path: Path) -> list[str]:
    """The statements of a .sql file, as sqlglot splits them (comments kept with them)."""
    return [s.sql(dialect="duckdb") for s in sqlglot.parse(path.read_text(), read="duckdb") if s]


def test_the_package_ships_sql_files() -> None:
    names = {p.relative_to(PACKAGE).as_posix() for p in SQL_FILES}
    assert {"warehouse/schema.sql", "warehouse/ingest.sql", "warehouse/views.sql"} <= names
    assert any(name.startswith("omop/") for name in names)


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_every_statement_of_the_file_transpiles_to_spark(path: Path) -> None:
    statements = statements_of(path)
    assert statements, f"{path} holds no statement"
    for statement in statements:
        translated = transpile(statement, "spark")
        assert translated and all(translated)


@pytest.mark.parametrize("with_files", [False, True])
def test_the_views_made_at_open_transpile_to_spark(tmp_path: Path, with_files: bool) -> None:
    warehouse = Warehouse(Settings(warehouse=tmp_path))
    if with_files:
        for directory in ("care", "raw"):
            (tmp_path / directory / "run").mkdir(parents=True)
            (tmp_path / directory / "run" / "000001.parquet").write_bytes(b"")
    for statement in warehouse.view_statements():
        assert transpile(statement, "spark")


def test_a_construct_without_spark_equivalent_is_refused() -> None:
    # The check can fail: DuckDB's read_parquet options have no Spark translation.
    with pytest.raises(sqlglot.errors.SqlglotError):
        transpile("SELECT * FROM read_parquet('x/*.parquet', filename = true)", "spark")
