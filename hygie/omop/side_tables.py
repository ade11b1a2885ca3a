"""Hygie's side tables next to the CDM: lineage, build state, and the mapping data files."""

from __future__ import annotations

from pathlib import Path

from hygie.omop.sql_files import read_statements
from hygie.warehouse.engine import Engine

PACKAGE_DIR = Path(__file__).parent
VOCABULARY_SYSTEMS_FILE = PACKAGE_DIR / "vocabulary_systems.csv"
CONCEPT_MAPS_FILE = PACKAGE_DIR / "concept_maps.csv"


def create_side_tables(engine: Engine) -> None:
    """Create the ``omop.hygie_*`` tables and (re)load the packaged mapping data files."""
    for statement in read_statements(PACKAGE_DIR / "sql" / "side_tables.sql"):
        engine.execute(statement)
    load_mapping_files(engine)


def load_mapping_files(engine: Engine) -> None:
    """Replace ``omop.hygie_vocabulary_system`` and ``omop.hygie_concept_map`` by the data files."""
    for table, path in (
        ("omop.hygie_vocabulary_system", VOCABULARY_SYSTEMS_FILE),
        ("omop.hygie_concept_map", CONCEPT_MAPS_FILE),
    ):
        engine.execute(f"DELETE FROM {table}")
        engine.execute(
            f"INSERT INTO {table} BY NAME "
            "SELECT * FROM read_csv(?, header = true, delim = ',', quote = '\"', all_varchar = true)",
            [str(path)],
        )
