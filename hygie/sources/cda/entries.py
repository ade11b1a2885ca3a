"""Structured CDA entries → FHIR resources, chosen by the section code (``sections.csv``)."""

from __future__ import annotations

from collections.abc import Callable

from hygie.sources.cda.document import (
    NS,
    XSI,
    DocumentMap,
    Element,
    Json,
    _csv,
    concept,
    system_uri,
)
from hygie.sources.hl7v2.datatypes import derived_id

UCUM = "http://unitsofmeasure.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def map_section(doc: DocumentMap, section: Element, index: int) -> list[Json]:
    """The resources of one section's entries (none when its code is not mapped)."""
    code = section.find("v3:code", NS)
    kind = _csv("sections.csv").get(code.get("code", "") if code is not None else "")
    if kind is None:
        return []
    made: list[Json] = []
    mapper = ENTRY_MAPS[kind]
    for position, element in enumerate(_entry_acts(section, kind)):
        resource = mapper(doc, element, code.get("code") if code is not None else "")
        if resource is None:
            continue
        entry_id = element.find("v3:id", NS)
        key = (
            f"{entry_id.get('root')}|{entry_id.get('extension', '')}"
            if entry_id is not None and entry_id.get("root")
            else f"{doc.key}|{index}|{position}"
        )
        resource["id"] = derived_id(kind, doc.key, key, str(position))
        if doc.add(resource) is resource:
            made.append(resource)
    return made


def _entry_acts(section: Element, kind: str) -> list[Element]:
    """The elements that become one resource each."""
    if kind == "Observation":
        return [o for entry in section.findall("v3:entry", NS)
                for o in entry.iterfind(".//v3:observation", NS)
                if o.find("v3:value", NS) is not None]  # fmt: skip
    tags = {
        "Condition": "v3:act/v3:entryRelationship/v3:observation",
        "AllergyIntolerance": "v3:act/v3:entryRelationship/v3:observation",
        "MedicationStatement": "v3:substanceAdministration",
        "DischargeMedication": "v3:act/v3:entryRelationship/v3:substanceAdministration",
        "Immunization": "v3:substanceAdministration",
        "Procedure": "v3:procedure",
    }
    found = []
    for entry in section.findall("v3:entry", NS):
        found.extend(entry.findall(tags[kind], NS))
        if kind == "Condition":
            found.extend(entry.findall("v3:observation", NS))
        elif kind == "MedicationStatement":
            # C-CDA Discharge Medication (2.16.840.1.113883.10.20.22.4.35) wraps the activity.
            found.extend(entry.findall(tags["DischargeMedication"], NS))
    if kind in ("Condition", "AllergyIntolerance"):
        # A concern act also holds severity, reaction and status observations: not entries.
        found = [o for o in found if _code_of(o) not in NOT_A_CONCERN
                 and not {t.get("root") for t in o.findall("v3:templateId", NS)} & SUPPORTING]  # fmt: skip
    return found


def _code_of(element: Element) -> str:
    code = element.find("v3:code", NS)
    return code.get("code", "") if code is not None else ""


NOT_A_CONCERN = frozenset({"SEV", "33999-4"})
"""Observation codes of severity (ActCode SEV) and status (LOINC 33999-4) in a concern act."""
SUPPORTING = frozenset({
    "2.16.840.1.113883.10.20.22.4.8",   # Severity Observation
    "2.16.840.1.113883.10.20.22.4.9",   # Reaction Observation
    "2.16.840.1.113883.10.20.22.4.28",  # Allergy Status Observation
    "2.16.840.1.113883.10.20.22.4.6",   # Problem Status
})  # fmt: skip
"""C-CDA R2.1 entry templates that qualify an allergy or problem rather than state one."""


def _subject(doc: DocumentMap, resource: Json, key: str = "subject") -> Json:
    resource[key] = {"reference": doc.patient_reference}
    if doc.encounter_reference and key == "subject":
        resource["encounter"] = {"reference": doc.encounter_reference}
    return resource


def condition(doc: DocumentMap, element: Element, _section: str) -> Json | None:
    code = concept(element.find("v3:value", NS))
    if code is None:
        return None
    resource: Json = {"resourceType": "Condition", "code": code}
    onset = doc.when(element.find("v3:effectiveTime", NS), "problem/effectiveTime")
    if onset:
        resource["onsetDateTime"] = onset
    return _subject(doc, resource)


def allergy(doc: DocumentMap, element: Element, _section: str) -> Json | None:
    substance = element.find("v3:participant/v3:participantRole/v3:playingEntity/v3:code", NS)
    code = concept(substance) or concept(element.find("v3:value", NS))
    if code is None:
        return None
    resource: Json = {"resourceType": "AllergyIntolerance", "code": code}
    onset = doc.when(element.find("v3:effectiveTime", NS), "allergy/effectiveTime")
    if onset:
        resource["onsetDateTime"] = onset
    return _subject(doc, resource, "patient")


