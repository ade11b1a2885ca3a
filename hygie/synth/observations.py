"""Observations (vital signs, laboratory results) and DiagnosticReports of the visits.

Codes, units, reference ranges and limits come from ``observations.toml``. Values follow the
patient's physiology (:mod:`hygie.synth.physiology`) and the acute episode of the visit; clean
values are always clipped to the physiological limits of the table.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from hygie.synth import tables
from hygie.synth.chart import Chart
from hygie.synth.datatypes import (
    CATEGORY_LAB,
    CATEGORY_VITAL,
    INTERPRETATIONS,
    LOINC,
    REPORT_CATEGORY_LAB,
    Resource,
    coding,
    concept,
    instant,
    quantity,
    rounded,
)
from hygie.synth.encounters import Visit
from hygie.synth.physiology import (
    ckd_epi_2021,
    creatinine_for_egfr,
    egfr_at,
    hba1c_at,
    height_at,
    on_medication,
    weight_at,
)

STATIN = ("atorvastatin_40", "atorvastatin_20", "rosuvastatin_10")


@cache
def code_of(key: str) -> Resource:
    """LOINC CodeableConcept of a measure or panel."""
    spec = tables.measures().get(key) or tables.panels()[key]
    return concept(coding(LOINC, spec.loinc, spec.display))


@cache
def reference_range(
    key: str, female: bool, elderly: bool
) -> tuple[list[dict[str, Any]], float | None, float | None]:
    """(referenceRange, low, high) of a lab for the patient's sex and age group."""
    spec = tables.measures()[key]
    low, high = spec.range
    if female and spec.range_female is not None:
        low, high = spec.range_female
    if elderly and spec.range_elderly is not None:
        low, high = spec.range_elderly
    entry: dict[str, Any] = {}
    if low is not None:
        entry["low"] = quantity(rounded(low, spec.decimals), spec.unit)
    if high is not None:
        entry["high"] = quantity(rounded(high, spec.decimals), spec.unit)
    return [entry], low, high


def clip(key: str, value: float) -> float | int:
    """Clip to the physiological limits and round to the reported precision."""
    spec = tables.measures()[key]
    low, high = spec.limits
    return rounded(min(max(value, low), high), spec.decimals)


def observation(
    chart: Chart,
    key: str,
    value: float | int,
    when: str,
    encounter_id: str | None,
    category: list[Resource],
) -> Resource:
    """One Observation with a valueQuantity."""
    resource: Resource = {
        "resourceType": "Observation",
        "id": chart.new_id(),
        "status": "final",
        "category": category,
        "code": code_of(key),
        "subject": chart.patient_ref,
        "effectiveDateTime": when,
        "valueQuantity": quantity(value, tables.measures()[key].unit),
    }
    if encounter_id is not None:
        resource["encounter"] = chart.ref("Encounter", encounter_id)
    return resource


def blood_pressure(
    chart: Chart, systolic: int, diastolic: int, when: str, encounter_id: str | None
) -> Resource:
    """Blood pressure panel 85354-9 with its systolic and diastolic components."""
    measures = tables.measures()
    resource: Resource = {
        "resourceType": "Observation",
        "id": chart.new_id(),
        "status": "final",
        "category": CATEGORY_VITAL,
        "code": code_of("bp_panel"),
        "subject": chart.patient_ref,
        "effectiveDateTime": when,
        "component": [
            {
                "code": code_of("systolic"),
                "valueQuantity": quantity(systolic, measures["systolic"].unit),
            },
            {
                "code": code_of("diastolic"),
                "valueQuantity": quantity(diastolic, measures["diastolic"].unit),
            },
        ],
    }
    if encounter_id is not None:
        resource["encounter"] = chart.ref("Encounter", encounter_id)
    return resource


