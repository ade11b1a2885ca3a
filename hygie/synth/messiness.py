"""Real-world defects injected on purpose when ``messiness`` > 0.

Each defect of :data:`CATALOGUE` hits a resource (or a patient) with probability
``messiness × base rate``. The defects draw from their own random stream, so the clean content
of a run is the same whatever the messiness. They replace top-level keys of a resource and never
mutate nested values, which may be shared between resources.

Duplicates and malformed lines only make sense in NDJSON; bundles get the value-level defects.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache

import orjson

from hygie.synth import tables
from hygie.synth.datatypes import Resource
from hygie.synth.identifiers import random_uuid

#: Defect -> base rate at messiness 1 (per resource, or per patient for the NIR key).
CATALOGUE: dict[str, float] = {
    "missing_unit": 0.05,
    "local_code": 0.04,
    "out_of_range": 0.02,
    "future_date": 0.01,
    "dangling_reference": 0.01,
    "duplicate_identical": 0.02,
    "duplicate_changed": 0.01,
    "malformed_json": 0.002,
    "invalid_nir_key": 0.05,
}
LOCAL_CODE_SYSTEM = "urn:oid:1.2.250.1.999.2.1"
DATE_FIELDS = (
    "effectiveDateTime",
    "onsetDateTime",
    "authoredOn",
    "occurrenceDateTime",
    "performedDateTime",
)


@dataclass(frozen=True)
class Malformed:
    """A line that is not valid JSON (NDJSON only)."""

    resource_type: str
    raw: bytes


@cache
def _upper_limits() -> dict[str, float]:
    return {spec.loinc: spec.limits[1] for spec in tables.measures().values()}


def _future(value: str, end_year: int) -> str:
    year = int(value[:4])
    # Add a multiple of 4 years so that 29 February stays a valid date.
    shift = ((end_year + 2 - year) // 4 + 1) * 4
    return f"{year + shift:04d}{value[4:]}"


def _value_defect(resource: Resource, defect: str, rng: random.Random, end_year: int) -> bool:
    kind = resource["resourceType"]
    if defect == "missing_unit" and kind == "Observation" and "valueQuantity" in resource:
        resource["valueQuantity"] = {"value": resource["valueQuantity"]["value"]}
        return True
    if defect == "local_code" and kind in ("Observation", "Condition"):
        text = resource["code"].get("text") or resource["code"]["coding"][0].get("display", "")
        resource["code"] = {
            "coding": [{"system": LOCAL_CODE_SYSTEM, "code": f"LOC{rng.randrange(10000):04d}"}],
            "text": text,
        }
        return True
    if defect == "out_of_range" and kind == "Observation" and "valueQuantity" in resource:
        quantity = resource["valueQuantity"]
        limit = _upper_limits().get(resource["code"]["coding"][0]["code"], 1000.0)
        resource["valueQuantity"] = dict(
            quantity, value=round(max(quantity["value"] * 10, limit * 1.5), 1)
        )
        return True
    if defect == "future_date":
        for field in DATE_FIELDS:
            if field in resource:
                resource[field] = _future(resource[field], end_year)
                return True
        return False
    if (
        defect == "dangling_reference"
        and "encounter" in resource
        and isinstance(resource["encounter"], dict)
    ):
        resource["encounter"] = {"reference": f"Encounter/{random_uuid(rng)}"}
        return True
    return False


def _invalid_nir(patient: Resource) -> None:
    identifiers = patient["identifier"]
    nir = identifiers[0]["value"]
    wrong = (int(nir[13:]) % 97) + 1
    identifiers = [dict(identifiers[0], value=f"{nir[:13]}{wrong:02d}"), *identifiers[1:]]
    patient["identifier"] = identifiers


def inject(
    resources: list[Resource], rng: random.Random, level: float, structural: bool, end_year: int
) -> list[Resource | Malformed]:
    """Return the resources with defects injected at ``level`` (0..1)."""
    if level <= 0:
        return list(resources)
    out: list[Resource | Malformed] = []
    value_defects = (
        "missing_unit",
        "local_code",
        "out_of_range",
        "future_date",
        "dangling_reference",
    )
    for original in resources:
        resource = original
        if (
            resource["resourceType"] == "Patient"
            and rng.random() < level * CATALOGUE["invalid_nir_key"]
        ):
            resource = dict(original)
            _invalid_nir(resource)
        for defect in value_defects:
            if rng.random() < level * CATALOGUE[defect]:
                candidate = dict(resource)
                if _value_defect(candidate, defect, rng, end_year):
                    resource = candidate
        if structural and rng.random() < level * CATALOGUE["malformed_json"]:
            raw = orjson.dumps(resource)
            out.append(Malformed(resource["resourceType"], raw[: len(raw) // 2]))
            continue
        out.append(resource)
        if structural and rng.random() < level * CATALOGUE["duplicate_identical"]:
            out.append(resource)
        if structural and rng.random() < level * CATALOGUE["duplicate_changed"]:
            changed = dict(resource)
            changed["meta"] = {"versionId": "2"}
            if "status" in changed and resource["resourceType"] == "Observation":
                changed["status"] = "amended"
            out.append(changed)
    return out
