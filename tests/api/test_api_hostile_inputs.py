"""Hostile inputs (hypothesis): never a 5xx, never anything stored from a refused request."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.support import Api, start_api

FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SQL_LOOKING = [
    "' OR 1=1 --",
    "'; DROP TABLE resource_head; --",
    "x') UNION SELECT * FROM raw --",
    "$1",
    "?",
    "%",
    "_",
    "\\",
    "1e309",
    "\x00",
    "Patient/1' --",
]
PARAMETERS = [
    "_id",
    "name",
    "family",
    "birthdate",
    "gender",
    "identifier",
    "_lastUpdated",
    "_count",
    "_offset",
    "_include",
    "_revinclude",
    "_elements",
    "_summary",
    "general-practitioner",
    "name:exact",
    "name:contains",
    "gender:missing",
    "zz",
]
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["resourceType", "id", "status", "code", "subject", "x"])
            | st.text(max_size=8),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, str]]:
    for api in start_api(tmp_path_factory.mktemp("hostile"), max_body_bytes=64 * 1024):
        yield api, api.token("ops", "system/*.cruds")


def counts(api: Api, token: str) -> tuple[int, int]:
    patients = api.get("/Patient?_summary=count", token).json()["total"]
    observations = api.get("/Observation?_summary=count", token).json()["total"]
    return patients, observations


@FUZZ
@given(name=st.sampled_from(PARAMETERS), value=st.sampled_from(SQL_LOOKING) | st.text(max_size=60))
def test_search_values_never_fail_the_server(
    hostile: tuple[Api, str], name: str, value: str
) -> None:
    api, token = hostile
    response = api.get(f"/Patient?{quote(name)}={quote(value)}", token)
    assert response.status_code < 500, response.text
    assert response.json()["resourceType"] in ("Bundle", "OperationOutcome")


def test_sql_looking_values_are_only_values(hostile: tuple[Api, str]) -> None:
    api, token = hostile
    before = counts(api, token)
    for value in SQL_LOOKING:
        for name in ("family", "_id", "identifier", "general-practitioner"):
            response = api.get(f"/Patient?{name}={quote(value)}", token)
            assert response.status_code in (200, 400)
            if response.status_code == 200:
                assert response.json()["total"] == 0
    assert counts(api, token) == before


@FUZZ
@given(
    resource_id=st.text(min_size=1, max_size=80).filter(lambda s: s not in (".", ".."))
    | st.sampled_from(["../../hygie.duckdb", "%2e%2e%2fetc", "a" * 65, "Patient", "_history"])
)
def test_ids_never_fail_the_server(hostile: tuple[Api, str], resource_id: str) -> None:
    # "." and ".." are dot segments: the HTTP client resolves them before sending.
    api, token = hostile
    response = api.get(f"/Patient/{quote(resource_id, safe='')}", token)
    # 200 only for "_history" (the type history) and a "Patient" id that happens to exist.
    assert response.status_code in (400, 404, 410) or resource_id == "_history"
    assert response.json()["resourceType"] in ("OperationOutcome", "Bundle")


@FUZZ
@given(
    body=st.binary(max_size=300) | JSON_VALUES.map(orjson.dumps),
    path=st.sampled_from(["/Patient", "/Observation", "/", "/Patient/fuzz"]),
    method=st.sampled_from(["POST", "PUT"]),
)
def test_bodies_never_fail_the_server_and_refusals_store_nothing(
    hostile: tuple[Api, str], body: bytes, path: str, method: str
) -> None:
    api, token = hostile
    before = counts(api, token)
    response = api.send(
        method, path, token, content=body, headers={"Content-Type": "application/fhir+json"}
    )
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["resourceType"] == "OperationOutcome"
        assert counts(api, token) == before


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"[" * 200_000, 413),
        (b'{"resourceType": "Patient", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400),
        (b'{"resourceType": "Patient", "gender": "\xff\xfe"}', 400),
        (b'{"resourceType": "Patient", "id": "a/../../b"}', 400),
        (b"", 400),
        (b"\xef\xbb\xbf{", 400),
    ],
    ids=["huge", "deep", "invalid-utf8", "traversal-id", "empty", "bom-cut"],
)
def test_hostile_bodies_are_refused_cleanly(
    hostile: tuple[Api, str], body: bytes, status: int
) -> None:
    api, token = hostile
    before = counts(api, token)
    response = api.send(
        "POST", "/Patient", token, content=body, headers={"Content-Type": "application/fhir+json"}
    )
    assert response.status_code == status
    assert response.json()["resourceType"] == "OperationOutcome"
    assert counts(api, token) == before


@FUZZ
@given(
    form=st.dictionaries(
        st.sampled_from(["grant_type", "client_assertion_type", "client_assertion", "scope", "x"]),
        st.text(max_size=200),
        max_size=5,
    )
)
def test_token_requests_never_fail_the_server(
    hostile: tuple[Api, str], form: dict[str, str]
) -> None:
    api, _ = hostile
    response = api.http.post(api.token_url, data=form)
    assert response.status_code in (400, 401)
    assert "error" in response.json()


@FUZZ
@given(
    header=st.sampled_from(["If-Match", "If-None-Exist", "Prefer", "Authorization"]),
    value=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=80),
)
def test_headers_never_fail_the_server(hostile: tuple[Api, str], header: str, value: str) -> None:
    api, token = hostile
    headers = {"Authorization": f"Bearer {token}", header: value}
    response = api.send(
        "PUT", f"/Patient/{api.patient_a}", None, content=b'{"resourceType": "x"}', headers=headers
    )
    assert response.status_code < 500
