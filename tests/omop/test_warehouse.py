"""The build on a real warehouse: ingest the Synthea sample and `hygie synth` output, then OMOP.

The care zone's `resource` is a view joining the catalogs with Parquet files; the build reads
it once. French codes of the synthetic population (CIM-10 under the ICD-10 system URI, ATC,
LOINC, UCUM, SNOMED) are mapped when the vocabulary has them and listed by coverage otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hygie.omop import build_omop, coverage, trace
from hygie.omop.build import PERSON_TABLES
from hygie.synth import generate
from hygie.synth.options import SynthOptions
from hygie.warehouse.duckdb_engine import DuckDBEngine
from hygie.warehouse.ingest import ingest
from hygie.warehouse.warehouse import Warehouse
from tests.conftest import SYNTHEA

from .conftest import copy_vocabulary

EVENT_TABLES = {
    "visit_occurrence": ("visit_start_date", "visit_end_date"),
    "condition_occurrence": ("condition_start_date", "condition_start_date"),
    "drug_exposure": ("drug_exposure_start_date", "drug_exposure_end_date"),
    "procedure_occurrence": ("procedure_date", "procedure_date"),
    "measurement": ("measurement_date", "measurement_date"),
    "observation": ("observation_date", "observation_date"),
    "note": ("note_date", "note_date"),
}


def synth(tmp_path: Path, name: str, patients: int, seed: int) -> str:
    out = tmp_path / name
    generate(SynthOptions(patients=patients, seed=seed, out_dir=out))
    return str(out)


def count(engine: DuckDBEngine, sql: str) -> int:
    return int(engine.fetchall(sql)[0][0])


def table_rows(engine: DuckDBEngine) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: sorted(engine.fetchall(f"SELECT * FROM omop.{table}"), key=repr)
        for table in (*PERSON_TABLES, "hygie_lineage", "hygie_source_code")
    }


def test_ingested_synthea_and_synth_build_consistent_omop_tables(
    warehouse: Warehouse, vocab_db: Path, tmp_path: Path
) -> None:
    report = ingest(warehouse, [str(SYNTHEA), synth(tmp_path, "synth", 30, 11)]).summary()
    assert report["quarantined"] == 0
    with warehouse.writing() as engine:
        copy_vocabulary(engine, vocab_db)
        summary = build_omop(engine)
        patients = count(engine, "SELECT count(*) FROM resource WHERE resource_type = 'Patient'")
        assert summary.full and patients == 30 + 23
        assert summary.rows("person") == count(engine, "SELECT count(*) FROM omop.person")
        assert summary.rows("person") == patients
        for table, (start, end) in EVENT_TABLES.items():
            assert count(engine, f"SELECT count(*) FROM omop.{table}") > 0, table
            orphans = count(
                engine,
                f"SELECT count(*) FROM omop.{table} "
                "WHERE person_id NOT IN (SELECT person_id FROM omop.person)",
            )
            assert orphans == 0, table
            uncovered = count(
                engine,
                f"SELECT count(*) FROM omop.{table} AS e WHERE NOT EXISTS (SELECT 1 FROM "
                "omop.observation_period AS p WHERE p.person_id = e.person_id "
                f"AND e.{start} >= p.observation_period_start_date "
                f"AND e.{end} <= p.observation_period_end_date)",
            )
            assert uncovered == 0, table
            if table != "visit_occurrence":
                dangling = count(
                    engine,
                    f"SELECT count(*) FROM omop.{table} WHERE visit_occurrence_id IS NOT NULL "
                    "AND visit_occurrence_id NOT IN "
                    "(SELECT visit_occurrence_id FROM omop.visit_occurrence)",
                )
                assert dangling == 0, table
        # MedicationDispense of the synthetic population names a contained Medication ('#med').
        assert count(engine, "SELECT count(*) FROM omop.drug_exposure WHERE drug_source_value "
                     "IS NULL") == 0  # fmt: skip
        report_rows = coverage(engine, top=500)
        unmapped_systems = {code.system for code in report_rows.top_unmapped}
        assert "http://www.whocc.no/atc" in unmapped_systems  # ATC is not in the shard
        vocabularies = {row.vocabulary for row in report_rows.rows}
        assert {"LOINC", "SNOMED", "ATC"} <= vocabularies
        assert 0 < report_rows.mapped_records < report_rows.records
        measurement_id = count(engine, "SELECT min(measurement_id) FROM omop.measurement")
        traced = trace(engine, "measurement", measurement_id)
        assert traced["resource"]["resourceType"] == "Observation"


def test_incremental_build_after_new_ingestion_equals_full_rebuild(
    warehouse: Warehouse, vocab_db: Path, tmp_path: Path
) -> None:
    ingest(warehouse, [synth(tmp_path, "first", 12, 21)])
    with warehouse.writing() as engine:
        copy_vocabulary(engine, vocab_db)
        build_omop(engine)
    ingest(warehouse, [synth(tmp_path, "second", 3, 22)])
    with warehouse.writing() as engine:
        summary = build_omop(engine)
        assert not summary.full and summary.persons_rebuilt == 3
        assert count(engine, "SELECT count(*) FROM omop.person") == 15
        incremental = table_rows(engine)
        build_omop(engine, full=True)
        assert table_rows(engine) == incremental

        log = "SELECT count(*) FROM omop.hygie_build_log"
        builds = count(engine, log)
        again = build_omop(engine)  # nothing changed since the last build
        assert again.unchanged and again.persons_rebuilt == 0 and not again.tables
        assert table_rows(engine) == incremental
        assert count(engine, log) == builds  # no build recorded: nothing was touched


@pytest.mark.parametrize("source", ["resource; DROP TABLE x", "1resource"])
def test_source_must_be_a_relation_name(warehouse: Warehouse, source: str) -> None:
    from hygie.errors import InputError

    with warehouse.writing() as engine, pytest.raises(InputError, match="relation name"):
        build_omop(engine, source=source)
