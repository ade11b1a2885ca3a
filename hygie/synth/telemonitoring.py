"""Home telemonitoring: daily weights of heart-failure patients and CGM of diabetic patients.

Heart failure: French telemonitoring programmes (ETAPES from 2018, then common law in 2023)
follow patients with a connected scale, and often a blood-pressure monitor, for months. We give
it to a share of heart-failure patients for 3 to 6 months: one morning reading a day, missed
days (about 10 %, plus a few runs of 2-6 days away), and decompensations where weight rises by
more than 2 kg in 3 days (the ESC 2021 / HAS alert threshold) before treatment brings it back.

Diabetes: continuous glucose monitoring (FreeStyle-type sensors reimbursed in France from June
2017 for insulin-treated patients, HAS 2017) for one 14-day sensor, one reading every
15 minutes, with meal peaks, night hypoglycaemias (< 70 mg/dL) and hyperglycaemias (> 250
mg/dL), and signal losses.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

from hygie.synth import tables
from hygie.synth.chart import Chart
from hygie.synth.datatypes import CATEGORY_VITAL, Resource, concept, paris_offset, quantity
from hygie.synth.observations import blood_pressure_values, code_of, heart_rate_value
from hygie.synth.physiology import hba1c_at, weight_at

SHARE_HF_TELEMONITORED = 0.5
HF_PROGRAMME_FROM = date(2018, 1, 1)
SHARE_MISSED_DAY = 0.1
SHARE_GAP_START = 0.02
SHARE_WITH_BP_MONITOR = 0.6
DECOMPENSATIONS_PER_90_DAYS = 0.5

SHARE_CGM_T1 = 0.8
SHARE_CGM_INSULIN_T2 = 0.3
CGM_FROM = date(2017, 6, 1)
CGM_DAYS = 14
CGM_STEP_MINUTES = 15


def _device(chart: Chart, name: str, kind: str) -> Resource:
    return {
        "resourceType": "Device",
        "id": chart.new_id(),
        "status": "active",
        "manufacturer": "Fabricant synthétique",
        "serialNumber": f"SN{chart.rng.randrange(10**9):09d}",
        "deviceName": [{"name": name, "type": "user-friendly-name"}],
        "type": concept(text=kind),
        "patient": chart.patient_ref,
    }


def _reading(
    chart: Chart, key: str, value: float | int, when: str, device_ref: dict[str, str]
) -> Resource:
    return {
        "resourceType": "Observation",
        "id": chart.new_id(),
        "status": "final",
        "category": CATEGORY_VITAL,
        "code": code_of(key),
        "subject": chart.patient_ref,
        "effectiveDateTime": when,
        "valueQuantity": quantity(value, tables.measures()[key].unit),
        "device": device_ref,
    }


def _stamp(moment: datetime) -> str:
    return f"{moment.isoformat(timespec='seconds')}{paris_offset(moment.date())}"


def heart_failure_telemonitoring(chart: Chart) -> list[Resource]:
    """Devices and home readings of a telemonitored heart-failure patient (or nothing)."""
    rng = chart.rng
    hf = next((c for c in chart.conditions if c.key == "heart_failure"), None)
    if hf is None or rng.random() >= SHARE_HF_TELEMONITORED:
        return []
    start = max(hf.onset, chart.first_contact, HF_PROGRAMME_FROM) + timedelta(
        days=rng.randint(0, 120)
    )
    last = chart.followup_end.date() - timedelta(days=1)
    stop = min(start + timedelta(days=rng.randint(90, 180)), last)
    if (stop - start).days < 30:
        return []
    scale = _device(chart, "Balance connectée", "Pèse-personne connecté")
    out = [scale]
    scale_ref = chart.ref("Device", scale["id"])
    monitor_ref = None
    if rng.random() < SHARE_WITH_BP_MONITOR:
        monitor = _device(chart, "Tensiomètre connecté", "Tensiomètre automatique de bras")
        out.append(monitor)
        monitor_ref = chart.ref("Device", monitor["id"])
    days = (stop - start).days
    gain = [0.0] * (days + 8)
    for _ in range(max(1, round(DECOMPENSATIONS_PER_90_DAYS * days / 90 * rng.uniform(0.0, 2.0)))):
        first = rng.randint(5, max(days - 8, 6))
        per_day = rng.uniform(0.9, 1.5)
        for step in range(3):
            gain[first + step] += per_day * (step + 1)
        for step in range(4):
            gain[first + 3 + step] += per_day * 3 * (1 - (step + 1) / 5)
    away = 0
    for offset in range(days):
        day = start + timedelta(days=offset)
        if away > 0:
            away -= 1
            continue
        if rng.random() < SHARE_GAP_START:
            away = rng.randint(2, 6)
            continue
        if rng.random() < SHARE_MISSED_DAY:
            continue
        moment = datetime(day.year, day.month, day.day, 7, 0) + timedelta(
            minutes=rng.randint(0, 90)
        )
        when = _stamp(moment)
        weight = weight_at(chart, day) + gain[offset] + rng.gauss(0.0, 0.25)
        out.append(
            _reading(chart, "weight", round(min(max(weight, 20.0), 300.0), 1), when, scale_ref)
        )
        if monitor_ref is not None and rng.random() < 0.9:
            systolic, diastolic = blood_pressure_values(chart, moment)
            panel = _reading(chart, "bp_panel", 0, when, monitor_ref)
            del panel["valueQuantity"]
            panel["component"] = [
                {"code": code_of("systolic"), "valueQuantity": quantity(systolic, "mm[Hg]")},
                {"code": code_of("diastolic"), "valueQuantity": quantity(diastolic, "mm[Hg]")},
            ]
            out.append(panel)
            out.append(
                _reading(chart, "heart_rate", heart_rate_value(chart, moment), when, monitor_ref)
            )
    return out


def _meal_effect(minute_of_day: int, meals: tuple[tuple[int, float], ...]) -> float:
    effect = 0.0
    for at, amplitude in meals:
        elapsed = minute_of_day - at
        if 0 < elapsed < 300:
            x = elapsed / 50.0
            effect += amplitude * x * math.exp(1.0 - x)
    return effect


def continuous_glucose_monitoring(chart: Chart) -> list[Resource]:
    """A 14-day CGM sensor of an insulin-treated diabetic patient (or nothing)."""
    rng = chart.rng
    t1 = next((c for c in chart.conditions if c.key == "t1_diabetes"), None)
    t2 = next((c for c in chart.conditions if c.key == "t2_diabetes"), None)
    if t1 is not None:
        condition, share = t1, SHARE_CGM_T1
    elif t2 is not None and "insulin_glargine" in chart.medications.get("t2_diabetes", []):
        condition, share = t2, SHARE_CGM_INSULIN_T2
    else:
        return []
    if rng.random() >= share:
        return []
    first = max(condition.onset, chart.first_contact, CGM_FROM)
    last = chart.followup_end.date() - timedelta(days=CGM_DAYS + 1)
    if last <= first:
        return []
    start = first + timedelta(days=rng.randint(0, (last - first).days))
    sensor = _device(chart, "Capteur de glucose", "Système de mesure du glucose en continu")
    out = [sensor]
    sensor_ref = chart.ref("Device", sensor["id"])
    mean = 28.7 * hba1c_at(chart, start) - 46.7
    steps = CGM_DAYS * 24 * 60 // CGM_STEP_MINUTES
    hypo_rate = 2.0 if t1 is not None else 0.7
    events: dict[int, tuple[int, float]] = {}
    for _ in range(max(1, round(hypo_rate * CGM_DAYS / 7))):
        at = rng.randrange(steps)
        events[at - at % 96 + rng.randint(4, 24)] = (rng.randint(4, 7), -1.0)
    for _ in range(max(1, round(CGM_DAYS / 7))):
        events[rng.randrange(steps)] = (rng.randint(8, 16), 1.0)
    gaps: set[int] = set()
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(steps)
        gaps.update(range(at, at + rng.randint(4, 24)))
    code = code_of("cgm_glucose")
    patient_ref = chart.patient_ref
    noise = 0.0
    active_until, active_kind = -1, 0.0
    meals: tuple[tuple[int, float], ...] = ()
    for step in range(steps):
        minute = (step * CGM_STEP_MINUTES) % 1440
        if minute == 0:
            meals = tuple(
                (at + rng.randint(-30, 30), rng.uniform(30.0, 90.0)) for at in (450, 750, 1170)
            )
        if step in events:
            length, kind = events[step]
            active_until, active_kind = step + length, kind
        noise = 0.85 * noise + rng.gauss(0.0, 7.0)
        value = mean + _meal_effect(minute, meals) + noise
        if step < active_until:
            value = rng.uniform(48.0, 66.0) if active_kind < 0 else value + rng.uniform(90.0, 150.0)
        if step in gaps:
            continue
        moment = datetime(start.year, start.month, start.day) + timedelta(
            minutes=step * CGM_STEP_MINUTES
        )
        out.append(
            {
                "resourceType": "Observation",
                "id": chart.new_id(),
                "status": "final",
                "category": CATEGORY_VITAL,
                "code": code,
                "subject": patient_ref,
                "effectiveDateTime": _stamp(moment),
                "valueQuantity": quantity(round(min(max(value, 40.0), 400.0)), "mg/dL"),
                "device": sensor_ref,
            }
        )
    return out
