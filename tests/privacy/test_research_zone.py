"""The research zone built from a synthetic care zone: no direct identifier, joins that work,
dates that keep their intervals, stable pseudonyms per key and project."""

from __future__ import annotations

import base64
import re
from datetime import datetime
from pathlib import Path

import orjson
import pytest

from hygie.errors import ConfigError
from hygie.privacy.keys import init_key, load_key
from hygie.privacy.pseudonyms import Pseudonymizer
from hygie.privacy.research import build_research_zone
from hygie.privacy.text.patterns import MONTHS
from tests.privacy.conftest import TODAY, Zone

HEX_ID = re.compile(r"[0-9a-f]{32,64}")
FRENCH_MONTHS = [m for m in MONTHS if m not in ("fevrier", "aout", "decembre")]


def research_text(zone: Zone) -> str:
    """Every research resource as JSON, plus every attachment decoded, without pseudonyms."""
    parts = []
    for resource in zone.research():
        parts.append(orjson.dumps(resource).decode())
        for content in resource.get("content", []):  # type: ignore[union-attr]
            data = content.get("attachment", {}).get("data")
            if data:
                parts.append(base64.b64decode(data).decode("utf-8"))
    return HEX_ID.sub("", "\n".join(parts))


def direct_identifiers(zone: Zone) -> dict[str, set[str]]:
    """The direct identifiers of the care zone, by kind."""
    found: dict[str, set[str]] = {k: set() for k in ("name", "number", "email", "street", "birth")}
    for person in zone.care("Patient") + zone.care("Practitioner"):
        for name in person.get("name", []):  # type: ignore[union-attr]
            found["name"].update(p for p in [name.get("family"), *name.get("given", [])] if p)
        for identifier in person.get("identifier", []):  # type: ignore[union-attr]
            found["number"].add(identifier["value"])
        for telecom in person.get("telecom", []):  # type: ignore[union-attr]
            kind = "email" if telecom["system"] == "email" else "number"
            found[kind].add(telecom["value"])
        for address in person.get("address", []):  # type: ignore[union-attr]
            found["street"].update(address.get("line", []))
        if "birthDate" in person:
            found["birth"].add(str(person["birthDate"]))
    for encounter in zone.care("Encounter"):
        for identifier in encounter.get("identifier", []):  # type: ignore[union-attr]
            found["number"].add(identifier["value"])
    return found


def birth_date_forms(iso: str) -> list[str]:
    year, month, day = (int(x) for x in iso.split("-"))
    first = "1er" if day == 1 else str(day)
    return [
        iso,
        f"{day:02d}/{month:02d}/{year}",
        f"{day:02d}-{month:02d}-{year}",
        f"{first} {FRENCH_MONTHS[month - 1]} {year}",
    ]


def test_the_build_copies_every_resource_type_of_the_policy(zone: Zone) -> None:
    assert zone.summary.resources_read > 10_000
    assert zone.summary.resources_written == zone.summary.resources_read
    assert zone.summary.patients_written == 120
    assert zone.summary.written_by_type["DocumentReference"] > 100


def test_no_direct_identifier_of_the_care_zone_is_left_anywhere(zone: Zone) -> None:
    text = research_text(zone)
    lowered = text.lower()
    identifiers = direct_identifiers(zone)
    tokens = set(re.findall(r"[0-9A-Za-z]+", text))
    digit_runs = "|".join(re.sub(r"\D", "", run) for run in re.findall(r"\d[\d\s.\-]*", text))
    for number in identifiers["number"]:
        assert number not in tokens, number
        digits = re.sub(r"\D", "", number)
        if len(digits) >= 7:
            assert digits[-9:] not in digit_runs, number
    for value in identifiers["email"] | identifiers["street"]:
        assert value.lower() not in lowered, value
    words = set(re.findall(r"[A-Za-zÀ-ÿ'-]+", text))
    leaked = {name for name in identifiers["name"] if name in words or name.upper() in words}
    assert leaked == set()


def test_no_exact_birth_date_is_left_in_the_patient_records(zone: Zone) -> None:
    pseudonymizer = Pseudonymizer(load_key("study", zone.warehouse.path, zone.key_path))
    text_of: dict[str, list[str]] = {}
    for resource in zone.research():
        subject = str(resource.get("subject", {}).get("reference", ""))  # type: ignore[union-attr]
        owner = f"Patient/{resource['id']}" if resource["resourceType"] == "Patient" else subject
        text_of.setdefault(owner, []).append(orjson.dumps(resource).decode())
        for content in resource.get("content", []):  # type: ignore[union-attr]
            text_of[owner].append(base64.b64decode(content["attachment"]["data"]).decode())
    checked = 0
    for patient in zone.care("Patient"):
        owner = f"Patient/{pseudonymizer.resource_id('Patient', str(patient['id']))}"
        text = "\n".join(text_of[owner])
        for form in birth_date_forms(str(patient["birthDate"])):
            assert form not in text, form
        checked += 1
    assert checked == 120


