"""The omop schema matches the packaged CDM 5.4 field-level specification, column by column."""

from __future__ import annotations

import csv

from hygie.omop.ddl import SPEC_FILE, create_cdm_tables
from hygie.warehouse.duckdb_engine import DuckDBEngine


def test_every_table_column_type_and_nullability_follow_the_spec() -> None:
    engine = DuckDBEngine(None)
    assert len(create_cdm_tables(engine)) == 39
    actual = {
        (table, column): (data_type, nullable)
        for table, column, data_type, nullable in engine.fetchall(
            "SELECT table_name, column_name, data_type, is_nullable "
            "FROM information_schema.columns WHERE table_schema = 'omop' "
            "AND table_name NOT LIKE 'hygie_%'"
        )
    }
    with SPEC_FILE.open(encoding="utf-8", newline="") as handle:
        spec = list(csv.DictReader(handle))
    expected_types = {"date": "DATE", "datetime": "TIMESTAMP", "float": "DOUBLE"}
    for row in spec:
        key = (row["cdmTableName"].lower(), row["cdmFieldName"].lower().strip('"'))
        assert key in actual, key
        data_type, nullable = actual[key]
        cdm_type = row["cdmDatatype"].lower()
        if cdm_type.startswith("varchar"):
            assert data_type == "VARCHAR", key
        elif cdm_type == "integer":
            assert data_type in ("INTEGER", "BIGINT"), key
            if key[1].endswith("concept_id") or key[0] == "concept":
                assert data_type == "INTEGER", key
        else:
            assert data_type == expected_types[cdm_type], key
        assert nullable == ("NO" if row["isRequired"] == "Yes" else "YES"), key
    assert len(actual) == len(spec) == 432


def test_primary_keys_follow_the_spec() -> None:
    engine = DuckDBEngine(None)
    create_cdm_tables(engine)
    keys = {
        (table, columns[0])
        for table, columns in engine.fetchall(
            "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
            "WHERE schema_name = 'omop' AND constraint_type = 'PRIMARY KEY'"
        )
    }
    with SPEC_FILE.open(encoding="utf-8", newline="") as handle:
        spec = {
            (row["cdmTableName"].lower(), row["cdmFieldName"].lower())
            for row in csv.DictReader(handle)
            if row["isPrimaryKey"] == "Yes"
        }
    assert keys == spec
    assert ("person", "person_id") in keys


def test_create_is_idempotent() -> None:
    engine = DuckDBEngine(None)
    create_cdm_tables(engine)
    engine.execute("INSERT INTO omop.domain VALUES ('X', 'x', 0)")
    create_cdm_tables(engine)
    assert engine.fetchall("SELECT count(*) FROM omop.domain") == [(1,)]
