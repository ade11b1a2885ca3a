"""Writes over HTTP: through the ingestion path, versioned, locked optimistically, atomic."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from hygie.config import Settings
from hygie.warehouse.warehouse import Warehouse
from tests.api.support import Api, start_api

OBSERVATION = {"resourceType": "Observation", "status": "final", "code": {"text": "weight"}}


def test_create_update_and_delete_make_versions(fresh_api: Api) -> None:
    api = fresh_api
    token = api.token("ops", "system/*.cruds")
    created = api.send(
        "POST",
        "/Patient",
        token,
        json={"resourceType": "Patient", "id": "mine", "gender": "female"},
    )
    assert created.status_code == 201
    patient = created.json()
    assert patient["id"] != "mine"  # the server assigns ids on create
    assert created.headers["location"].endswith(f"/Patient/{patient['id']}/_history/1")
    path = f"/Patient/{patient['id']}"
    updated = api.send("PUT", path, token, json={**patient, "gender": "male"})
    assert updated.status_code == 200 and updated.headers["etag"] == 'W/"2"'
    assert api.get(path, token).json()["gender"] == "male"
    same = api.send("PUT", path, token, json={**patient, "gender": "male"})
    assert same.headers["etag"] == 'W/"2"'  # nothing changed, no new version
    assert api.send("DELETE", path, token).status_code == 204
    assert api.get(path, token).status_code == 410
    assert api.get(f"{path}/_history/1", token).json()["gender"] == "female"
    history = api.get(f"{path}/_history", token).json()
    assert [e["request"]["method"] for e in history["entry"]] == ["DELETE", "PUT", "POST"]
    # A re-create after the delete is a new version, not a duplicate of the first request.
    again = api.send("PUT", path, token, json={**patient, "gender": "female"})
    assert again.status_code == 201 and again.headers["etag"] == 'W/"4"'


def test_update_with_a_stale_if_match_is_412(fresh_api: Api) -> None:
    api = fresh_api
    token = api.token("ops", "system/*.cruds")
    path = f"/Patient/{api.patient_a}"
    patient = api.get(path, token).json()
    first = api.send(
        "PUT", path, token, json={**patient, "gender": "other"}, headers={"If-Match": 'W/"1"'}
    )
    assert first.status_code == 200
    stale = api.send(
        "PUT", path, token, json={**patient, "gender": "unknown"}, headers={"If-Match": 'W/"1"'}
    )
    assert stale.status_code == 412
    assert "version 2" in stale.json()["issue"][0]["diagnostics"]
    assert api.get(path, token).json()["gender"] == "other"


def test_update_body_must_match_the_url(fresh_api: Api) -> None:
    token = fresh_api.token("ops", "system/*.cruds")
    response = fresh_api.send(
        "PUT", "/Patient/one", token, json={"resourceType": "Patient", "id": "two"}
    )
    assert response.status_code == 400


def test_parallel_conditional_creates_make_one_resource(fresh_api: Api) -> None:
    api = fresh_api
    token = api.token("ops", "system/*.cruds")
    body = {"resourceType": "Patient", "identifier": [{"system": "urn:test", "value": "42"}]}

    def create(_: int) -> httpx.Response:
        with httpx.Client(timeout=30) as http:
            return http.post(
                f"{api.base_url}/Patient",
                content=__import__("orjson").dumps(body),
                headers={
                    "Authorization": f"Bearer {token}",
                    "If-None-Exist": "identifier=urn:test|42",
                    "Content-Type": "application/fhir+json",
                },
            )

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(create, range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 7 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    found = api.get("/Patient?identifier=urn:test|42", token).json()
    assert found["total"] == 1


def test_a_transaction_stores_all_entries_or_none(fresh_api: Api) -> None:
    api = fresh_api
    token = api.token("ops", "system/*.cruds")
    before = api.get("/Observation?_summary=count", token).json()["total"]
    patient_url = "urn:uuid:0b1f6f9e-2a51-4b2e-9c3e-6f3c9b8d2a10"
    good = {
        "fullUrl": patient_url,
        "resource": {"resourceType": "Patient", "gender": "male"},
        "request": {"method": "POST", "url": "Patient"},
    }
    observation = {
        "resource": {**OBSERVATION, "subject": {"reference": patient_url}},
        "request": {"method": "POST", "url": "Observation"},
    }
    bad = {
        "resource": {"resourceType": "Observation", "id": "bad id!"},
        "request": {"method": "POST", "url": "Observation"},
    }
    refused = api.send(
        "POST",
        "/",
        token,
        json={"resourceType": "Bundle", "type": "transaction", "entry": [good, observation, bad]},
    )
    assert refused.status_code == 400
    assert api.get("/Observation?_summary=count", token).json()["total"] == before
    assert api.get("/Patient?gender=male&_summary=count", token).json()["total"] == 2
    stored = api.send(
        "POST",
        "/",
        token,
        json={"resourceType": "Bundle", "type": "transaction", "entry": [good, observation]},
    )
    assert stored.status_code == 200
    result = stored.json()
    assert result["type"] == "transaction-response"
    assert [e["response"]["status"] for e in result["entry"]] == ["201 Created"] * 2
    patient_id = result["entry"][0]["response"]["location"].split("/")[1]
    new = api.get(f"/Observation?patient={patient_id}", token).json()
    assert new["total"] == 1
    assert new["entry"][0]["resource"]["subject"]["reference"] == f"Patient/{patient_id}"


def test_a_transaction_with_a_forbidden_entry_stores_nothing(fresh_api: Api) -> None:
    api = fresh_api
    token = api.token("lab", "system/Observation.rs")
    response = api.send(
        "POST",
        "/",
        token,
        json={
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {"resource": OBSERVATION, "request": {"method": "POST", "url": "Observation"}}
            ],
        },
    )
    assert response.status_code == 403


def test_a_batch_stores_good_entries_and_reports_bad_ones(fresh_api: Api) -> None:
    api = fresh_api
    token = api.token("ops", "system/*.cruds")
    response = api.send(
        "POST",
        "/",
        token,
        json={
            "resourceType": "Bundle",
            "type": "batch",
            "entry": [
                {"resource": OBSERVATION, "request": {"method": "POST", "url": "Observation"}},
                {
                    "resource": {"resourceType": "Nope"},
                    "request": {"method": "POST", "url": "Nope"},
                },
                {"request": {"method": "GET", "url": "Patient"}},
            ],
        },
    )
    assert response.status_code == 200
    statuses = [e["response"]["status"] for e in response.json()["entry"]]
    assert statuses == ["201 Created", "400", "400"]
    assert response.json()["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"


def test_writes_go_to_the_raw_zone_with_the_client_as_source(tmp_path: Path) -> None:
    for api in start_api(tmp_path):
        token = api.token("ops", "system/*.cruds")
        assert api.send("POST", "/Observation", token, json=OBSERVATION).status_code == 201
    warehouse = Warehouse(Settings(warehouse=tmp_path / "warehouse"))
    with warehouse.reading() as engine:
        raw = engine.fetchall("SELECT source, format FROM raw WHERE source LIKE 'api:%'")
        versions = engine.fetchall(
            "SELECT source FROM resource WHERE resource_type = 'Observation' AND source LIKE 'api:%'"
        )
    assert raw == [("api:ops", "fhir-json")]
    assert versions == [("api:ops",)]


def test_searches_follow_a_reference_that_an_update_moved(fresh_api: Api) -> None:
    api = fresh_api
    token = api.token("ops", "system/*.cruds")
    body = {**OBSERVATION, "subject": {"reference": f"Patient/{api.patient_a}"}}
    created = api.send("POST", "/Observation", token, json=body).json()
    moved = {**created, "subject": {"reference": f"Patient/{api.patient_b}"}}
    assert api.send("PUT", f"/Observation/{created['id']}", token, json=moved).status_code == 200

    def found(patient: str) -> list[str]:
        bundle = api.get(f"/Observation?patient={patient}&_count=1000", token).json()
        return [e["resource"]["id"] for e in bundle["entry"]]

    assert created["id"] in found(api.patient_b)
    assert created["id"] not in found(api.patient_a)
