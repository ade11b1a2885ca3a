"""What every message map shares: the message, its patient and encounter, the resources made.

Patients are keyed by one PID-3 identifier (the facility's own PI/MR first), encounters by the
visit number PV1-19 (else the account number PID-18): the same person or stay always gets the
same id, whichever message brings it. A message that is not an ADT (results, orders, ...) points
to a patient already in the warehouse when one carries that identifier, and only brings its own
Patient (from PID) when none does — so a lab feed never overwrites the demographics an ADT feed
wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from hygie.fhir.references import ConditionalQuery
from hygie.sources.base import ReferenceLookup
from hygie.sources.hl7v2.datatypes import (
    Json,
    MappingError,
    cwe_concept,
    cx_identifier,
    derived_id,
    hd_system,
    location_display,
    lookup,
    parse_date,
    parse_dtm,
    table_concept,
    xad_address,
    xcn_reference,
    xpn_name,
    xtn_contact,
)
from hygie.sources.hl7v2.parser import Composite, Message, Segment

PREFERRED_PATIENT_TYPES = ("PI", "MR", "PT", "PN", "AN")
BIRTH_PLACE = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"
MOTHERS_MAIDEN_NAME = "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName"
GENDER = {"M": "male", "F": "female", "O": "other", "U": "unknown", "A": "other", "N": "unknown"}
"""PID-8 administrative sex (table 0001) → Patient.gender (v2-to-FHIR table-hl70001)."""


@dataclass
class MessageContext:
    """One message being mapped, and the resources it produced so far."""

    message: Message
    zone: ZoneInfo
    lookup: ReferenceLookup
    resources: list[Json] = field(default_factory=list)
    patient_reference: str | None = None
    encounter_reference: str | None = None
    positions: dict[tuple[str, str], int] = field(default_factory=dict)
    """(resourceType, id) → index in ``resources``."""
    stamps: dict[str, str] = field(default_factory=dict)
    """HL7 date/times already read in this message → their FHIR form."""

    def dtm(self, segment: Segment, number: int, comp: int = 1) -> str | None:
        """Field ``number`` (component ``comp``) of ``segment`` as a FHIR dateTime."""
        text = segment.value(number, comp)
        if not text:
            return None
        # The same stamps come back in every OBX of a message: read each once.
        known = self.stamps.get(text)
        if known is None:
            known = parse_dtm(text, segment.where(number, comp), self.zone) or ""
            self.stamps[text] = known
        return known or None

    def add(self, resource: Json) -> Json:
        """Keep ``resource`` (once per type and id: a later one with the same id wins)."""
        key = (resource["resourceType"], resource["id"])
        index = self.positions.get(key)
        if index is None:
            self.positions[key] = len(self.resources)
            self.resources.append(resource)
        else:
            self.resources[index] = resource
        return resource

    def subject(self) -> Json:
        """The Reference to the message's patient."""
        if self.patient_reference is None:
            raise MappingError("missing-segment", f"{self.message.type} has no PID segment")
        return {"reference": self.patient_reference}

    def with_context(self, resource: Json, subject_key: str = "subject") -> Json:
        """Add the patient and (when known) encounter references to ``resource``."""
        resource[subject_key] = self.subject()
        if self.encounter_reference is not None:
            resource["encounter"] = {"reference": self.encounter_reference}
        return resource

    def existing(self, resource_type: str, identifier: Json) -> str | None:
        """Id of the resource of that type already in the warehouse with ``identifier``."""
        system = identifier.get("system")
        query = ConditionalQuery(resource_type, ((system, identifier["value"]),))
        return self.lookup.find(query)


def patient_key(identifiers: list[Json], where: str) -> Json:
    """The identifier a patient's id is derived from: the facility's own number first."""
    if not identifiers:
        raise MappingError(
            "missing-patient-identifier", f"{where}: no patient identifier (PID-3 is empty)"
        )
    for wanted in PREFERRED_PATIENT_TYPES:
        for identifier in identifiers:
            codings = identifier.get("type", {}).get("coding", [{}])
            if codings[0].get("code") == wanted:
                return identifier
    return identifiers[0]


def key_text(identifier: Json) -> str:
    return f"{identifier.get('system', '')}|{identifier['value']}"


def pid_identifiers(pid: Segment) -> list[Json]:
    """PID-3 (and the older PID-2 external id) as Identifiers."""
    found = [cx_identifier(cx) for cx in pid.repetitions(3)]
    if not any(found):
        found = [cx_identifier(cx) for cx in pid.repetitions(2)]
    return [identifier for identifier in found if identifier is not None]


