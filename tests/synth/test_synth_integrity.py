"""Clean output is valid bulk FHIR: types, ids, references, dates within each patient's life."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from hygie.synth import SynthOptions, generate

from .helpers import (
    R4_RESOURCE_TYPES,
    as_datetime,
    event_times,
    patient_of,
    read_ndjson,
    references,
)

ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2})?$")

Resources = dict[str, list[dict[str, Any]]]


def test_types_and_ids_are_valid_and_unique(resources: Resources) -> None:
    for kind, items in resources.items():
        assert kind in R4_RESOURCE_TYPES
        ids = [r["id"] for r in items]
        assert all(r["resourceType"] == kind for r in items)
        assert all(ID.match(i) for i in ids), kind
        assert len(ids) == len(set(ids)), f"duplicate ids in {kind}"


def test_every_reference_resolves(resources: Resources) -> None:
    written = {f"{kind}/{r['id']}" for kind, items in resources.items() for r in items}
    dangling = []
    for items in resources.values():
        for resource in items:
            contained = {f"#{c['id']}" for c in resource.get("contained", ())}
            for ref in references(resource):
                if ref not in written and ref not in contained:
                    dangling.append((resource["resourceType"], ref))
    assert not dangling, dangling[:5]


def test_expected_resource_types_are_present(resources: Resources) -> None:
    expected = {
        "Patient", "Organization", "Location", "Practitioner", "Encounter", "Condition",
        "Observation", "DiagnosticReport", "MedicationRequest", "MedicationAdministration",
        "MedicationDispense", "Procedure", "Immunization", "DocumentReference", "Device",
        "AllergyIntolerance",
    }  # fmt: skip
    assert expected <= set(resources)
    classes = {e["class"]["code"] for e in resources["Encounter"]}
    assert classes == {"IMP", "EMER", "AMB", "VR"}


def test_no_event_before_birth_or_after_death(
    resources: Resources, patients: dict[str, dict[str, Any]]
) -> None:
    births = {pid: datetime.fromisoformat(p["birthDate"]) for pid, p in patients.items()}
    deaths = {
        pid: as_datetime(p["deceasedDateTime"])
        for pid, p in patients.items()
        if "deceasedDateTime" in p
    }
    assert deaths, "some patients die over eleven years"
    checked = 0
    for kind, items in resources.items():
        if kind == "Patient":
            continue
        for resource in items:
            owner = patient_of(resource)
            if owner is None:
                continue
            for value in event_times(resource):
                assert INSTANT.match(value), (kind, value)
                moment = as_datetime(value)
                assert moment >= births[owner], (kind, resource["id"], value)
                if owner in deaths:
                    assert moment <= deaths[owner], (kind, resource["id"], value)
                assert moment.date() <= date(2026, 6, 30)
                checked += 1
    assert checked > 10_000


def test_deaths_are_plausible(patients: dict[str, dict[str, Any]]) -> None:
    deceased = [p for p in patients.values() if "deceasedDateTime" in p]
    share = len(deceased) / len(patients)
    assert 0.03 < share < 0.4
    old = [p for p in deceased if int(p["deceasedDateTime"][:4]) - int(p["birthDate"][:4]) >= 65]
    assert len(old) > len(deceased) / 2


def test_deceased_inpatients_are_discharged_as_expired(
    resources: Resources, patients: dict[str, dict[str, Any]]
) -> None:
    expired = [
        e for e in resources["Encounter"]
        if e.get("hospitalization", {}).get("dischargeDisposition", {}).get("coding", [{}])[0].get("code") == "exp"
    ]  # fmt: skip
    assert expired
    for encounter in expired:
        patient = patients[encounter["subject"]["reference"].split("/")[1]]
        assert encounter["period"]["end"] == patient["deceasedDateTime"]


def test_encounters_carry_what_the_stays_need(resources: Resources) -> None:
    for encounter in resources["Encounter"]:
        assert (
            encounter["period"]["start"] < encounter["period"]["end"]
            or encounter["period"]["start"][:10] <= encounter["period"]["end"][:10]
        )
        assert encounter["serviceProvider"]["reference"].startswith("Organization/")
        assert encounter["participant"][0]["individual"]["reference"].startswith("Practitioner/")
        assert encounter["location"][0]["location"]["reference"].startswith("Location/")
        if encounter["class"]["code"] == "IMP":
            assert encounter["hospitalization"]["dischargeDisposition"]["coding"][0]["code"]


def test_conditions_are_coded_in_icd10_and_snomed(resources: Resources) -> None:
    for condition in resources["Condition"]:
        systems = [c["system"] for c in condition["code"]["coding"]]
        assert systems == ["http://hl7.org/fhir/sid/icd-10", "http://snomed.info/sct"]
        assert condition["clinicalStatus"]["coding"][0]["code"] in {"active", "resolved"}


def test_medications_are_coded_in_atc_and_cip13(resources: Resources) -> None:
    for request in resources["MedicationRequest"]:
        atc, cip = request["medicationCodeableConcept"]["coding"]
        assert atc["system"] == "http://www.whocc.no/atc" and re.match(
            r"^[A-Z]\d\d[A-Z]{2}\d\d$", atc["code"]
        )
        assert len(cip["code"]) == 13 and cip["code"].startswith("34009")
        assert request["dosageInstruction"][0]["timing"]["repeat"]["frequency"] >= 1
    for dispense in resources["MedicationDispense"]:
        medication = dispense["contained"][0]
        assert dispense["medicationReference"]["reference"] == "#" + medication["id"]
        assert (
            medication["batch"]["lotNumber"]
            and medication["batch"]["expirationDate"] > dispense["whenHandedOver"][:10]
        )


def test_treatments_follow_conditions(resources: Resources) -> None:
    conditions: dict[str, set[str]] = {}
    for condition in resources["Condition"]:
        conditions.setdefault(condition["subject"]["reference"], set()).add(
            condition["code"]["coding"][0]["code"]
        )
    for request in resources["MedicationRequest"]:
        if request["medicationCodeableConcept"]["coding"][0]["code"] == "A10BA02":  # metformin
            assert "E11.9" in conditions[request["subject"]["reference"]]


def test_part_size_splits_files_in_numbered_parts(tmp_path: Path) -> None:
    summary = generate(SynthOptions(patients=20, seed=3, out_dir=tmp_path / "parts", part_size=100))
    names = {p.name for p in summary.files}
    assert "Observation.000.ndjson" in names and "Observation.001.ndjson" in names
    assert "Observation.ndjson" not in names and "Patient.ndjson" in names
    parts = sorted((tmp_path / "parts").glob("Observation.*.ndjson"))
    sizes = [p.read_bytes().count(b"\n") for p in parts]
    assert all(size == 100 for size in sizes[:-1]) and 0 < sizes[-1] <= 100
    assert sum(sizes) == summary.resources_by_type["Observation"]
    assert len(read_ndjson(tmp_path / "parts")["Observation"]) == sum(sizes)