def test_patients_keep_only_sex_birth_year_and_departement(zone: Zone) -> None:
    patients = [r for r in zone.research() if r["resourceType"] == "Patient"]
    keys = {key for patient in patients for key in patient}
    assert keys <= {
        "resourceType",
        "id",
        "gender",
        "birthDate",
        "deceasedBoolean",
        "deceasedDateTime",
        "address",
        "generalPractitioner",
        "managingOrganization",
    }
    assert all(re.fullmatch(r"\d{4}", str(p["birthDate"])) for p in patients)
    districts = {a["district"] for p in patients for a in p.get("address", [])}  # type: ignore[union-attr]
    assert districts and all(re.fullmatch(r"\d{2,3}|2[AB]", d) for d in districts)


def test_every_reference_resolves_inside_the_research_zone(zone: Zone) -> None:
    resources = zone.research()
    ids = {f"{r['resourceType']}/{r['id']}" for r in resources}
    references = re.findall(r'"reference":"([^"#][^"]*)"', orjson.dumps(resources).decode())
    assert len(references) > 20_000
    assert {ref for ref in references if ref not in ids} == set()


def test_pseudonyms_are_the_keyed_hmac_of_the_care_ids(zone: Zone) -> None:
    pseudonymizer = Pseudonymizer(load_key("study", zone.warehouse.path, zone.key_path))
    care_ids = {p["id"] for p in zone.care("Patient")}
    research_ids = {r["id"] for r in zone.research() if r["resourceType"] == "Patient"}
    assert research_ids == {pseudonymizer.resource_id("Patient", i) for i in care_ids}
    assert not care_ids & research_ids
    assert all(len(str(i)) == 64 for i in research_ids)


def test_dates_of_a_patient_move_together_and_intervals_stay_exact(zone: Zone) -> None:
    pseudonymizer = Pseudonymizer(load_key("study", zone.warehouse.path, zone.key_path))
    research = {(r["resourceType"], r["id"]): r for r in zone.research()}
    checked = 0
    by_patient: dict[str, list[tuple[datetime, datetime]]] = {}
    for resource_type, field in (("Encounter", "period"), ("Observation", "effectiveDateTime")):
        for care in zone.care(resource_type):
            value = care[field]["start"] if field == "period" else care[field]  # type: ignore[index]
            moved = research[
                (resource_type, pseudonymizer.resource_id(resource_type, str(care["id"])))
            ]
            new = moved[field]["start"] if field == "period" else moved[field]  # type: ignore[index]
            patient = str(care["subject"]["reference"])  # type: ignore[index]
            by_patient.setdefault(patient, []).append(
                (datetime.fromisoformat(str(value)), datetime.fromisoformat(str(new)))
            )
    for pairs in by_patient.values():
        shifts = {new - old for old, new in pairs}
        assert len(shifts) == 1  # one shift per patient: every interval is kept exactly
        (shift,) = shifts
        assert shift.days != 0 and abs(shift.days) <= 180 and shift.seconds == 0
        checked += len(pairs)
    assert checked > 5_000
    assert len({pairs[0][1] - pairs[0][0] for pairs in by_patient.values()}) > 50


def test_the_same_key_and_project_give_the_same_zone(zone: Zone, own_zone: Zone) -> None:
    again = build_research_zone(
        own_zone.warehouse, "study", key_path=own_zone.key_path, today=TODAY
    )
    assert again.resources_written == zone.summary.resources_written
    query = "SELECT resource_type, id, md5(CAST(resource AS VARCHAR)) FROM research.resource"
    with zone.warehouse.reading() as engine:
        first = set(engine.fetchall(query))
    with own_zone.warehouse.reading() as engine:
        second = set(engine.fetchall(query))
    assert first == second


def test_another_project_gets_unlinkable_pseudonyms(own_zone: Zone, keys_dir: Path) -> None:
    with own_zone.warehouse.reading() as engine:
        before = {row[0] for row in engine.fetchall("SELECT id FROM research.resource")}
    other_key = init_key("other", own_zone.warehouse.path, keys_dir / "other.key", force=True)
    build_research_zone(own_zone.warehouse, "other", key_path=other_key, today=TODAY)
    with own_zone.warehouse.reading() as engine:
        after = {row[0] for row in engine.fetchall("SELECT id FROM research.resource")}
        logged = engine.fetchall("SELECT project FROM research.build_log ORDER BY build_id")
    assert len(after) == len(before) and not before & after
    assert [row[0] for row in logged] == ["study", "other"]


def test_the_build_refuses_to_run_without_the_key(own_zone: Zone, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="hygie keys init"):
        build_research_zone(own_zone.warehouse, "study", key_path=tmp_path / "missing.key")


def test_the_omop_build_reads_the_research_zone_unchanged(own_zone: Zone) -> None:
    from hygie.omop.build import build_omop

    with own_zone.warehouse.writing() as engine:
        summary = build_omop(engine, source="research.resource", full=True)
        sources = engine.fetchall("SELECT DISTINCT person_source_value FROM omop.person")
    assert summary.rows("person") == 120
    assert summary.rows("note") > 100
    assert all(HEX_ID.fullmatch(row[0]) for row in sources)
