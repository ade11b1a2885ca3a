"""Bulk Data export end to end: kick-off, polling, manifest, files equal to what is in scope."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import orjson

from tests.api.support import Api, bundle_resources

RESOURCES = bundle_resources()
ASYNC = {"Prefer": "respond-async"}


def run_export(api: Api, token: str, path: str) -> dict[str, Any]:
    kick_off = api.get(path, token, headers=ASYNC)
    assert kick_off.status_code == 202, kick_off.text
    status_url = kick_off.headers["content-location"].removeprefix(api.base_url)
    for _ in range(200):
        status = api.get(status_url, token)
        if status.status_code == 200:
            return {"status_url": status_url, **status.json()}
        assert status.status_code == 202
        assert "x-progress" in status.headers
        time.sleep(0.05)
    raise AssertionError("the export did not finish")


def download(api: Api, token: str, manifest: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    files: dict[str, list[dict[str, Any]]] = {}
    for output in manifest["output"]:
        response = api.get(output["url"].removeprefix(api.base_url), token)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/fhir+ndjson")
        lines = [orjson.loads(line) for line in response.content.splitlines()]
        assert len(lines) == output["count"]
        files[output["type"]] = lines
    return files


def stripped(resource: dict[str, Any]) -> dict[str, Any]:
    meta = {
        k: v for k, v in resource.get("meta", {}).items() if k not in ("versionId", "lastUpdated")
    }
    kept = {k: v for k, v in resource.items() if k != "meta"}
    return {**kept, **({"meta": meta} if meta else {})}


def test_system_export_files_hold_exactly_the_zone(api: Api, ops_token: str) -> None:
    manifest = run_export(api, ops_token, "/$export?_type=Patient,Observation,Encounter")
    assert manifest["requiresAccessToken"] is True and manifest["error"] == []
    files = download(api, ops_token, manifest)
    expected = Counter(r["resourceType"] for r in RESOURCES)
    assert {t: len(rows) for t, rows in files.items()} == {
        t: expected[t] for t in ("Patient", "Observation", "Encounter")
    }
    # Each exported resource is the one served by read, meta included.
    for resource in files["Observation"][:20]:
        served = api.get(f"/Observation/{resource['id']}", ops_token).json()
        assert served == resource
    by_id = {r["id"]: r for r in RESOURCES}
    patient = files["Patient"][0]
    assert stripped(patient)["name"] == by_id[patient["id"]]["name"]


def test_patient_export_with_a_patient_token_holds_only_that_compartment(api: Api) -> None:
    token = api.token("portal-a", "patient/*.rs")
    manifest = run_export(api, token, "/Patient/$export")
    files = download(api, token, manifest)
    assert [p["id"] for p in files["Patient"]] == [api.patient_a]
    for resource_type, rows in files.items():
        for row in rows:
            text = orjson.dumps(row).decode()
            assert api.patient_b not in text, resource_type
    a_observations = sum(
        1
        for r in RESOURCES
        if r["resourceType"] == "Observation" and r["subject"]["reference"].endswith(api.patient_a)
    )
    assert len(files["Observation"]) == a_observations
    assert "Practitioner" not in files and "Organization" not in files


def test_group_export_and_since(fresh_api: Api) -> None:
    api = fresh_api
    token = api.token("ops", "system/*.cruds")
    group = {
        "resourceType": "Group",
        "type": "person",
        "actual": True,
        "member": [{"entity": {"reference": f"Patient/{api.patient_b}"}}],
    }
    created = api.send("POST", "/Group", token, json=group).json()
    group_id = created["id"]
    files = download(
        api, token, run_export(api, token, f"/Group/{group_id}/$export?_type=Patient,Condition")
    )
    assert [p["id"] for p in files["Patient"]] == [api.patient_b]
    assert all(c["subject"]["reference"] == f"Patient/{api.patient_b}" for c in files["Condition"])
    stamp = datetime.fromisoformat(created["meta"]["lastUpdated"]) - timedelta(milliseconds=1)
    since = stamp.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
    later = download(api, token, run_export(api, token, f"/$export?_since={since}"))
    assert set(later) == {"Group"}


def test_export_files_are_served_only_to_the_client_that_asked(api: Api, ops_token: str) -> None:
    manifest = run_export(api, ops_token, "/$export?_type=Patient")
    other = api.token("lab", "system/Observation.rs")
    url = manifest["output"][0]["url"].removeprefix(api.base_url)
    assert api.get(url, other).status_code == 404
    assert api.get(manifest["status_url"], other).status_code == 404
    assert api.get(url, None).status_code == 401
    traversal = url.rsplit("/", 1)[0] + "/..%2F..%2Fhygie.duckdb"
    assert api.get(traversal, ops_token).status_code == 404


def test_cancel_deletes_the_job_and_its_files(api: Api, ops_token: str) -> None:
    manifest = run_export(api, ops_token, "/$export?_type=Patient")
    assert api.send("DELETE", manifest["status_url"], ops_token).status_code == 202
    assert api.get(manifest["status_url"], ops_token).status_code == 404
    url = manifest["output"][0]["url"].removeprefix(api.base_url)
    assert api.get(url, ops_token).status_code == 404


def test_kick_off_mistakes_are_400(api: Api, ops_token: str) -> None:
    assert api.get("/$export", ops_token).status_code == 400  # no Prefer: respond-async
    assert api.get("/$export?_type=Nope", ops_token, headers=ASYNC).status_code == 400
    assert api.get("/$export?_outputFormat=csv", ops_token, headers=ASYNC).status_code == 400
    assert api.get("/Group/none/$export", ops_token, headers=ASYNC).status_code == 404
