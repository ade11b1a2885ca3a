"""What the care zone's FHIR resources tell the text de-identification about people."""

from __future__ import annotations

from typing import Any

from hygie.privacy.text.deid import PatientContext


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def person_names(resource: dict[str, Any]) -> list[str]:
    """Every given, family and text name of a Patient or Practitioner resource."""
    names: list[str] = []
    for name in resource.get("name", []) if isinstance(resource.get("name"), list) else []:
        if not isinstance(name, dict):
            continue
        names.extend(_strings(name.get("family")))
        names.extend(_strings(name.get("given")))
        names.extend(_strings(name.get("text")))
    return names


def patient_context(resource: dict[str, Any], shift_days: int = 0) -> PatientContext:
    """The names, identifiers, telecom and address of a Patient resource."""
    identifiers = [
        identifier["value"]
        for identifier in resource.get("identifier", []) or []
        if isinstance(identifier, dict) and isinstance(identifier.get("value"), str)
    ]
    phones: list[str] = []
    emails: list[str] = []
    for telecom in resource.get("telecom", []) or []:
        if isinstance(telecom, dict) and isinstance(telecom.get("value"), str):
            (emails if telecom.get("system") == "email" else phones).append(telecom["value"])
    lines: list[str] = []
    cities: list[str] = []
    postcodes: list[str] = []
    for address in resource.get("address", []) or []:
        if not isinstance(address, dict):
            continue
        lines.extend(_strings(address.get("line")))
        cities.extend(_strings(address.get("city")))
        postcodes.extend(_strings(address.get("postalCode")))
    names = person_names(resource)
    for contact in resource.get("contact", []) or []:
        if isinstance(contact, dict) and isinstance(contact.get("name"), dict):
            names.extend(person_names({"name": [contact["name"]]}))
    return PatientContext(
        names=tuple(names),
        identifiers=tuple(identifiers),
        phones=tuple(phones),
        emails=tuple(emails),
        address_lines=tuple(lines),
        cities=tuple(cities),
        postcodes=tuple(postcodes),
        shift_days=shift_days,
    ).with_known_names()