def medication(doc: DocumentMap, element: Element, _section: str) -> Json | None:
    code = concept(element.find(
        "v3:consumable/v3:manufacturedProduct/v3:manufacturedMaterial/v3:code", NS
    ))  # fmt: skip
    if code is None:
        return None
    resource: Json = {
        "resourceType": "MedicationStatement",
        "status": "completed" if element.get("moodCode") == "EVN" else "active",
        "medicationCodeableConcept": code,
    }
    for effective in element.findall("v3:effectiveTime", NS):
        start = doc.when(effective, "substanceAdministration/effectiveTime")
        if start:
            resource["effectivePeriod"] = {"start": start}
            break
    return _subject(doc, resource)


def immunization(doc: DocumentMap, element: Element, _section: str) -> Json | None:
    code = concept(element.find(
        "v3:consumable/v3:manufacturedProduct/v3:manufacturedMaterial/v3:code", NS
    ))  # fmt: skip
    occurred = doc.when(element.find("v3:effectiveTime", NS), "immunization/effectiveTime")
    if code is None or occurred is None:
        return None
    resource: Json = {
        "resourceType": "Immunization",
        "status": "not-done" if element.get("negationInd") == "true" else "completed",
        "vaccineCode": code,
        "occurrenceDateTime": occurred,
    }
    lot = element.findtext(
        "v3:consumable/v3:manufacturedProduct/v3:manufacturedMaterial/v3:lotNumberText",
        namespaces=NS,
    )
    if lot:
        resource["lotNumber"] = lot.strip()
    return _subject(doc, resource, "patient")


def observation(doc: DocumentMap, element: Element, section: str) -> Json | None:
    code = concept(element.find("v3:code", NS))
    if code is None:
        return None
    status = element.find("v3:statusCode", NS)
    resource: Json = {
        "resourceType": "Observation",
        "status": "final" if status is None or status.get("code") == "completed" else "preliminary",
        "category": [{"coding": [{"system": CATEGORY,
                                  "code": "vital-signs" if section == "8716-3" else "laboratory"}]}],
        "code": code,
    }  # fmt: skip
    _subject(doc, resource)
    effective = doc.when(element.find("v3:effectiveTime", NS), "observation/effectiveTime")
    if effective:
        resource["effectiveDateTime"] = effective
    value = element.find("v3:value", NS)
    kind = value.get(f"{{{XSI}}}type", "") if value is not None else ""
    if kind in ("PQ", "INT", "REAL") and value.get("value"):
        resource["valueQuantity"] = _quantity(value)
    elif kind in ("CD", "CE", "CV", "CO"):
        coded = concept(value)
        if coded:
            resource["valueCodeableConcept"] = coded
    elif kind == "ST" and (value.text or "").strip():
        resource["valueString"] = value.text.strip()
    interpretation = concept(element.find("v3:interpretationCode", NS))
    if interpretation:
        resource["interpretation"] = [interpretation]
    ranges = []
    for observation_range in element.iterfind("v3:referenceRange/v3:observationRange/v3:value", NS):
        bounds: Json = {}
        for side in ("low", "high"):
            bound = observation_range.find(f"v3:{side}", NS)
            if bound is not None and bound.get("value"):
                bounds[side] = _quantity(bound)
        if bounds:
            ranges.append(bounds)
    if ranges:
        resource["referenceRange"] = ranges
    return resource


def _quantity(element: Element) -> Json:
    raw = element.get("value", "")
    number: int | float = int(raw) if raw.lstrip("-").isdigit() else float(raw)
    quantity: Json = {"value": number}
    unit = element.get("unit")
    if unit and unit != "1":
        quantity.update({"unit": unit, "system": UCUM, "code": unit})
    return quantity


def procedure(doc: DocumentMap, element: Element, _section: str) -> Json | None:
    code = concept(element.find("v3:code", NS))
    if code is None:
        return None
    status = element.find("v3:statusCode", NS)
    resource: Json = {
        "resourceType": "Procedure",
        "status": "completed"
        if status is None or status.get("code") == "completed"
        else "in-progress",
        "code": code,
    }
    performed = doc.when(element.find("v3:effectiveTime", NS), "procedure/effectiveTime")
    if performed:
        resource["performedDateTime"] = performed
    return _subject(doc, resource)


ENTRY_MAPS: dict[str, Callable[[DocumentMap, Element, str], Json | None]] = {
    "Condition": condition,
    "AllergyIntolerance": allergy,
    "MedicationStatement": medication,
    "Immunization": immunization,
    "Observation": observation,
    "Procedure": procedure,
}

__all__ = ["map_section", "system_uri"]
