"""Vocabulary loading: comma or tab files, Athena or ISO dates, reloads replace."""

from __future__ import annotations

from pathlib import Path

import pytest

from hygie.errors import InputError
from hygie.omop import load_vocabulary
from hygie.warehouse.duckdb_engine import DuckDBEngine

from .conftest import VOCAB_DIR


def test_shard_loads_every_file_with_progress() -> None:
    engine = DuckDBEngine(None)
    seen: list[str] = []
    summary = load_vocabulary(engine, VOCAB_DIR, progress=lambda name, rows: seen.append(name))
    rows = {item.table: item.rows for item in summary.files}
    assert rows["concept"] == 2294
    assert rows["concept_relationship"] == 266588
    assert "concept" in seen and "drug_strength" in seen
    assert engine.fetchall(
        "SELECT valid_end_date FROM omop.concept WHERE concept_id = 40316773"
    ) == [(pytest.importorskip("datetime").date(2002, 1, 31),)]
    # a quoted empty standard_concept is NULL, not ''
    assert engine.fetchall(
        "SELECT standard_concept FROM omop.concept WHERE concept_id = 40316773"
    ) == [(None,)]


def test_reload_replaces_rows() -> None:
    engine = DuckDBEngine(None)
    load_vocabulary(engine, VOCAB_DIR)
    load_vocabulary(engine, VOCAB_DIR)
    assert engine.fetchall("SELECT count(*) FROM omop.concept") == [(2294,)]


def test_athena_tab_separated_files_with_compact_dates(tmp_path: Path) -> None:
    (tmp_path / "CONCEPT.csv").write_text(
        "concept_id\tconcept_name\tdomain_id\tvocabulary_id\tconcept_class_id\t"
        "standard_concept\tconcept_code\tvalid_start_date\tvalid_end_date\tinvalid_reason\n"
        '3036277\tBody height "measured\tMeasurement\tLOINC\tClinical Observation\tS\t8302-2\t'
        "19700101\t20991231\t\n",
        encoding="utf-8",
    )
    (tmp_path / "CONCEPT_RELATIONSHIP.csv").write_text(
        "concept_id_1\tconcept_id_2\trelationship_id\tvalid_start_date\tvalid_end_date\t"
        "invalid_reason\n3036277\t3036277\tMaps to\t19700101\t20991231\t\n",
        encoding="utf-8",
    )
    engine = DuckDBEngine(None)
    summary = load_vocabulary(engine, tmp_path)
    assert summary.files[0].delimiter == "\t"
    assert "vocabulary" in summary.missing
    rows = engine.fetchall(
        "SELECT concept_name, CAST(valid_start_date AS VARCHAR), invalid_reason FROM omop.concept"
    )
    assert rows == [('Body height "measured', "1970-01-01", None)]


def test_a_directory_without_concept_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="CONCEPT"):
        load_vocabulary(DuckDBEngine(None), tmp_path)
