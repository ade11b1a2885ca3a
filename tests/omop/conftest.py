"""Shared fixtures of the OMOP tests: an engine with the vocabulary shard loaded once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hygie.omop import create_cdm_tables, load_vocabulary
from hygie.omop.vocabulary import VOCABULARY_FILES
from hygie.warehouse.duckdb_engine import DuckDBEngine
from hygie.warehouse.engine import Engine

DATA = Path(__file__).resolve().parents[1] / "data"
VOCAB_DIR = DATA / "omop-vocab-synthea27nj"
GOLDEN_DIR = DATA / "omop-golden"
SYNTHEA_DIR = DATA / "synthea-small" / "generated-sample-data-r4"


@pytest.fixture(scope="session")
def vocab_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file with the CDM tables and the vocabulary shard, copied per test."""
    path = tmp_path_factory.mktemp("vocab") / "vocab.duckdb"
    engine = DuckDBEngine(path)
    create_cdm_tables(engine)
    load_vocabulary(engine, VOCAB_DIR)
    engine.close()
    return path


def copy_vocabulary(engine: Engine, vocab_db: Path) -> None:
    """Create the CDM tables in ``engine`` and copy the vocabulary tables of ``vocab_db``."""
    create_cdm_tables(engine)
    engine.execute("ATTACH ? AS vocab (READ_ONLY)", [str(vocab_db)])
    for table in VOCABULARY_FILES:
        engine.execute(f"DELETE FROM omop.{table}")
        engine.execute(f"INSERT INTO omop.{table} SELECT * FROM vocab.omop.{table}")
    engine.execute("DETACH vocab")


@pytest.fixture
def engine(vocab_db: Path, tmp_path: Path) -> Iterator[DuckDBEngine]:
    """A fresh warehouse with the vocabulary shard loaded."""
    path = tmp_path / "warehouse.duckdb"
    path.write_bytes(vocab_db.read_bytes())
    db = DuckDBEngine(path)
    yield db
    db.close()