def blood_pressure_values(chart: Chart, when: datetime, acute: float = 0.0) -> tuple[int, int]:
    """Systolic and diastolic pressure of the patient at ``when``."""
    rng = chart.rng
    sbp = chart.state["sbp"] + rng.gauss(0.0, 8.0) + acute
    if chart.has("hypertension", when.date()):
        sbp += 16.0
    if chart.age_at(when.date()) < 12:
        sbp -= 20.0
    systolic = clip("systolic", sbp)
    diastolic = clip("diastolic", min(sbp * 0.58 + rng.gauss(0.0, 5.0), systolic - 15))
    return int(systolic), int(diastolic)


def heart_rate_value(chart: Chart, when: datetime, acute: float = 0.0) -> int:
    """Heart rate at ``when`` (AF faster and more variable, beta-blockers slower)."""
    rng = chart.rng
    rate = chart.state["hr"] + rng.gauss(0.0, 6.0) + acute
    if chart.has("atrial_fibrillation", when.date()):
        rate += 12.0 + rng.gauss(0.0, 10.0)
    if on_medication(chart, ("bisoprolol_5", "bisoprolol_2_5")):
        rate -= 8.0
    age = chart.age_at(when.date())
    if age < 12:
        rate += 40.0 - 3.0 * age
    return int(clip("heart_rate", rate))


def vital_signs(chart: Chart, visit: Visit, when: datetime, encounter_id: str) -> list[Resource]:
    """Vital signs taken at a visit; full set at the emergency department and in stays."""
    rng = chart.rng
    at = instant(when)
    day = when.date()
    episode = visit.episode
    infection = episode is not None and episode.infection
    decompensation = episode is not None and episode.key == "heart_failure_decompensation"
    out = []
    weight = weight_at(chart, day) + (rng.uniform(2.0, 5.0) if decompensation else 0.0)
    weight_value = clip("weight", weight + rng.gauss(0.0, 0.4))
    out.append(observation(chart, "weight", weight_value, at, encounter_id, CATEGORY_VITAL))
    adult = chart.age_at(day) >= 18
    if not adult or visit.kind == "IMP" or rng.random() < 0.3:
        height = clip("height", height_at(chart, day))
        out.append(observation(chart, "height", height, at, encounter_id, CATEGORY_VITAL))
        if adult:
            bmi = clip("bmi", float(weight_value) / (float(height) / 100.0) ** 2)
            out.append(observation(chart, "bmi", bmi, at, encounter_id, CATEGORY_VITAL))
    systolic, diastolic = blood_pressure_values(chart, when, 8.0 if visit.kind == "EMER" else 0.0)
    out.append(blood_pressure(chart, systolic, diastolic, at, encounter_id))
    out.append(
        observation(
            chart,
            "heart_rate",
            heart_rate_value(chart, when, 15.0 if infection else 0.0),
            at,
            encounter_id,
            CATEGORY_VITAL,
        )
    )
    if visit.kind in ("EMER", "IMP"):
        spo2 = 97.5 + rng.gauss(0.0, 1.0)
        if chart.has("copd", day):
            spo2 -= 4.0
        if episode is not None and episode.key in (
            "pneumonia",
            "covid19",
            "copd_exacerbation",
            "bronchiolitis",
        ):
            spo2 -= rng.uniform(3.0, 9.0)
        if decompensation:
            spo2 -= rng.uniform(2.0, 6.0)
        out.append(
            observation(
                chart, "spo2", clip("spo2", min(spo2, 100.0)), at, encounter_id, CATEGORY_VITAL
            )
        )
        temperature = rng.gauss(36.8, 0.3) + (rng.uniform(1.2, 3.0) if infection else 0.0)
        out.append(
            observation(
                chart,
                "temperature",
                clip("temperature", temperature),
                at,
                encounter_id,
                CATEGORY_VITAL,
            )
        )
        respiratory = rng.gauss(16.0, 2.0) + (
            rng.uniform(4.0, 12.0) if infection or decompensation else 0.0
        )
        out.append(
            observation(
                chart,
                "respiratory_rate",
                clip("respiratory_rate", respiratory),
                at,
                encounter_id,
                CATEGORY_VITAL,
            )
        )
    return out


