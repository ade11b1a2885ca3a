"""Reads by id come from the serving store, which follows every way the care zone changes.

The store (api/serving-care.sqlite) is built when the server starts, kept by the server's own
writes, and caught up at the next start with what `hygie ingest` wrote while the server was down:
new resources, new versions, deletes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

from hygie.api.serving import ServingStore, serving_path
from hygie.warehouse.ingest import ingest
from hygie.warehouse.warehouse import Warehouse
from tests.api.support import Api, bundle_resources, start_api


def held(api: Api) -> dict[tuple[str, str], tuple[int, bytes]]:
    with sqlite3.connect(serving_path(api.settings.warehouse, "care")) as store:
        rows = store.execute("SELECT resource_type, id, version_id, body FROM current_resource")
        return {(t, i): (v, bytes(b)) for t, i, v, b in rows}


def test_reads_by_id_are_served_from_the_store_byte_for_byte(api: Api, ops_token: str) -> None:
    store = held(api)
    ingested = {(r["resourceType"], r["id"]) for r in bundle_resources()}
    assert ingested <= set(store)
    (resource_type, resource_id), (version_id, body) = sorted(store.items())[0]
    response = api.get(f"/{resource_type}/{resource_id}", ops_token)
    assert response.status_code == 200
    assert response.content == body
    assert response.headers["etag"] == f'W/"{version_id}"'


def test_api_writes_update_the_store_at_once(fresh_api: Api) -> None:
    token = fresh_api.token("ops", "system/*.cruds")
    patient = {"resourceType": "Patient", "id": "served-1", "gender": "female"}
    assert fresh_api.send("PUT", "/Patient/served-1", token, json=patient).status_code == 201
    assert held(fresh_api)[("Patient", "served-1")][0] == 1
    changed = {**patient, "gender": "other"}
    assert fresh_api.send("PUT", "/Patient/served-1", token, json=changed).status_code == 200
    read = fresh_api.get("/Patient/served-1", token)
    assert (read.json()["gender"], read.json()["meta"]["versionId"]) == ("other", "2")
    assert held(fresh_api)[("Patient", "served-1")][0] == 2
    assert fresh_api.send("DELETE", "/Patient/served-1", token).status_code in (200, 204)
    assert ("Patient", "served-1") not in held(fresh_api)
    assert fresh_api.get("/Patient/served-1", token).status_code == 410


def test_a_restart_catches_up_with_what_was_ingested_meanwhile(tmp_path: Path) -> None:
    servers = start_api(tmp_path)
    api = next(servers)
    token = api.token("ops", "system/*.cruds")
    store = held(api)
    (_, changed_id), _ = next(k for k in sorted(store.items()) if k[0][0] == "Patient")
    deleted_key = next(k for k in sorted(store) if k[0] == "Observation")
    before = api.get(f"/Patient/{changed_id}", token).json()
    servers.close()  # the server stops and gives the warehouse back

    changed = {k: v for k, v in before.items() if k != "meta"} | {"gender": "unknown"}
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": changed, "request": {"method": "PUT", "url": f"Patient/{changed_id}"}},
            {"request": {"method": "DELETE", "url": f"{deleted_key[0]}/{deleted_key[1]}"}},
            {
                "resource": {"resourceType": "Patient", "id": "while-down", "gender": "male"},
                "request": {"method": "PUT", "url": "Patient/while-down"},
            },
        ],
    }
    (tmp_path / "meanwhile.json").write_bytes(orjson.dumps(bundle))
    summary = ingest(Warehouse(api.settings), [str(tmp_path / "meanwhile.json")]).summary()
    assert (summary["created"], summary["updated"], summary["deleted"]) == (1, 1, 1)

    for api in start_api(tmp_path):
        token = api.token("ops", "system/*.cruds")
        read = api.get(f"/Patient/{changed_id}", token).json()
        assert (read["gender"], read["meta"]["versionId"]) == ("unknown", "2")
        assert api.get(f"/{deleted_key[0]}/{deleted_key[1]}", token).status_code == 410
        assert api.get("/Patient/while-down", token).json()["gender"] == "male"
        store = held(api)
        assert deleted_key not in store
        assert store[("Patient", changed_id)][0] == 2


def test_a_store_that_cannot_follow_a_write_stops_answering(
    fresh_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = fresh_api.token("ops", "system/*.cruds")
    patient = {"resourceType": "Patient", "id": "served-2", "gender": "female"}
    assert fresh_api.send("PUT", "/Patient/served-2", token, json=patient).status_code == 201

    def broken(*_args: object, **_kwargs: object) -> int:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(ServingStore, "catch_up", broken)
    changed = {**patient, "gender": "other"}
    assert fresh_api.send("PUT", "/Patient/served-2", token, json=changed).status_code == 200
    # The store still holds version 1, but reads no longer come from it.
    assert held(fresh_api)[("Patient", "served-2")][0] == 1
    read = fresh_api.get("/Patient/served-2", token).json()
    assert (read["gender"], read["meta"]["versionId"]) == ("other", "2")
