"""Immunizations following the French vaccination calendar (``vaccines.csv``).

Seasonal influenza for people 65+ and chronic patients, COVID-19 primary series and booster
from 2021 for adults, pneumococcal vaccination once for chronic patients, and the infant
hexavalent (2, 4, 11 months) and MMR (12 months) vaccines for children born in the period.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache

from hygie.synth import tables
from hygie.synth.chart import Chart
from hygie.synth.datatypes import ATC, CVX, SNOMED, Resource, coding, concept, instant
from hygie.synth.medications import lot_of

CHRONIC_ELIGIBLE = (
    "heart_failure",
    "copd",
    "asthma",
    "t1_diabetes",
    "t2_diabetes",
    "ckd",
    "coronary_disease",
)
INTRAMUSCULAR = concept(coding(SNOMED, "78421000", "Intramuscular route"))


@cache
def vaccine_concept(key: str) -> Resource:
    """CVX + ATC CodeableConcept of a vaccine."""
    row = tables.vaccines()[key]
    return concept(
        coding(CVX, row["cvx"], row["display"]), coding(ATC, row["atc"]), text=row["display_fr"]
    )


def _vaccine_pack(key: str) -> str:
    # Vaccines have no CIP13 in our table; their lots are named from a stable 13-digit key.
    return f"{3400900000000 + sum(ord(c) for c in key) * 7919:013d}"


def _immunization(chart: Chart, key: str, when: datetime) -> Resource:
    lot, expiry = lot_of(
        _vaccine_pack(key),
        when.date() - timedelta(days=chart.rng.randint(30, 200)),
        chart.rng.randrange(3),
    )
    return {
        "resourceType": "Immunization",
        "id": chart.new_id(),
        "status": "completed",
        "vaccineCode": vaccine_concept(key),
        "patient": chart.patient_ref,
        "occurrenceDateTime": instant(when),
        "primarySource": True,
        "lotNumber": lot,
        "expirationDate": expiry,
        "route": INTRAMUSCULAR,
    }


def _within(chart: Chart, day: date) -> bool:
    return (
        chart.first_contact <= day
        and datetime(day.year, day.month, day.day, 18) < chart.followup_end
    )


def immunizations(chart: Chart) -> list[Resource]:
    """All immunizations of the patient in the observed period."""
    rng = chart.rng
    vaccines = tables.vaccines()
    out: list[Resource] = []
    birth = chart.person.birth_date
    for key, months in (("hexavalent", 2), ("hexavalent", 4), ("hexavalent", 11), ("mmr", 12)):
        day = birth + timedelta(days=int(months * 30.44))
        if _within(chart, day) and rng.random() < float(vaccines[key]["coverage"]):
            out.append(_immunization(chart, key, datetime(day.year, day.month, day.day, 10, 0)))
    for year in range(chart.first_contact.year, chart.followup_end.year + 1):
        day = date(year, 10, 15) + timedelta(days=rng.randint(0, 60))
        eligible = chart.age_at(day) >= 65 or any(chart.has(c, day) for c in CHRONIC_ELIGIBLE)
        if (
            eligible
            and _within(chart, day)
            and rng.random() < float(vaccines["influenza"]["coverage"])
        ):
            out.append(
                _immunization(chart, "influenza", datetime(day.year, day.month, day.day, 11, 0))
            )
    if chart.age_at(date(2021, 6, 1)) >= 18 and rng.random() < float(
        vaccines["covid19"]["coverage"]
    ):
        first = date(2021, 1, 15) + timedelta(days=rng.randint(0, 150))
        for day in (
            first,
            first + timedelta(days=28),
            first + timedelta(days=rng.randint(180, 300)),
        ):
            if _within(chart, day):
                out.append(
                    _immunization(chart, "covid19", datetime(day.year, day.month, day.day, 14, 0))
                )
    if any(chart.has(c) for c in CHRONIC_ELIGIBLE) and rng.random() < float(
        vaccines["pneumococcal"]["coverage"]
    ):
        day = chart.first_contact + timedelta(days=rng.randint(0, 700))
        if _within(chart, day):
            out.append(
                _immunization(chart, "pneumococcal", datetime(day.year, day.month, day.day, 9, 30))
            )
    return out
