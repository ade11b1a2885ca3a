"""The rules under the API, as data and pure functions: scopes, dates, compartments, NDJSON."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from hygie.api.bulk_export import ndjson_bytes
from hygie.api.compartment import compartment_paths, patients_of
from hygie.api.outcome import FhirError
from hygie.api.scopes import Grant, ScopeSyntaxError, grant_scopes, parse_scope, parse_scopes
from hygie.api.search import date_range, parse_search
from hygie.api.search_parameters import search_parameters


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("system/Observation.rs", "system/Observation.rs"),
        ("patient/*.read", "patient/*.rs"),
        ("user/Patient.write", "user/Patient.cud"),
        ("system/*.*", "system/*.cruds"),
        ("system/Encounter.cruds", "system/Encounter.cruds"),
    ],
)
def test_scopes_v2_and_v1_forms(text: str, expected: str) -> None:
    assert parse_scope(text).text == expected


@pytest.mark.parametrize(
    "text",
    [
        "system/Observation.sr",
        "system/Nope.rs",
        "admin/*.rs",
        "system/Observation.rs?category=lab",
        "system/*.x",
        "*",
    ],
)
def test_malformed_scopes_are_refused(text: str) -> None:
    with pytest.raises(ScopeSyntaxError):
        parse_scope(text)


def test_grants_are_the_requested_scopes_the_registration_covers() -> None:
    allowed = parse_scopes("system/Observation.rs system/Patient.r")
    granted = grant_scopes(
        "system/Observation.r system/Patient.rs system/Encounter.r junk",
        allowed,
        patient_bound=False,
    )
    assert [s.text for s in granted] == ["system/Observation.r"]
    patient = grant_scopes("patient/*.rs", parse_scopes("patient/*.rs"), patient_bound=False)
    assert patient == []  # no patient context: patient scopes are not granted


def test_grant_access_levels() -> None:
    grant = Grant(tuple(parse_scopes("patient/*.rs system/Organization.r")), "p1")
    assert grant.access("r", "Observation") == "compartment"
    assert grant.access("r", "Organization") == "all"
    assert grant.access("c", "Observation") is None
    assert Grant(tuple(parse_scopes("patient/*.rs")), None).access("r", "Patient") is None


@pytest.mark.parametrize(
    ("value", "prefix", "start", "end"),
    [
        ("2019", "eq", datetime(2019, 1, 1, tzinfo=UTC), datetime(2020, 1, 1, tzinfo=UTC)),
        ("ge2019-02", "ge", datetime(2019, 2, 1, tzinfo=UTC), datetime(2019, 3, 1, tzinfo=UTC)),
        (
            "lt2019-12-31",
            "lt",
            datetime(2019, 12, 31, tzinfo=UTC),
            datetime(2020, 1, 1, tzinfo=UTC),
        ),
        (
            "2019-05-01T10:00:00Z",
            "eq",
            datetime(2019, 5, 1, 10, tzinfo=UTC),
            datetime(2019, 5, 1, 10, 0, 1, tzinfo=UTC),
        ),
    ],
)
def test_date_values_become_ranges_at_their_precision(
    value: str, prefix: str, start: datetime, end: datetime
) -> None:
    assert date_range("date", value) == (prefix, start, end)


def test_search_parsing_keeps_values_out_of_sql() -> None:
    request = parse_search("Observation", [("code", "http://loinc.org|1'; DROP--")], strict=True)
    from hygie.api.search import where_clause

    sql, params = where_clause(request)
    assert "DROP" not in sql
    assert params == ["Observation", "http://loinc.org|1'; DROP--"]
    with pytest.raises(FhirError):
        parse_search("Observation", [("nope", "1")], strict=True)


def test_compartment_membership_follows_the_definition() -> None:
    observation = {
        "resourceType": "Observation",
        "subject": {"reference": "Patient/a"},
        "performer": [{"reference": "Practitioner/x"}, {"reference": "Patient/b"}],
    }
    assert patients_of("Observation", observation) == {"a", "b"}
    assert patients_of("Practitioner", {"resourceType": "Practitioner", "id": "x"}) == set()
    assert patients_of("Patient", {"resourceType": "Patient", "id": "a"}) == {"a"}
    assert "Practitioner" not in compartment_paths()


def test_every_search_parameter_path_is_a_plain_json_path() -> None:
    for parameters in search_parameters().values():
        for parameter in parameters.values():
            assert all(p.startswith("$.") for p in parameter.paths)


def test_ndjson_lines_are_written_from_arrow_buffers() -> None:
    column = pa.array(['{"a":1}', '{"b":"x"}', "{}"]).slice(1)
    assert bytes(ndjson_bytes(column)) == b'{"b":"x"}\n{}\n'
    assert bytes(ndjson_bytes(pa.array([], pa.string()))) == b""
