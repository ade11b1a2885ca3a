"""The ViewDefinition compiler and runner, beyond the official suite."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hygie.errors import InputError
from hygie.fhir.views import (
    ViewDefinitionError,
    compile_view,
    list_library_views,
    load_library_view,
    materialize_view,
    run_view,
)
from hygie.fhir.views.path_parser import parse_path
from hygie.warehouse.duckdb_engine import DuckDBEngine
from hygie.warehouse.engine import transpile

PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "gender": "female",
    "birthDate": "1970-06-01",
    "name": [{"use": "official", "family": "Martin", "given": ["Anne", "Marie"]}],
    "address": [{"city": "Lyon", "postalCode": "69003"}],
}
OBSERVATION = {
    "resourceType": "Observation",
    "id": "o1",
    "status": "final",
    "category": [{"coding": [{"code": "laboratory"}]}],
    "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"}]},
    "subject": {"reference": "Patient/p1"},
    "valueQuantity": {"value": 5.4, "system": "http://unitsofmeasure.org", "code": "mmol/L"},
}


def _engine(resources: list[dict[str, Any]], name: str = "resource") -> DuckDBEngine:
    engine = DuckDBEngine(None)
    table = pa.table(
        {
            "resource_type": [r["resourceType"] for r in resources],
            "id": [r["id"] for r in resources],
            "resource": [json.dumps(r) for r in resources],
        }
    )
    engine.register_arrow("input_rows", table)
    engine.execute(
        f"CREATE TABLE {name} AS SELECT resource_type, id, 1 AS version_id,"
        " now() AS last_updated, CAST(resource AS JSON) AS resource FROM input_rows"
    )
    return engine


def test_a_view_is_one_statement_reading_the_named_source_once() -> None:
    view = {"resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}]}]}
    compiled = compile_view(view, source="research_resource")
    assert compiled.sql.startswith("SELECT ")
    assert compiled.sql.count("FROM research_resource AS src") == 1
    assert ";" not in compiled.sql


def test_resources_are_filtered_on_type_before_they_are_parsed_or_unnested() -> None:
    sql = compile_view(load_library_view("conditions")).sql
    innermost = sql[sql.rindex("SELECT ") :]
    assert "json_extract(src.resource, [" in innermost
    assert "WHERE (src.resource_type = 'Condition')" in innermost
    assert "unnest(" not in innermost


def test_the_resource_json_is_parsed_once_per_row_for_all_members() -> None:
    sql = compile_view(load_library_view("patient_demographics")).sql
    assert sql.count("json_extract(src.resource") == 1
    assert "src.resource ->" not in sql
    assert "view_resource ->" not in sql


def test_iterations_unnest_rows_and_columns_are_not_computed_inside_lambdas() -> None:
    """forEach items become rows; their columns are plain projections, not lambda bodies."""
    for name in ("conditions", "patient_demographics"):
        sql = compile_view(load_library_view(name)).sql
        assert sql.count("unnest(") == 1, name
        assert "struct_pack" not in sql, name


NESTED = {
    "resourceType": "Patient",
    "id": "p2",
    "name": [
        {"use": "official", "family": "Durand", "given": ["Paul", "Louis"]},
        {"use": "nickname", "given": ["Polo"]},
    ],
    "telecom": [{"system": "phone", "value": "0102"}, {"system": "email", "value": "p@x"}],
    "contact": [{"name": {"family": "Durand"}, "telecom": [{"value": "0607"}]}, {}],
}


def test_nested_iterations_unions_and_row_indexes_combine_rows() -> None:
    view = {
        "resource": "Patient",
        "select": [
            {"column": [{"name": "id", "path": "getResourceKey()", "type": "id"}]},
            {
                "forEach": "name",
                "column": [{"name": "name_index", "path": "%rowIndex", "type": "integer"}],
                "select": [
                    {
                        "forEachOrNull": "family",
                        "column": [{"name": "family", "path": "$this", "type": "string"}],
                    },
                    {
                        "forEach": "given",
                        "column": [
                            {"name": "given", "path": "$this", "type": "string"},
                            {"name": "given_index", "path": "%rowIndex", "type": "integer"},
                        ],
                    },
                ],
            },
            {
                "unionAll": [
                    {
                        "forEach": "telecom",
                        "column": [{"name": "contact_value", "path": "value", "type": "string"}],
                    },
                    {
                        "forEach": "contact",
                        "select": [
                            {
                                "forEachOrNull": "telecom",
                                "column": [
                                    {"name": "contact_value", "path": "value", "type": "string"}
                                ],
                            }
                        ],
                    },
                ]
            },
        ],
    }
    rows = run_view(_engine([NESTED, PATIENT]), view).to_pylist()
    names = [
        (0, "Durand", "Paul", 0),
        (0, "Durand", "Louis", 1),
        (1, None, "Polo", 0),
    ]
    contacts = ["0102", "p@x", "0607", None]
    expected = [
        {
            "id": "p2",
            "name_index": index,
            "family": family,
            "given": given,
            "given_index": given_index,
            "contact_value": value,
        }
        for index, family, given, given_index in names
        for value in contacts
    ]
    key = json.dumps
    assert sorted(map(key, rows)) == sorted(map(key, expected))
    # PATIENT has no telecom and no contact: the union yields no row, so neither does the view.
    assert {r["id"] for r in rows} == {"p2"}


def test_run_view_reads_the_given_source() -> None:
    engine = _engine([PATIENT, OBSERVATION], name="research_resource")
    view = {
        "resource": "Patient",
        "select": [{"column": [{"name": "family", "path": "name.family", "type": "string"}]}],
    }
    assert run_view(engine, view, source="research_resource").to_pylist() == [{"family": "Martin"}]


def test_column_types_map_to_sql_types() -> None:
    view = {
        "resource": "Observation",
        "select": [
            {
                "column": [
                    {"name": "value", "path": "value.ofType(Quantity).value", "type": "decimal"},
                    {"name": "final", "path": "status = 'final'", "type": "boolean"},
                    {"name": "codes", "path": "code.coding.code", "collection": True},
                ]
            }
        ],
    }
    compiled = compile_view(view)
    assert [c.sql_type for c in compiled.columns] == ["DOUBLE", "BOOLEAN", "VARCHAR"]
    rows = run_view(_engine([OBSERVATION]), compiled).to_pylist()
    assert rows == [{"value": 5.4, "final": True, "codes": ["2345-7"]}]


def test_materialize_view_creates_a_table() -> None:
    engine = _engine([PATIENT])
    view = {"resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}]}]}
    materialize_view(engine, view, "patient_ids")
    assert engine.fetchall("SELECT id FROM patient_ids") == [("p1",)]
    with pytest.raises(ViewDefinitionError, match="table name"):
        materialize_view(engine, view, "bad name; DROP TABLE x")


@pytest.mark.parametrize(
    ("view", "message"),
    [
        ({}, "resource is missing"),
        ({"resource": "Patient"}, "select is missing"),
        ({"resource": "Patient", "select": [{"forEach": 1}]}, r"select\[0\].forEach"),
        (
            {"resource": "Patient", "select": [{"column": [{"name": "a b", "path": "id"}]}]},
            r"column\[0\].name",
        ),
        (
            {"resource": "Patient", "select": [{"column": [{"name": "a", "path": "id.("}]}]},
            "invalid FHIRPath",
        ),
        (
            {"resource": "Patient", "select": [{"column": [{"name": "a", "path": "%nope"}]}]},
            "undefined constant %nope",
        ),
        (
            {"resource": "Patient", "select": [{"column": [{"name": "a", "path": "foo()"}]}]},
            "unsupported FHIRPath function foo",
        ),
        (
            {
                "resource": "Patient",
                "select": [
                    {"column": [{"name": "a", "path": "id"}]},
                    {"column": [{"name": "a", "path": "gender"}]},
                ],
            },
            "used twice",
        ),
    ],
)
def test_invalid_views_say_what_is_wrong(view: dict[str, Any], message: str) -> None:
    with pytest.raises(ViewDefinitionError, match=message) as caught:
        compile_view(view)
    assert isinstance(caught.value, InputError)


def test_several_values_in_a_single_column_is_an_error() -> None:
    patient = {**PATIENT, "name": [{"family": "A"}, {"family": "B"}]}
    view = {"resource": "Patient", "select": [{"column": [{"name": "f", "path": "name.family"}]}]}
    with pytest.raises(ViewDefinitionError, match="collection"):
        run_view(_engine([patient]), view)


def test_the_library_views_run_on_a_small_warehouse() -> None:
    engine = _engine([PATIENT, OBSERVATION])
    names = list_library_views()
    assert {
        "patient_demographics",
        "encounters",
        "lab_results",
        "conditions",
        "medications",
    } <= set(names)
    demographics = run_view(engine, load_library_view("patient_demographics")).to_pylist()
    assert demographics[0]["family_name"] == "Martin"
    assert demographics[0]["given_names"] == "Anne Marie"
    assert demographics[0]["city"] == "Lyon"
    labs = run_view(engine, load_library_view("lab_results")).to_pylist()
    assert labs[0]["loinc_code"] == "2345-7"
    assert labs[0]["ucum_unit"] == "mmol/L"
    assert labs[0]["patient_id"] == "p1"
    for name in names:
        assert transpile(compile_view(load_library_view(name)).sql, "spark")


def test_unknown_library_view_lists_the_known_ones() -> None:
    with pytest.raises(ViewDefinitionError, match="patient_demographics"):
        load_library_view("nope")


_names = st.from_regex(r"[a-z][A-Za-z0-9]{0,8}", fullmatch=True).filter(
    lambda n: (
        n not in {"and", "or", "xor", "implies", "is", "as", "in", "contains", "div", "mod"}
        and n not in {"true", "false"}
    )
)


@given(st.lists(_names, min_size=1, max_size=5))
def test_member_paths_parse_back_to_their_names(names: list[str]) -> None:
    node = parse_path(".".join(names))
    seen: list[str] = []
    while node is not None:
        assert hasattr(node, "name")
        seen.append(node.name)  # type: ignore[union-attr]
        node = node.target  # type: ignore[union-attr]
    assert list(reversed(seen)) == names


@given(st.text(max_size=20))
def test_the_parser_never_crashes_on_garbage(text: str) -> None:
    with contextlib.suppress(ViewDefinitionError):
        parse_path(text)
