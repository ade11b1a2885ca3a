"""Objection: a patient who objects never enters the research zone, whatever path is taken."""

from __future__ import annotations

import pytest

from hygie.errors import InputError
from hygie.omop.build import build_omop
from hygie.privacy.commands import objection_add, objection_list, objection_remove
from hygie.privacy.keys import load_key
from hygie.privacy.pseudonyms import Pseudonymizer
from hygie.privacy.research import build_research_zone
from tests.privacy.conftest import TODAY, Zone


def research_count(zone: Zone, sql: str) -> int:
    with zone.warehouse.reading() as engine:
        return int(engine.fetchall(sql)[0][0])


def test_an_objection_removes_the_patient_at_the_next_build(own_zone: Zone) -> None:
    patient = own_zone.care("Patient")[0]
    pseudonym = Pseudonymizer(
        load_key("study", own_zone.warehouse.path, own_zone.key_path)
    ).resource_id("Patient", str(patient["id"]))
    own_resources = (
        f"SELECT count(*) FROM research.resource WHERE resource::VARCHAR LIKE '%{pseudonym}%'"
    )
    before_total = research_count(own_zone, "SELECT count(*) FROM research.resource")
    before_own = research_count(own_zone, own_resources)
    assert before_own > 5
    with own_zone.warehouse.writing() as engine:
        build_omop(engine, source="research.resource", full=True)
        persons_before = engine.fetchall("SELECT count(*) FROM omop.person")[0][0]

    objection_add(own_zone.warehouse, f"Patient/{patient['id']}", "dpo", "refus oral")
    summary = build_research_zone(
        own_zone.warehouse, "study", key_path=own_zone.key_path, today=TODAY
    )

    assert summary.objecting_patients == 1
    assert summary.resources_withheld_by_objection == before_own
    assert summary.patients_written == 119
    assert research_count(own_zone, own_resources) == 0
    assert (
        research_count(own_zone, "SELECT count(*) FROM research.resource")
        == before_total - before_own
    )
    # The OMOP tables built from the research zone follow at their next (incremental) build.
    with own_zone.warehouse.writing() as engine:
        build_omop(engine, source="research.resource")
        persons = engine.fetchall("SELECT person_source_value FROM omop.person")
        derived = engine.fetchall(
            "SELECT count(*) FROM omop.hygie_lineage WHERE resource_id = ?", [pseudonym]
        )[0][0]
    assert len(persons) == persons_before - 1
    assert (pseudonym,) not in persons
    assert derived == 0


def test_an_objection_by_identifier_matches_the_patient(own_zone: Zone) -> None:
    patient = own_zone.care("Patient")[1]
    ins = next(i for i in patient["identifier"] if i["system"] == "urn:oid:1.2.250.1.213.1.4.8")  # type: ignore[union-attr]
    objection_add(own_zone.warehouse, f"{ins['system']}|{ins['value']}", "dpo")
    summary = build_research_zone(
        own_zone.warehouse, "study", key_path=own_zone.key_path, today=TODAY
    )
    assert summary.objecting_patients == 1 and summary.patients_written == 119


def test_withdrawing_an_objection_brings_the_patient_back(own_zone: Zone) -> None:
    key = f"Patient/{own_zone.care('Patient')[2]['id']}"
    first = objection_add(own_zone.warehouse, key, "dpo", "refus")
    assert objection_add(own_zone.warehouse, key, "dpo") == first  # not recorded twice
    assert [o.patient_key for o in objection_list(own_zone.warehouse)] == [key]
    assert objection_remove(own_zone.warehouse, key, "dpo", "retrait du refus") == 1
    assert objection_list(own_zone.warehouse) == []
    history = objection_list(own_zone.warehouse, include_withdrawn=True)
    assert len(history) == 1 and history[0].withdrawn_by == "dpo" and history[0].reason == "refus"
    summary = build_research_zone(
        own_zone.warehouse, "study", key_path=own_zone.key_path, today=TODAY
    )
    assert summary.objecting_patients == 0 and summary.patients_written == 120
    with pytest.raises(InputError, match="no objection in force"):
        objection_remove(own_zone.warehouse, key, "dpo")


@pytest.mark.parametrize("bad", ["", "Patient/", "sys|", "|value", "a b c"])
def test_a_patient_must_be_named_by_id_or_identifier(own_zone: Zone, bad: str) -> None:
    with pytest.raises(InputError):
        objection_add(own_zone.warehouse, bad, "dpo")
