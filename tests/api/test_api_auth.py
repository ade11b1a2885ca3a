"""SMART Backend Services and scopes: every way in that should fail does, and is audited."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
import orjson
import pytest

from hygie.api.clients import revoke_client
from hygie.config import Settings
from hygie.warehouse.warehouse import Warehouse
from tests.api.support import Api, bundle_resources, make_key, start_api, wait_for_audit

RESOURCES = bundle_resources()


def server_key(api: Api) -> bytes:
    return (api.settings.warehouse / "api" / "token-signing.key").read_bytes().strip()


def forged(api: Api, key: bytes, **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": api.base_url,
        "aud": api.base_url,
        "sub": "ops",
        "iat": now,
        "exp": now + 60,
        "jti": "x",
        "scope": "system/*.cruds",
        "zone": "care",
        **changes,
    }
    return jwt.encode(claims, key, algorithm="HS256")


def record_after(api: Api, seen: int, path: str) -> dict[str, Any]:
    """The first audit record for ``path`` written after the first ``seen`` records (a record
    is appended just after its response is sent: wait for it)."""
    for _ in range(250):
        matching = [r for r in api.audit_records()[seen:] if r["path"] == path]
        if matching:
            return matching[0]
        time.sleep(0.02)
    raise AssertionError(f"no audit record for {path}")


def test_a_token_is_issued_for_registered_scopes_only(api: Api) -> None:
    response = api.token_response("lab", "system/Observation.rs system/Patient.rs")
    assert response.status_code == 200
    body = response.json()
    assert body["scope"] == "system/Observation.rs"
    assert body["token_type"] == "bearer" and body["expires_in"] <= 300
    assert response.headers["cache-control"] == "no-store"


def test_v1_scopes_are_accepted(api: Api) -> None:
    body = api.token_response("lab", "system/Observation.read").json()
    assert body["scope"] == "system/Observation.rs"


@pytest.mark.parametrize(
    ("case", "status", "error"),
    [
        ("wrong audience", 401, "invalid_client"),
        ("other key", 401, "invalid_client"),
        ("expired assertion", 401, "invalid_client"),
        ("exp too far", 401, "invalid_client"),
        ("unknown client", 401, "invalid_client"),
        ("revoked client", 401, "invalid_client"),
        ("research zone client", 401, "invalid_client"),
        ("no granted scope", 400, "invalid_scope"),
        ("symmetric assertion", 401, "invalid_client"),
    ],
)
def test_token_requests_that_must_fail(api: Api, case: str, status: int, error: str) -> None:
    seen = len(api.audit_records())
    client, scope, changes = "ops", "system/*.rs", {}
    if case == "wrong audience":
        changes = {"audience": "https://elsewhere.example/token"}
    elif case == "other key":
        changes = {"key": make_key("RS384")}
    elif case == "expired assertion":
        changes = {"expires_in": -120}
    elif case == "exp too far":
        changes = {"expires_in": 3600}
    elif case == "unknown client":
        client, changes = "nobody", {"key": make_key("ES384")}
    elif case == "revoked client":
        client = "retired"
    elif case == "research zone client":
        client = "research"
    elif case == "no granted scope":
        client, scope = "lab", "system/Patient.rs"
    if case == "symmetric assertion":
        signed = jwt.encode(
            {
                "iss": "ops",
                "sub": "ops",
                "aud": api.token_url,
                "jti": "j",
                "exp": int(time.time()) + 60,
            },
            "secret" * 8,
            algorithm="HS384",
        )
        response = api.http.post(
            api.token_url,
            data={
                "grant_type": "client_credentials",
                "client_assertion": signed,
                "scope": scope,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            },
        )
    else:
        response = api.token_response(client, scope, **changes)
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    record = record_after(api, seen, "/auth/token")
    assert record["outcome"] == "denied" if status == 401 else record["outcome"] == "refused"


def test_a_replayed_assertion_is_refused(api: Api) -> None:
    from tests.api.support import assertion

    signed = assertion(api.keys["ops"], "ops", api.token_url)
    form = {
        "grant_type": "client_credentials",
        "client_assertion": signed,
        "scope": "system/*.rs",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    assert api.http.post(api.token_url, data=form).status_code == 200
    again = api.http.post(api.token_url, data=form)
    assert again.status_code == 401
    assert "replay" in again.json()["error_description"]


@pytest.mark.parametrize(
    "case",
    ["none", "garbage", "expired", "wrong signature", "tampered", "other zone", "other audience"],
)
def test_requests_without_a_valid_token_are_401_and_audited(api: Api, case: str) -> None:
    tokens = {
        "none": None,
        "garbage": "not-a-jwt",
        "expired": forged(api, server_key(api), exp=int(time.time()) - 10),
        "wrong signature": forged(api, b"k" * 64),
        "other zone": forged(api, server_key(api), zone="research"),
        "other audience": forged(api, server_key(api), aud="https://other.example"),
    }
    if case == "tampered":
        header, payload, signature = api.token("lab", "system/Observation.rs").split(".")
        claims = orjson.loads(jwt.utils.base64url_decode(payload))
        claims["scope"] = "system/*.cruds"
        payload = jwt.utils.base64url_encode(orjson.dumps(claims)).decode()
        tokens["tampered"] = f"{header}.{payload}.{signature}"
    path = f"/Patient/{api.patient_a}"
    seen = len(api.audit_records())
    response = api.get(path, tokens[case])
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["resourceType"] == "OperationOutcome"
    record = record_after(api, seen, path)
    assert record["status"] == 401 and record["outcome"] == "denied"


def test_a_narrow_scope_is_enforced_on_every_interaction(api: Api) -> None:
    token = api.token("lab", "system/Observation.rs")
    assert api.get("/Observation?_count=1", token).status_code == 200
    denied = [
        api.get(f"/Patient/{api.patient_a}", token),
        api.get("/Patient", token),
        api.get(f"/Observation?_include=Observation:patient&patient={api.patient_a}", token),
        api.get(f"/Patient/{api.patient_a}/_history", token),
        api.get("/$export?_type=Patient", token, headers={"Prefer": "respond-async"}),
        api.send(
            "POST",
            "/Observation",
            token,
            json={"resourceType": "Observation", "status": "final", "code": {"text": "x"}},
        ),
        api.send("DELETE", f"/Patient/{api.patient_a}", token),
    ]
    assert [r.status_code for r in denied] == [403] * len(denied)
    assert all("scopes" in r.json()["issue"][0]["diagnostics"] for r in denied)


def test_a_read_only_token_cannot_write(api: Api) -> None:
    token = api.token("ops", "system/*.rs")
    response = api.send("POST", "/Patient", token, json={"resourceType": "Patient"})
    assert response.status_code == 403


def observation_of(patient: str) -> str:
    return next(
        r["id"]
        for r in RESOURCES
        if r["resourceType"] == "Observation" and r["subject"]["reference"].endswith(patient)
    )


def test_patient_a_token_never_reaches_patient_b(api: Api) -> None:
    token = api.token("portal-a", "patient/*.rs")
    a, b = api.patient_a, api.patient_b
    assert api.get(f"/Patient/{a}", token).status_code == 200
    assert api.get(f"/Observation/{observation_of(a)}", token).status_code == 200
    denied = {
        "read patient": api.get(f"/Patient/{b}", token),
        "read observation": api.get(f"/Observation/{observation_of(b)}", token),
        "vread": api.get(f"/Patient/{b}/_history/1", token),
        "history": api.get(f"/Patient/{b}/_history", token),
        "search by patient": api.get(f"/Observation?patient={b}", token),
        "search by subject": api.get(f"/Observation?subject=Patient/{b}", token),
        "search by id": api.get(f"/Patient?_id={b}", token),
        "system export": api.get("/$export", token, headers={"Prefer": "respond-async"}),
    }
    assert {k: r.status_code for k, r in denied.items()} == {k: 403 for k in denied}
    # Searches without naming a patient only see A's compartment, includes included.
    everything = api.get("/Observation?_count=1000&_include=Observation:patient", token).json()
    subjects = {
        e["resource"].get("subject", {}).get("reference")
        for e in everything["entry"]
        if e["resource"]["resourceType"] == "Observation"
    }
    assert subjects == {f"Patient/{a}"}
    included = [
        e["resource"]["id"] for e in everything["entry"] if e["search"]["mode"] == "include"
    ]
    assert included == [a]
    patients = api.get("/Patient?_revinclude=Observation:patient&_count=1000", token).json()
    assert [e["resource"]["id"] for e in patients["entry"] if e["search"]["mode"] == "match"] == [a]
    assert all(
        e["resource"].get("subject", {"reference": f"Patient/{a}"})["reference"] == f"Patient/{a}"
        for e in patients["entry"]
    )
    history = api.get("/Observation/_history?_count=1000", token).json()
    assert {e["resource"]["subject"]["reference"] for e in history["entry"]} == {f"Patient/{a}"}
    # Practitioners are in no patient compartment: a patient token never reads them.
    practitioner = next(r["id"] for r in RESOURCES if r["resourceType"] == "Practitioner")
    assert api.get(f"/Practitioner/{practitioner}", token).status_code == 403


def test_every_denial_is_in_the_audit_trail(fresh_api: Api) -> None:
    api = fresh_api
    token = api.token("portal-a", "patient/*.rs")
    api.get(f"/Patient/{api.patient_b}", token)
    api.get(f"/Observation?patient={api.patient_b}", token)
    api.get(f"/Patient/{api.patient_b}", None)
    records = wait_for_audit(api, 4)
    denied = [r for r in records if r["outcome"] == "denied"]
    assert [(r["path"], r["status"], r["client"]) for r in denied] == [
        (f"/Patient/{api.patient_b}", 403, "portal-a"),
        ("/Observation", 403, "portal-a"),
        (f"/Patient/{api.patient_b}", 401, None),
    ]
    assert all(r["ip"] == "127.0.0.1" and r["detail"] for r in denied)


def test_a_token_of_a_client_revoked_since_is_refused_after_restart(tmp_path: Path) -> None:
    for api in start_api(tmp_path):
        token = api.token("lab", "system/Observation.rs")
        assert api.get("/Observation?_count=1", token).status_code == 200
    revoke_client(Warehouse(Settings(warehouse=tmp_path / "warehouse")), "lab")
    for api in start_api(tmp_path):
        assert api.get("/Observation?_count=1", token).status_code == 401
        assert api.token_response("lab", "system/Observation.rs").status_code == 401
