"""The patient's physiology over time: the values that vital signs and labs then report.

Each patient gets baseline values drawn around population means (ESTEBAN 2015 for blood
pressure, BMI and lipids; INSEE/ObÉpi for height and weight) and moved by their conditions:
diabetics have a higher HbA1c, chronic kidney disease lowers eGFR and raises creatinine, heart
failure raises NT-proBNP, COPD lowers SpO2, infections raise temperature, CRP and leukocytes.
Creatinine is derived from the eGFR the patient should have by inverting CKD-EPI 2021, so that
the reported eGFR is exactly CKD-EPI 2021 of the reported creatinine, age and sex.
"""

from __future__ import annotations

import math
from datetime import date

from hygie.synth.chart import Chart

#: CKD stages 3a, 3b, 4, 5: eGFR bounds and shares among stage 3-5 patients (CKD-REIN, KDIGO).
CKD_STAGES = ((45.0, 59.0, 55.0), (30.0, 44.0, 30.0), (15.0, 29.0, 12.0), (8.0, 14.0, 3.0))

TREATED = {"statin": ("atorvastatin_40", "atorvastatin_20", "rosuvastatin_10")}


def ckd_epi_2021(creatinine_umol: float, age: int, female: bool) -> float:
    """eGFR (mL/min/1.73 m²) by the race-free CKD-EPI 2021 creatinine equation.

    Inker et al., N Engl J Med 2021;385:1737-49::

        142 × min(Scr/κ, 1)^α × max(Scr/κ, 1)^-1.200 × 0.9938^age × 1.012 [female]

    with Scr in mg/dL (µmol/L / 88.4), κ = 0.7 (F) / 0.9 (M), α = -0.241 (F) / -0.302 (M).

    >>> round(ckd_epi_2021(80, 50, False))
    103
    """
    kappa, alpha = (0.7, -0.241) if female else (0.9, -0.302)
    ratio = creatinine_umol / 88.4 / kappa
    value = 142.0 * min(ratio, 1.0) ** alpha * max(ratio, 1.0) ** -1.2 * 0.9938**age
    return float(value * 1.012 if female else value)


def creatinine_for_egfr(egfr: float, age: int, female: bool) -> float:
    """Serum creatinine (µmol/L) for which CKD-EPI 2021 gives ``egfr`` (inverse function)."""
    kappa, alpha = (0.7, -0.241) if female else (0.9, -0.302)
    scale = 142.0 * 0.9938**age * (1.012 if female else 1.0)
    ratio = (egfr / scale) ** (1.0 / alpha)
    if ratio > 1.0:
        ratio = (egfr / scale) ** (1.0 / -1.2)
    return float(ratio * kappa * 88.4)


def init_physiology(chart: Chart) -> None:
    """Draw the baseline values of the patient into ``chart.state``."""
    rng = chart.rng
    female = chart.person.gender == "female"
    age = chart.age_at(chart.first_contact)
    state = chart.state
    state["height"] = rng.gauss(163.5, 6.5) if female else rng.gauss(176.5, 7.0)
    bmi = rng.gauss(25.2, 4.8) if female else rng.gauss(25.9, 4.2)
    if chart.has("t2_diabetes"):
        bmi += 3.5
    state["bmi"] = min(max(bmi, 17.0), 50.0)
    state["weight_drift"] = rng.gauss(0.0, 0.4)
    state["sbp"] = 117.0 + max(0, age - 40) * 0.45 + rng.gauss(0.0, 9.0)
    state["hr"] = rng.gauss(72.0, 7.0)
    state["egfr"] = min(max(118.0 - 0.75 * max(0, age - 20) + rng.gauss(0.0, 9.0), 63.0), 130.0)
    low, high, _ = rng.choices(CKD_STAGES, weights=[w for *_, w in CKD_STAGES])[0]
    state["ckd_egfr"] = rng.uniform(low, high)
    state["ckd_decline"] = rng.uniform(0.5, 3.5)
    state["hba1c_diabetic"] = min(
        max(rng.gauss(7.9 if chart.has("t1_diabetes") else 7.3, 0.9), 6.2), 12.0
    )
    state["hba1c"] = min(max(rng.gauss(5.4, 0.3), 4.6), 6.0)
    state["ldl"] = min(max(rng.gauss(1.30, 0.28), 0.6), 2.4)
    state["tsh"] = math.exp(rng.gauss(math.log(1.6), 0.4))
    state["hb"] = rng.gauss(13.3, 0.9) if female else rng.gauss(14.6, 1.0)
    state["ntprobnp_hf"] = 1500.0 * math.exp(rng.gauss(0.0, 0.6))


def years_since_contact(chart: Chart, day: date) -> float:
    """Years elapsed since the first contact."""
    return max((day - chart.first_contact).days, 0) / 365.25


def height_at(chart: Chart, day: date) -> float:
    """Height in cm: a simple growth curve scaled to the adult height, then constant."""
    adult = chart.state["height"]
    age_days = (day - chart.person.birth_date).days
    age = age_days / 365.25
    if age >= 18:
        return adult
    if age < 1:
        child = 50.0 + 25.0 * age
    elif age < 2:
        child = 75.0 + 12.0 * (age - 1)
    else:
        child = 87.0 + 6.0 * (age - 2)
    return min(child * adult / 170.0, adult)


def weight_at(chart: Chart, day: date) -> float:
    """Weight in kg from the BMI (children: a BMI of 16) and a slow drift."""
    height_m = height_at(chart, day) / 100.0
    bmi = chart.state["bmi"] if chart.age_at(day) >= 18 else 16.0
    drift = chart.state["weight_drift"] * years_since_contact(chart, day)
    return max(bmi * height_m * height_m + drift, 2.5)


def egfr_at(chart: Chart, day: date) -> float:
    """The eGFR the patient should have on ``day``."""
    years = years_since_contact(chart, day)
    if chart.has("ckd", day):
        onset = next(c.onset for c in chart.conditions if c.key == "ckd")
        since = max((day - max(onset, chart.first_contact)).days, 0) / 365.25
        return max(chart.state["ckd_egfr"] - chart.state["ckd_decline"] * since, 6.0)
    return max(chart.state["egfr"] - 0.8 * years, 61.0)


def hba1c_at(chart: Chart, day: date) -> float:
    """HbA1c (%) on ``day``: diabetic level after diagnosis, pre-diabetic just before."""
    if chart.has("t2_diabetes", day) or chart.has("t1_diabetes", day):
        return chart.state["hba1c_diabetic"]
    if chart.has("t2_diabetes"):
        return min(chart.state["hba1c"] + 0.4, 6.3)
    return chart.state["hba1c"]


def on_medication(chart: Chart, keys: tuple[str, ...]) -> bool:
    """True when one of the medication keys is part of the patient's long-term treatment."""
    return any(key in meds for meds in chart.medications.values() for key in keys)
