"""Reading and searching the care zone over HTTP: what FHIR R4 REST and search specify."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest

from hygie.config import Settings
from hygie.warehouse.ingest import ingest
from hygie.warehouse.warehouse import Warehouse
from tests.api.support import Api, bundle_resources, copy_template, start_api

RESOURCES = bundle_resources()
COUNTS = Counter(r["resourceType"] for r in RESOURCES)


def ids_of(bundle: dict, mode: str = "match") -> list[str]:
    return [
        e["resource"]["id"]
        for e in bundle.get("entry", [])
        if e.get("search", {}).get("mode") == mode
    ]


def test_the_capability_statement_lists_what_is_supported(api: Api) -> None:
    response = api.get("/metadata", None)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    statement = response.json()
    assert statement["resourceType"] == "CapabilityStatement"
    rest = statement["rest"][0]
    observation = next(r for r in rest["resource"] if r["type"] == "Observation")
    names = {p["name"] for p in observation["searchParam"]}
    assert {"_id", "_lastUpdated", "identifier", "patient", "code", "date", "status"} <= names
    assert "Observation:patient" in observation["searchInclude"]
    assert {o["name"] for o in rest["operation"]} == {"export", "patient-export", "group-export"}
    token = rest["security"]["extension"][0]["extension"][0]["valueUri"]
    assert token == api.token_url


def test_read_returns_the_resource_with_its_version(api: Api, ops_token: str) -> None:
    response = api.get(f"/Patient/{api.patient_a}", ops_token)
    assert response.status_code == 200
    patient = response.json()
    assert patient["id"] == api.patient_a
    assert patient["meta"]["versionId"] == "1"
    assert patient["meta"]["lastUpdated"].endswith("Z")
    assert response.headers["etag"] == 'W/"1"'
    # Twice, the second from the cache: the same bytes.
    assert api.get(f"/Patient/{api.patient_a}", ops_token).content == response.content


def test_read_of_an_absent_resource_is_404_with_an_operation_outcome(
    api: Api, ops_token: str
) -> None:
    response = api.get("/Patient/does-not-exist", ops_token)
    assert response.status_code == 404
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "Patient/does-not-exist" in outcome["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    ("path", "status"),
    [("/NotAType/1", 404), ("/Patient/bad id!", 400), ("/Patient/" + "x" * 65, 400)],
)
def test_unknown_types_and_invalid_ids_are_refused(
    api: Api, ops_token: str, path: str, status: int
) -> None:
    response = api.get(quote(path), ops_token)
    assert response.status_code == status
    assert response.json()["resourceType"] == "OperationOutcome"


def test_vread_and_instance_history(api: Api, ops_token: str) -> None:
    assert api.get(f"/Patient/{api.patient_a}/_history/1", ops_token).json()["id"] == api.patient_a
    assert api.get(f"/Patient/{api.patient_a}/_history/2", ops_token).status_code == 404
    history = api.get(f"/Patient/{api.patient_a}/_history", ops_token).json()
    assert history["type"] == "history"
    assert history["total"] == 1
    assert history["entry"][0]["request"] == {"method": "POST", "url": f"Patient/{api.patient_a}"}


def test_type_history_pages_through_every_version(api: Api, ops_token: str) -> None:
    page = api.get("/Immunization/_history?_count=10", ops_token).json()
    assert page["total"] == COUNTS["Immunization"]
    assert len(page["entry"]) == 10
    assert any(link["relation"] == "next" for link in page["link"])


def test_search_by_patient_and_code_with_system(api: Api, ops_token: str) -> None:
    expected = [
        r["id"]
        for r in RESOURCES
        if r["resourceType"] == "Observation"
        and r["subject"]["reference"].endswith(api.patient_a)
        and any(c["code"] == "8302-2" for c in r["code"]["coding"])
    ]
    query = f"/Observation?patient={api.patient_a}&code=http://loinc.org|8302-2&_count=100"
    bundle = api.get(query, ops_token).json()
    assert bundle["total"] == len(expected) > 0
    assert sorted(ids_of(bundle)) == sorted(expected)
    # The same search with another system finds nothing.
    other = api.get(
        f"/Observation?patient={api.patient_a}&code=http://snomed.info/sct|8302-2", ops_token
    )
    assert other.json()["total"] == 0


def test_paging_follows_next_links_to_every_match_once(api: Api, ops_token: str) -> None:
    url = "/Observation?_count=40"
    seen: list[str] = []
    for _ in range(20):
        bundle = api.get(url, ops_token).json()
        seen.extend(ids_of(bundle))
        following = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        if not following:
            break
        url = following[0].removeprefix(api.base_url)
    assert len(seen) == len(set(seen)) == COUNTS["Observation"]


@pytest.mark.parametrize(
    ("query", "check"),
    [
        ("birthdate=2018-06-07", lambda p: p["birthDate"] == "2018-06-07"),
        ("birthdate=ge1980", lambda p: p["birthDate"] >= "1980"),
        ("birthdate=lt1980-01-01", lambda p: p["birthDate"] < "1980-01-01"),
        ("birthdate=gt2018-05", lambda p: p["birthDate"] >= "2018-06"),
        ("birthdate=le1934", lambda p: p["birthDate"] < "1935"),
        ("family=gusik", lambda p: p["name"][0]["family"].lower().startswith("gusik")),
        (
            "name=ANNMARIE",
            lambda p: any(g.lower().startswith("annmarie") for g in p["name"][0]["given"]),
        ),
        ("gender=female", lambda p: p["gender"] == "female"),
    ],
)
def test_patient_search_parameters(api: Api, ops_token: str, query: str, check: object) -> None:
    expected = sorted(r["id"] for r in RESOURCES if r["resourceType"] == "Patient" and check(r))  # type: ignore[operator]
    found = sorted(ids_of(api.get(f"/Patient?{query}", ops_token).json()))
    assert found == expected
    assert 0 < len(found) < COUNTS["Patient"]


def test_date_prefixes_on_observation_effective(api: Api, ops_token: str) -> None:
    observations = [r for r in RESOURCES if r["resourceType"] == "Observation"]
    after = [r["id"] for r in observations if r["effectiveDateTime"][:10] >= "2015-01-01"]
    bundle = api.get("/Observation?date=ge2015-01-01&_count=1000", ops_token).json()
    assert sorted(ids_of(bundle)) == sorted(after)
    before = api.get("/Observation?date=lt2015-01-01&_summary=count", ops_token).json()
    assert before["total"] == len(observations) - len(after)
    assert "entry" not in before or before["entry"] == []


def test_identifier_status_id_and_last_updated(api: Api, ops_token: str) -> None:
    patient = next(r for r in RESOURCES if r["id"] == api.patient_a)
    identifier = patient["identifier"][0]
    found = api.get(f"/Patient?identifier={identifier['system']}|{identifier['value']}", ops_token)
    assert ids_of(found.json()) == [api.patient_a]
    assert ids_of(
        api.get(f"/Patient?_id={api.patient_a},{api.patient_b}", ops_token).json()
    ) == sorted([api.patient_a, api.patient_b])
    finals = api.get("/Observation?status=final&_summary=count", ops_token).json()["total"]
    assert finals == sum(
        1 for r in RESOURCES if r["resourceType"] == "Observation" and r["status"] == "final"
    )
    assert (
        api.get("/Patient?_lastUpdated=gt2000-01-01&_summary=count", ops_token).json()["total"] >= 3
    )
    assert (
        api.get("/Patient?_lastUpdated=lt2000-01-01&_summary=count", ops_token).json()["total"] == 0
    )


def test_include_and_revinclude(api: Api, ops_token: str) -> None:
    bundle = api.get(
        f"/Observation?patient={api.patient_a}&_count=5&_include=Observation:patient", ops_token
    ).json()
    assert len(ids_of(bundle)) == 5
    assert ids_of(bundle, "include") == [api.patient_a]
    reverse = api.get(
        f"/Patient?_id={api.patient_a}&_revinclude=Encounter:patient", ops_token
    ).json()
    encounters = [
        r["id"]
        for r in RESOURCES
        if r["resourceType"] == "Encounter" and r["subject"]["reference"].endswith(api.patient_a)
    ]
    assert sorted(ids_of(reverse, "include")) == sorted(encounters)


def test_elements_subset_the_resources_and_say_so(api: Api, ops_token: str) -> None:
    bundle = api.get(f"/Patient?_id={api.patient_a}&_elements=birthDate", ops_token).json()
    patient = bundle["entry"][0]["resource"]
    assert set(patient) == {"resourceType", "id", "meta", "birthDate"}
    assert "SUBSETTED" in [tag["code"] for tag in patient["meta"]["tag"]]


def test_unknown_parameters_lenient_by_default_strict_on_request(api: Api, ops_token: str) -> None:
    lenient = api.get("/Patient?colour=blue", ops_token)
    assert lenient.status_code == 200
    outcomes = [e for e in lenient.json()["entry"] if e["search"]["mode"] == "outcome"]
    assert "colour" in outcomes[0]["resource"]["issue"][0]["diagnostics"]
    assert lenient.json()["total"] == COUNTS["Patient"]
    strict = api.get("/Patient?colour=blue", ops_token, headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400
    assert "colour" in strict.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    "query",
    [
        "_count=abc",
        "_count=100000",
        "birthdate=notadate",
        "birthdate=2020-13-45",
        "_include=Nope:x",
        "general-practitioner=a/b/c",
        "_elements=a-b",
    ],
)
def test_malformed_search_values_are_400(api: Api, ops_token: str, query: str) -> None:
    response = api.get(f"/Patient?{query}", ops_token)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_a_stored_number_beyond_a_double_is_served(tmp_path: Path) -> None:
    # Valid JSON (RFC 8259) that NDJSON ingestion stores as received; the API must serve it.
    copy_template(tmp_path / "warehouse")
    line = (
        b'{"resourceType": "Observation", "id": "huge", "status": "final", '
        b'"code": {"text": "x"}, "valueQuantity": {"value": 1e999}}\n'
    )
    (tmp_path / "huge.ndjson").write_bytes(line)
    warehouse = Warehouse(Settings(warehouse=tmp_path / "warehouse", lock_timeout=60))
    assert ingest(warehouse, [str(tmp_path / "huge.ndjson")]).summary()["created"] == 1
    for api in start_api(tmp_path):
        token = api.token("ops", "system/*.cruds")
        read = api.get("/Observation/huge", token)
        assert read.status_code == 200
        assert b'"value":1e999' in read.content.replace(b" ", b"")
        search = api.get("/Observation?_id=huge", token)
        assert search.status_code == 200
        assert b"1e999" in search.content
