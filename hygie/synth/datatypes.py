"""FHIR R4 datatype builders shared by the resource modules: codings, quantities, instants.

Resources are plain dicts serialized by orjson. Constant parts (categories, codes) are built once
and shared between resources; code that alters a resource after it is built (see
:mod:`hygie.synth.messiness`) replaces top-level keys and never mutates those shared parts.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

Resource = dict[str, Any]

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
UCUM = "http://unitsofmeasure.org"
ATC = "http://www.whocc.no/atc"
CVX = "http://hl7.org/fhir/sid/cvx"
CIP13 = "http://data.esante.gouv.fr/ansm/medicament/codeCIP13"
"""French pack code (CIP13), named after the ANSM URIs of the Interop'Santé medication guide
(``http://data.esante.gouv.fr/ansm/medicament/UCD``, ``.../codeSMS``)."""
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"


def coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    """A Coding."""
    if display is None:
        return {"system": system, "code": code}
    return {"system": system, "code": code, "display": display}


def concept(*codings: dict[str, str], text: str | None = None) -> Resource:
    """A CodeableConcept."""
    value: Resource = {"coding": list(codings)}
    if text is not None:
        value["text"] = text
    return value


def quantity(value: float | int, unit: str) -> dict[str, Any]:
    """A Quantity with a UCUM unit."""
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def rounded(value: float, decimals: int) -> float | int:
    """Round for display; integers stay integers in JSON."""
    if decimals == 0:
        return round(value)
    return round(value, decimals)


def _last_sunday(year: int, month: int) -> date:
    day = date(year, month + 1, 1) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() + 1) % 7)


@cache
def paris_offset(day: date) -> str:
    """UTC offset of Europe/Paris on ``day`` (EU summer time: last Sunday of March to October)."""
    if _last_sunday(day.year, 3) <= day < _last_sunday(day.year, 10):
        return "+02:00"
    return "+01:00"


def instant(moment: datetime) -> str:
    """FHIR instant/dateTime with seconds and the Paris offset, e.g. ``2024-03-12T08:30:00+01:00``."""
    return f"{moment.isoformat(timespec='seconds')}{paris_offset(moment.date())}"


CATEGORY_VITAL = [concept(coding(OBS_CATEGORY, "vital-signs", "Vital Signs"))]
CATEGORY_LAB = [concept(coding(OBS_CATEGORY, "laboratory", "Laboratory"))]
REPORT_CATEGORY_LAB = [concept(coding(V2_0074, "LAB", "Laboratory"))]
INTERPRETATIONS = {
    "H": [concept(coding(INTERPRETATION, "H", "High"))],
    "L": [concept(coding(INTERPRETATION, "L", "Low"))],
    "N": [concept(coding(INTERPRETATION, "N", "Normal"))],
}
