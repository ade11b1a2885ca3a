"""Fuzzing driven by the running server's own OpenAPI description (hypothesis).

Every operation the description lists gets requests generated for it: path parameters, query
items and bodies, hostile or not. The server must never answer 5xx, must answer every refusal
with an OperationOutcome, and a refused request must store nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.support import Api, start_api
from tests.api.test_api_hostile_inputs import JSON_VALUES, SQL_LOOKING, counts

TEXT = st.sampled_from(SQL_LOOKING) | st.text(max_size=40)
PATH_VALUES = st.sampled_from(
    ["Patient", "Observation", "Encounter", "_history", "$export", "..", "metadata"]
) | TEXT.filter(bool)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, str, list[Any]]]:
    for api in start_api(tmp_path_factory.mktemp("openapi"), max_body_bytes=64 * 1024):
        described = api.http.get(api.base_url + "/openapi.json")
        assert described.status_code == 200
        operations = [
            (method.upper(), path)
            for path, item in described.json()["paths"].items()
            for method in item
            if method in ("get", "post", "put", "delete", "patch")
        ]
        yield api, api.token("ops", "system/*.cruds"), operations


def test_the_description_lists_the_fhir_interactions(
    served: tuple[Api, str, list[Any]],
) -> None:
    _api, _token, operations = served
    listed = set(operations)
    for expected in [
        ("GET", "/metadata"),
        ("GET", "/{resource_type}/{resource_id}"),
        ("GET", "/{resource_type}"),
        ("PUT", "/{resource_type}/{resource_id}"),
        ("DELETE", "/{resource_type}/{resource_id}"),
        ("POST", "/auth/token"),
    ]:
        assert expected in listed, expected
    assert len(operations) >= 15


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_generated_requests_for_every_described_operation_never_fail_the_server(
    served: tuple[Api, str, list[Any]], data: st.DataObject
) -> None:
    api, token, operations = served
    method, template = data.draw(st.sampled_from(operations))
    path = re.sub(r"\{[^}]+\}", lambda _m: quote(data.draw(PATH_VALUES), safe=""), template)
    query = data.draw(st.lists(st.tuples(TEXT, TEXT), max_size=4))
    body = None
    if method in ("POST", "PUT", "PATCH"):
        body = data.draw(st.binary(max_size=200) | JSON_VALUES.map(orjson.dumps))
    authorized = data.draw(st.booleans())
    before = counts(api, token)
    response = api.send(
        method,
        path,
        token if authorized else None,
        params=query,
        content=body,
        headers={"Content-Type": "application/fhir+json"},
    )
    assert response.status_code < 500, (method, path, response.text[:300])
    if response.status_code >= 400 and path != "/auth/token":
        assert response.json()["resourceType"] == "OperationOutcome"
        assert counts(api, token) == before
