"""Home telemonitoring: daily weights with gaps and decompensations; CGM every 15 minutes."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from typing import Any

Resources = dict[str, list[dict[str, Any]]]


def _device_readings(resources: Resources, code: str) -> dict[str, list[dict[str, Any]]]:
    by_device: dict[str, list[dict[str, Any]]] = {}
    for observation in resources["Observation"]:
        if "device" in observation and observation["code"]["coding"][0]["code"] == code:
            by_device.setdefault(observation["device"]["reference"], []).append(observation)
    return by_device


def test_heart_failure_patients_send_daily_weights_with_gaps(resources: Resources) -> None:
    devices = {f"Device/{d['id']}": d for d in resources["Device"]}
    hf_patients = {
        c["subject"]["reference"]
        for c in resources["Condition"]
        if c["code"]["coding"][0]["code"] == "I50.9"
    }
    scales = _device_readings(resources, "29463-7")
    assert scales, "some heart-failure patients are telemonitored"
    rises = 0
    for device, readings in scales.items():
        assert devices[device]["patient"] == readings[0]["subject"]
        assert readings[0]["subject"]["reference"] in hf_patients
        assert all(r["category"][0]["coding"][0]["code"] == "vital-signs" for r in readings)
        days = [date.fromisoformat(r["effectiveDateTime"][:10]) for r in readings]
        assert days == sorted(days) and len(days) == len(set(days)), "at most one weight a day"
        span = (days[-1] - days[0]).days + 1
        assert len(days) < span, "some days are missed"
        assert len(days) > 0.6 * span, "but most days have a reading"
        weights = {d: r["valueQuantity"]["value"] for d, r in zip(days, readings, strict=True)}
        for day, weight in weights.items():
            later = [weights[d] for d in weights if 0 < (d - day).days <= 3]
            if later and max(later) - weight > 2.0:
                rises += 1
                break
    assert rises > 0, "at least one decompensation: > 2 kg gained in 3 days"


def test_cgm_readings_every_15_minutes_with_hypo_and_hyper(resources: Resources) -> None:
    sensors = _device_readings(resources, "99504-3")
    assert sensors, "some diabetic patients wear a CGM sensor"
    for readings in sensors.values():
        moments = [datetime.fromisoformat(r["effectiveDateTime"][:19]) for r in readings]
        steps = [(b - a).total_seconds() / 60 for a, b in itertools.pairwise(moments)]
        assert min(steps) == 15 and steps.count(15) > 0.9 * len(steps)
        assert max(steps) > 15, "signal losses leave gaps"
        values = [r["valueQuantity"]["value"] for r in readings]
        assert all(40 <= v <= 400 for v in values)
        assert min(values) < 70 and max(values) > 180
        assert readings[0]["valueQuantity"]["unit"] == "mg/dL"
