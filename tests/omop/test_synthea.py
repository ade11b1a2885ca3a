"""The build on 20 Synthea patients with the vocabulary shard: counts, no orphans, lineage."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from hygie.omop import build_omop, coverage, trace
from hygie.omop.build import PERSON_TABLES
from hygie.warehouse.duckdb_engine import DuckDBEngine

from .bundles import bundle_resources, load_resources
from .conftest import SYNTHEA_DIR

pytestmark = pytest.mark.skipif(not SYNTHEA_DIR.is_dir(), reason="Synthea sample not present")

EVENT_TABLES = (
    "visit_occurrence",
    "condition_occurrence",
    "drug_exposure",
    "procedure_occurrence",
    "measurement",
    "observation",
)


def synthea_resources(files: slice = slice(None)) -> list[dict[str, Any]]:
    paths = sorted(SYNTHEA_DIR.glob("*.json"))[files]
    return [resource for path in paths for resource in bundle_resources(path)]


def table_rows(engine: DuckDBEngine) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: sorted(engine.fetchall(f"SELECT * FROM omop.{table}"), key=repr)
        for table in (*PERSON_TABLES, "hygie_lineage")
    }


def test_persons_no_orphans_and_periods_cover_events(engine: DuckDBEngine) -> None:
    load_resources(engine, synthea_resources())
    summary = build_omop(engine)
    patients = engine.fetchall("SELECT count(*) FROM resource WHERE resource_type = 'Patient'")
    assert summary.rows("person") == patients[0][0] == 20
    assert summary.rows("measurement") > 1000
    for table in EVENT_TABLES:
        orphans = engine.fetchall(
            f"SELECT count(*) FROM omop.{table} WHERE person_id NOT IN "
            "(SELECT person_id FROM omop.person)"
        )
        assert orphans == [(0,)], table
    for table in EVENT_TABLES[1:]:
        dangling = engine.fetchall(
            f"SELECT count(*) FROM omop.{table} WHERE visit_occurrence_id IS NOT NULL "
            "AND visit_occurrence_id NOT IN (SELECT visit_occurrence_id FROM omop.visit_occurrence)"
        )
        assert dangling == [(0,)], table
    uncovered = engine.fetchall(
        "SELECT count(*) FROM omop.measurement AS m WHERE NOT EXISTS (SELECT 1 FROM "
        "omop.observation_period AS p WHERE p.person_id = m.person_id AND m.measurement_date "
        "BETWEEN p.observation_period_start_date AND p.observation_period_end_date)"
    )
    assert uncovered == [(0,)]
    report = coverage(engine)
    assert report.records > 0 and 0 < report.mapped_records < report.records
    assert report.top_unmapped and report.top_unmapped[0].records >= 1


def test_ids_are_stable_and_trace_to_the_resource(engine: DuckDBEngine) -> None:
    load_resources(engine, synthea_resources(slice(0, 2)))
    build_omop(engine)
    first = table_rows(engine)
    build_omop(engine, full=True)
    assert table_rows(engine) == first
    resource_id = engine.fetchall("SELECT min(id) FROM resource WHERE resource_type = 'Patient'")
    person_id = int(hashlib.md5(f"Patient/{resource_id[0][0]}".encode()).hexdigest()[:15], 16)
    found = trace(engine, "person", person_id)
    assert found["resource_type"] == "Patient"
    assert found["resource"]["id"] == resource_id[0][0]
    measurement_id = engine.fetchall("SELECT min(measurement_id) FROM omop.measurement")[0][0]
    assert trace(engine, "measurement", measurement_id)["resource"]["resourceType"] == "Observation"


def test_incremental_build_equals_full_rebuild(engine: DuckDBEngine, tmp_path: Path) -> None:
    load_resources(engine, synthea_resources(slice(0, 3)))
    build_omop(engine)
    load_resources(engine, synthea_resources(slice(3, 5)))
    summary = build_omop(engine)
    assert not summary.full and summary.persons_rebuilt == 2
    incremental = table_rows(engine)
    build_omop(engine, full=True)
    assert table_rows(engine) == incremental
