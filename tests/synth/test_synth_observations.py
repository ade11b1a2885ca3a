"""Vital signs and labs: LOINC/UCUM, physiological ranges, CKD-EPI 2021, disease coherence."""

from __future__ import annotations

import statistics
from datetime import date
from typing import Any

from hygie.synth import tables

from .helpers import age_on, ckd_epi_2021

Resources = dict[str, list[dict[str, Any]]]

#: Physiological bounds written here independently of the generator's table.
BOUNDS = {
    "29463-7": (0.5, 350), "8302-2": (30, 230), "39156-5": (8, 80), "8867-4": (25, 220),
    "59408-5": (60, 100), "8310-5": (33, 42.5), "9279-1": (6, 60), "14682-9": (15, 1500),
    "98979-8": (2, 200), "4548-4": (3.5, 18), "14749-6": (1, 40), "2823-3": (2, 8),
    "2951-2": (110, 170), "33762-6": (5, 70000), "718-7": (4, 22), "6690-2": (0.5, 80),
    "1988-5": (0.1, 500), "3016-3": (0.005, 150), "13457-7": (0.2, 5), "99504-3": (40, 400),
    "8480-6": (50, 260), "8462-4": (25, 150),
}  # fmt: skip


def _code(observation: dict[str, Any]) -> str:
    return str(observation["code"]["coding"][0]["code"])


def test_observations_are_loinc_and_ucum_within_physiological_ranges(resources: Resources) -> None:
    units = {spec.loinc: spec.unit for spec in tables.measures().values()}
    for observation in resources["Observation"]:
        coding = observation["code"]["coding"][0]
        assert coding["system"] == "http://loinc.org"
        quantities = [observation["valueQuantity"]] if "valueQuantity" in observation else []
        if "component" in observation:
            assert coding["code"] == "85354-9"
            quantities = [c["valueQuantity"] for c in observation["component"]]
            assert [_code(c) for c in observation["component"]] == ["8480-6", "8462-4"]
            assert quantities[0]["value"] > quantities[1]["value"]
        assert quantities, observation["id"]
        codes = [coding["code"]] if "valueQuantity" in observation else ["8480-6", "8462-4"]
        for code, quantity in zip(codes, quantities, strict=True):
            low, high = BOUNDS[code]
            assert low <= quantity["value"] <= high, (code, quantity)
            assert quantity["system"] == "http://unitsofmeasure.org"
            assert quantity["code"] == units[code]
        category = observation["category"][0]["coding"][0]["code"]
        assert category in ("vital-signs", "laboratory")


def test_labs_have_reference_range_and_consistent_interpretation(resources: Resources) -> None:
    labs = [
        o for o in resources["Observation"] if o["category"][0]["coding"][0]["code"] == "laboratory"
    ]
    assert len(labs) > 1000
    for lab in labs:
        value = lab["valueQuantity"]["value"]
        reference = lab["referenceRange"][0]
        flag = lab["interpretation"][0]["coding"][0]["code"]
        low = reference.get("low", {}).get("value")
        high = reference.get("high", {}).get("value")
        expected = (
            "L"
            if low is not None and value < low
            else "H"
            if high is not None and value > high
            else "N"
        )
        assert flag == expected, (_code(lab), value, reference, flag)


def test_egfr_is_ckd_epi_2021_of_creatinine_age_and_sex(
    resources: Resources, patients: dict[str, dict[str, Any]]
) -> None:
    creatinine: dict[tuple[str, str], float] = {}
    egfr: dict[tuple[str, str], float] = {}
    for observation in resources["Observation"]:
        key = (observation["subject"]["reference"], observation["effectiveDateTime"])
        if _code(observation) == "14682-9":
            creatinine[key] = observation["valueQuantity"]["value"]
        elif _code(observation) == "98979-8":
            egfr[key] = observation["valueQuantity"]["value"]
    assert len(egfr) > 300 and set(egfr) == set(creatinine)
    for (subject, when), value in egfr.items():
        patient = patients[subject.split("/")[1]]
        age = age_on(date.fromisoformat(patient["birthDate"]), date.fromisoformat(when[:10]))
        assert age >= 18
        expected = ckd_epi_2021(creatinine[(subject, when)], age, patient["gender"] == "female")
        assert abs(value - expected) <= 1.0, (value, expected)


def _values_by_group(
    resources: Resources, code: str, condition_code: str
) -> tuple[list[float], list[float]]:
    sick = {
        c["subject"]["reference"]
        for c in resources["Condition"]
        if c["code"]["coding"][0]["code"] == condition_code
    }
    with_it, without = [], []
    for observation in resources["Observation"]:
        if _code(observation) == code:
            target = with_it if observation["subject"]["reference"] in sick else without
            target.append(observation["valueQuantity"]["value"])
    return with_it, without


def test_values_follow_the_disease(resources: Resources) -> None:
    hba1c, _ = _values_by_group(resources, "4548-4", "E11.9")
    assert hba1c and statistics.median(hba1c) >= 6.5  # HAS diagnostic threshold
    diabetic, other = _values_by_group(resources, "14749-6", "E11.9")
    assert diabetic and statistics.median(diabetic) > statistics.median(other) + 1.0
    ckd, other = _values_by_group(resources, "98979-8", "N18.3")
    assert ckd and statistics.median(ckd) < 60 < statistics.median(other)
    hf, other = _values_by_group(resources, "33762-6", "I50.9")
    assert hf and statistics.median(hf) > 2 * statistics.median(other)


def test_bmi_is_weight_over_height_squared(resources: Resources) -> None:
    by_time: dict[tuple[str, str], dict[str, float]] = {}
    for observation in resources["Observation"]:
        if _code(observation) in ("29463-7", "8302-2", "39156-5") and "encounter" in observation:
            key = (observation["encounter"]["reference"], observation["effectiveDateTime"])
            by_time.setdefault(key, {})[_code(observation)] = observation["valueQuantity"]["value"]
    checked = 0
    for values in by_time.values():
        if len(values) == 3:
            expected = values["29463-7"] / (values["8302-2"] / 100) ** 2
            assert abs(values["39156-5"] - expected) < 0.2
            checked += 1
    assert checked > 50


def test_diagnostic_reports_reference_their_observations(resources: Resources) -> None:
    observations = {o["id"]: o for o in resources["Observation"]}
    for report in resources["DiagnosticReport"]:
        assert report["result"]
        for ref in report["result"]:
            observation = observations[ref["reference"].split("/")[1]]
            assert observation["subject"] == report["subject"]
            assert observation["effectiveDateTime"] == report["effectiveDateTime"]