def patient_from_pid(ctx: MessageContext, pid: Segment) -> Json:
    """PID (+ PD1 is not used) → Patient, following the v2-to-FHIR segment map PID → Patient."""
    identifiers = pid_identifiers(pid)
    key = patient_key(identifiers, pid.where(3))
    patient: Json = {
        "resourceType": "Patient",
        "id": derived_id("Patient", key_text(key)),
        "identifier": identifiers,
    }
    names = [n for n in (xpn_name(x) for x in pid.repetitions(5)) if n]
    if names:
        patient["name"] = names
    # PID-6 is the mother's maiden name, not a name of the patient (FHIR extension
    # patient-mothersMaidenName, whose v2 mapping is PID-6).
    mother = pid.field(6).sub(1, 1)
    if mother:
        patient["extension"] = [{"url": MOTHERS_MAIDEN_NAME, "valueString": mother}]
    telecom = [c for c in (xtn_contact(x, "home") for x in pid.repetitions(13)) if c]
    telecom += [c for c in (xtn_contact(x, "work") for x in pid.repetitions(14)) if c]
    if telecom:
        patient["telecom"] = telecom
    gender = GENDER.get(pid.value(8))
    if gender:
        patient["gender"] = gender
    birth = parse_date(pid.value(7), pid.where(7))
    if birth:
        patient["birthDate"] = birth
    addresses: list[Json] = []
    for xad in pid.repetitions(11):
        address = xad_address(xad)
        if address is None:
            continue
        if address.pop("_birth", False):
            patient.setdefault("extension", []).append(
                {"url": BIRTH_PLACE, "valueAddress": address}
            )
        else:
            addresses.append(address)
    if addresses:
        patient["address"] = addresses
    marital = pid.field(16)
    if marital.comp(1):
        patient["maritalStatus"] = table_concept(marital.comp(1), "0002", marital.comp(2))
    if pid.value(30) == "Y" or pid.value(29):
        death = ctx.dtm(pid, 29)
        patient["deceasedDateTime" if death else "deceasedBoolean"] = death or True
    elif pid.value(30) == "N":
        patient["deceasedBoolean"] = False
    if pid.value(24) in ("Y", "N"):
        patient["multipleBirthBoolean"] = pid.value(24) == "Y"
    return patient


def bind_patient(ctx: MessageContext, pid: Segment, *, authoritative: bool) -> Json | None:
    """Set the message's patient; produce the Patient when ``authoritative`` or not yet known."""
    if not authoritative:
        # Looked up before the rest of PID is mapped: a result feed mostly names known patients.
        key = patient_key(pid_identifiers(pid), pid.where(3))
        found = ctx.existing("Patient", key)
        if found is not None:
            ctx.patient_reference = f"Patient/{found}"
            return None
    patient = patient_from_pid(ctx, pid)
    ctx.patient_reference = f"Patient/{patient['id']}"
    return ctx.add(patient)


PARTICIPANTS = ((7, "ATND", "attender"), (8, "REF", "referrer"), (9, "CON", "consultant"),
                (17, "ADM", "admitter"))  # fmt: skip
"""PV1 doctor fields → Encounter.participant.type (v3 ParticipationType)."""


def encounter_key(ctx: MessageContext, pv1: Segment) -> tuple[Json | None, str]:
    """The visit identifier (PV1-19, else PID-18) and the key the Encounter id derives from."""
    visit = cx_identifier(pv1.field(19))
    if visit is None:
        pid = ctx.message.first("PID")
        visit = cx_identifier(pid.field(18)) if pid is not None else None
    if visit is not None:
        return visit, f"{visit.get('system', '')}|{visit['value']}"
    return None, f"msg|{ctx.message.header.value(3)}|{ctx.message.control_id}"