def panels_for(chart: Chart, visit: Visit) -> list[str]:
    """Laboratory panels ordered at a visit."""
    rng = chart.rng
    day = visit.start.date()
    diabetic = chart.has("t2_diabetes", day) or chart.has("t1_diabetes", day)
    if visit.kind in ("EMER", "IMP"):
        if (
            visit.kind == "EMER"
            and visit.episode is not None
            and not visit.episode.infection
            and rng.random() < 0.4
        ):
            return []
        panels = ["renal", "cbc", "inflammation"]
        if diabetic or visit.kind == "IMP":
            panels.append("diabetes" if diabetic else "glucose")
        key = visit.episode.key if visit.episode is not None else ""
        if chart.has("heart_failure", day) or key in (
            "heart_failure_decompensation",
            "myocardial_infarction",
            "chest_pain",
        ):
            panels.append("cardiac")
        if visit.kind == "IMP" and rng.random() < 0.15:
            panels.append("thyroid")
        return panels
    if visit.kind != "AMB":
        return []
    panels = []
    condition = visit.condition or ""
    if condition in ("t2_diabetes", "t1_diabetes"):
        panels.append("diabetes")
        if rng.random() < 0.7:
            panels.append("renal")
    elif condition == "ckd":
        panels += ["renal", "cbc"]
    elif condition == "heart_failure":
        panels += ["renal", "cardiac"]
    elif condition in ("dyslipidemia", "coronary_disease") and rng.random() < 0.6:
        panels.append("lipids")
    elif condition == "hypothyroidism":
        panels.append("thyroid")
    elif condition == "atrial_fibrillation" and rng.random() < 0.5:
        panels.append("renal")
    elif condition in ("breast_cancer", "colorectal_cancer", "lung_cancer", "prostate_cancer"):
        panels.append("cbc")
    return panels


def lab_values(chart: Chart, visit: Visit, when: datetime) -> dict[str, float | int]:
    """All lab values of the patient at ``when`` (only the ordered ones are reported)."""
    rng = chart.rng
    day = when.date()
    age = chart.age_at(day)
    female = chart.person.gender == "female"
    key = visit.episode.key if visit.episode is not None else ""
    infection = visit.episode is not None and visit.episode.infection
    values: dict[str, float | int] = {}
    egfr_target = egfr_at(chart, day) * (
        rng.uniform(0.65, 0.9) if infection or key == "heart_failure_decompensation" else 1.0
    )
    egfr_target *= math.exp(rng.gauss(0.0, 0.05))
    if age >= 18:
        creatinine = clip("creatinine", creatinine_for_egfr(egfr_target, age, female))
        values["creatinine"] = creatinine
        values["egfr"] = clip("egfr", ckd_epi_2021(float(creatinine), age, female))
    potassium = rng.gauss(4.2, 0.3)
    if chart.has("ckd", day) and egfr_target < 30:
        potassium += 0.5
    if on_medication(chart, ("spironolactone_25",)):
        potassium += 0.25
    if on_medication(chart, ("furosemide_40",)):
        potassium -= 0.2
    values["potassium"] = clip("potassium", potassium)
    sodium = rng.gauss(139.5, 2.0) - (
        rng.uniform(2.0, 7.0) if key == "heart_failure_decompensation" else 0.0
    )
    values["sodium"] = clip("sodium", sodium)
    hba1c = hba1c_at(chart, day) + rng.gauss(0.0, 0.25)
    values["hba1c"] = clip("hba1c", hba1c)
    glucose = (28.7 * hba1c - 46.7) / 18.0 * math.exp(rng.gauss(0.0, 0.12))
    if infection:
        glucose += 1.0
    if key == "hypoglycemia":
        glucose = rng.uniform(2.2, 3.4)
    values["glucose"] = clip("glucose", glucose)
    if chart.has("heart_failure", day) or key == "heart_failure_decompensation":
        ntprobnp = chart.state["ntprobnp_hf"] * math.exp(rng.gauss(0.0, 0.3))
        if key == "heart_failure_decompensation":
            ntprobnp *= rng.uniform(2.5, 5.0)
    else:
        ntprobnp = (40.0 + max(0, age - 50) * 6.0) * math.exp(rng.gauss(0.0, 0.5))
        if key == "myocardial_infarction":
            ntprobnp *= 4.0
    values["ntprobnp"] = clip("ntprobnp", ntprobnp)
    hemoglobin = chart.state["hb"] + rng.gauss(0.0, 0.4)
    if chart.has("ckd", day):
        hemoglobin -= max(0.0, (60.0 - egfr_target) / 25.0)
    if any(chart.has(c, day) for c in ("breast_cancer", "colorectal_cancer", "lung_cancer")):
        hemoglobin -= 0.8
    values["hemoglobin"] = clip("hemoglobin", hemoglobin)
    values["leukocytes"] = clip(
        "leukocytes", rng.gauss(13.5, 3.5) if infection else rng.gauss(6.8, 1.4)
    )
    crp = rng.uniform(40.0, 250.0) if infection else math.exp(rng.gauss(math.log(2.0), 0.8))
    values["crp"] = clip("crp", crp)
    tsh = chart.state["tsh"] * math.exp(rng.gauss(0.0, 0.15))
    if chart.has("hypothyroidism", day):
        tsh *= math.exp(rng.gauss(0.3, 0.7))
    values["tsh"] = clip("tsh", tsh)
    ldl = (
        chart.state["ldl"]
        + (0.45 if chart.has("dyslipidemia", day) else 0.0)
        + rng.gauss(0.0, 0.08)
    )
    if on_medication(chart, STATIN):
        ldl *= 0.6
    values["ldl"] = clip("ldl", ldl)
    return values