def encounter_from_pv1(ctx: MessageContext, pv1: Segment, status: str) -> Json:
    """PV1 (+ PV2, ZBE) → Encounter, following the v2-to-FHIR segment map PV1 → Encounter."""
    visit, key = encounter_key(ctx, pv1)
    encounter: Json = {
        "resourceType": "Encounter",
        "id": derived_id("Encounter", key),
        "status": status,
        "class": encounter_class(pv1.value(2)),
    }
    if visit is not None:
        encounter["identifier"] = [visit]
    admission_type = table_concept(pv1.value(4), "0007")
    if admission_type:
        encounter["type"] = [admission_type]
    service = table_concept(pv1.value(10), "0069")
    if service:
        encounter["serviceType"] = service
    encounter["subject"] = ctx.subject()
    participants = []
    for number, code, display in PARTICIPANTS:
        for xcn in pv1.repetitions(number):
            person = xcn_reference(xcn)
            if person is not None:
                participants.append({"type": [_participation(code, display)], "individual": person})
    if participants:
        encounter["participant"] = participants
    period: Json = {}
    start = ctx.dtm(pv1, 44)
    end = ctx.dtm(pv1, 45)
    if start:
        period["start"] = start
    if end and status == "finished":
        period["end"] = end
    if period:
        encounter["period"] = period
    hospitalization: Json = {}
    admit_source = table_concept(pv1.value(14), "0023")
    if admit_source:
        hospitalization["admitSource"] = admit_source
    disposition = table_concept(pv1.value(36), "0112")
    if disposition:
        hospitalization["dischargeDisposition"] = disposition
    if hospitalization:
        encounter["hospitalization"] = hospitalization
    locations = _locations(ctx, pv1)
    if locations:
        encounter["location"] = locations
    pv2 = ctx.message.first("PV2")
    if pv2 is not None:
        reason = pv2.field(3)
        concept = cwe_concept(reason)
        if concept:
            encounter["reasonCode"] = [concept]
    return encounter


def encounter_class(code: str) -> Json:
    """PV1-2 → Encounter.class (v3 ActCode), the v2 code kept when it has no mapping."""
    mapped = lookup("patient_class", "v2_code", "code").get(code)
    if mapped is None:
        return {"system": "http://terminology.hl7.org/CodeSystem/v2-0004", "code": code or "U"}
    display = lookup("patient_class", "v2_code", "display")[code]
    return {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
        "code": mapped,
        "display": display,
    }


def _participation(code: str, display: str) -> Json:
    return {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                "code": code,
                "display": display,
            }
        ]
    }


def _locations(ctx: MessageContext, pv1: Segment) -> list[Json]:
    locations: list[Json] = []
    current = location_display(pv1.field(3))
    if current:
        locations.append({"location": {"display": current}, "status": "active"})
    prior = location_display(pv1.field(6))
    if prior and ctx.message.type.endswith("A02"):
        locations.append({"location": {"display": prior}, "status": "completed"})
    zbe = ctx.message.first("ZBE")
    if zbe is not None:
        locations.append(_movement_location(ctx, zbe))
    return locations


def _movement_location(ctx: MessageContext, zbe: Segment) -> Json:
    """ZBE (IHE PAM France movement) → the care unit (UF) the patient is under, with its dates.

    ZBE-7 is the UF of medical responsibility (XON: name, ..., ZBE-7.10 its code), ZBE-2 the
    movement date, ZBE-4 the action (INSERT, UPDATE, CANCEL).
    """
    unit: Composite = zbe.field(7)
    reference: Json = {"display": unit.comp(1) or unit.comp(10) or "UF"}
    if unit.comp(10):
        identifier: Json = {"value": unit.comp(10)}
        namespace, universal, kind = ([*unit.subs(6), "", "", ""])[:3]
        system = hd_system(namespace, universal, kind)
        if system:
            identifier["system"] = system
        reference["identifier"] = identifier
    location: Json = {"location": reference}
    start = ctx.dtm(zbe, 2)
    if start:
        location["period"] = {"start": start}
    location["status"] = "completed" if zbe.value(4) == "CANCEL" else "active"
    return location


def bind_encounter(ctx: MessageContext, *, status: str | None, authoritative: bool) -> None:
    """Set the message's encounter from PV1; produce it when ``authoritative`` or unknown."""
    pv1 = ctx.message.first("PV1")
    if pv1 is None or (not authoritative and not pv1.value(19)):
        return
    visit, _key = encounter_key(ctx, pv1)
    if not authoritative and visit is not None:
        found = ctx.existing("Encounter", visit)
        if found is not None:
            ctx.encounter_reference = f"Encounter/{found}"
            return
    encounter = encounter_from_pv1(ctx, pv1, status or pv1_status(pv1))
    ctx.encounter_reference = f"Encounter/{encounter['id']}"
    ctx.add(encounter)


def pv1_status(pv1: Segment) -> str:
    """An encounter status read from PV1 alone: finished once discharged, else in progress."""
    if pv1.value(45):
        return "finished"
    if pv1.value(44):
        return "in-progress"
    return "unknown"


def notes(segments: list[Segment]) -> list[Json]:
    """NTE segments → Annotation list."""
    found = []
    for nte in segments:
        text = "\n".join(rep.comp(1) for rep in nte.repetitions(3) if rep.comp(1))
        if text:
            found.append({"text": text})
    return found


def first_or_none(values: list[Any]) -> Any:
    return values[0] if values else None