def lab_observation(
    chart: Chart, key: str, value: float | int, at: str, encounter_id: str, elderly: bool
) -> Resource:
    """A laboratory Observation with reference range and H/L/N interpretation."""
    resource = observation(chart, key, value, at, encounter_id, CATEGORY_LAB)
    ranges, low, high = reference_range(key, chart.person.gender == "female", elderly)
    flag = "N"
    if low is not None and value < low:
        flag = "L"
    elif high is not None and value > high:
        flag = "H"
    resource["referenceRange"] = ranges
    resource["interpretation"] = INTERPRETATIONS[flag]
    return resource


def laboratory(
    chart: Chart, visit: Visit, when: datetime, encounter_id: str, panels: list[str]
) -> tuple[list[Resource], dict[str, float | int]]:
    """Lab Observations and their DiagnosticReports; also returns the reported values."""
    if not panels:
        return [], {}
    values = lab_values(chart, visit, when)
    sampled = instant(when)
    issued = instant(min(when + timedelta(minutes=chart.rng.randint(45, 180)), visit.end))
    elderly = chart.age_at(when.date()) >= 75
    out: list[Resource] = []
    reported: dict[str, float | int] = {}
    all_panels = tables.panels()
    for panel_key in panels:
        labs = ("glucose",) if panel_key == "glucose" else all_panels[panel_key].labs
        report_code = code_of("glucose") if panel_key == "glucose" else code_of(panel_key)
        results = []
        for lab in labs:
            if lab not in values:
                continue
            obs = lab_observation(chart, lab, values[lab], sampled, encounter_id, elderly)
            obs["issued"] = issued
            results.append(chart.ref("Observation", obs["id"]))
            out.append(obs)
            reported[lab] = values[lab]
        if not results:
            continue
        out.append(
            {
                "resourceType": "DiagnosticReport",
                "id": chart.new_id(),
                "status": "final",
                "category": REPORT_CATEGORY_LAB,
                "code": report_code,
                "subject": chart.patient_ref,
                "encounter": chart.ref("Encounter", encounter_id),
                "effectiveDateTime": sampled,
                "issued": issued,
                "performer": [
                    chart.ref("Organization", chart.network.organization_ids[visit.hospital])
                ],
                "result": results,
            }
        )
    return out, reported
