"""Orders, immunizations and appointments: ORM^O01 / OML^O21 → ServiceRequest, VXU^V04 →
Immunization, SIU^S12..S26 → Appointment.

Segment maps followed: v2-to-FHIR IG ORC/OBR → ServiceRequest, RXA/RXR → Immunization,
SCH/AIx → Appointment (https://build.fhir.org/ig/HL7/v2-to-fhir/segment_maps.html).
"""

from __future__ import annotations

from hygie.sources.hl7v2.context import (
    MessageContext,
    bind_encounter,
    bind_patient,
    notes,
)
from hygie.sources.hl7v2.datatypes import (
    Json,
    MappingError,
    cwe_concept,
    derived_id,
    ei_identifier,
    location_display,
    parse_date,
    quantity,
    status_map,
    table_concept,
    xcn_reference,
)
from hygie.sources.hl7v2.parser import Segment
from hygie.sources.hl7v2.results import order_identifiers

PRIORITY = {"S": "stat", "A": "asap", "R": "routine", "P": "urgent", "T": "urgent"}
"""OBR-5 / TQ1-9 priority (table 0485) → ServiceRequest.priority."""


def _begin(ctx: MessageContext, label: str) -> None:
    pid = ctx.message.first("PID")
    if pid is None:
        raise MappingError("missing-segment", f"{label} without a PID segment")
    bind_patient(ctx, pid, authoritative=False)
    bind_encounter(ctx, status=None, authoritative=False)


def map_order(ctx: MessageContext) -> None:
    """ORM^O01 / OML^O21: one ServiceRequest per ORC (with its OBR when present)."""
    _begin(ctx, ctx.message.type)
    segments = ctx.message.segments
    reasons = [c for c in (cwe_concept(dg1.field(3)) for dg1 in ctx.message.all("DG1")) if c]
    made = 0
    for position, orc in enumerate(segments):
        if orc.name != "ORC":
            continue
        obr = next((s for s in segments[position + 1 :] if s.name in ("OBR", "ORC")), None)
        obr = obr if obr is not None and obr.name == "OBR" else None
        ctx.add(service_request(ctx, orc, obr, reasons))
        made += 1
    if not made:
        raise MappingError("missing-segment", f"{ctx.message.type} without an ORC segment")


def service_request(
    ctx: MessageContext, orc: Segment, obr: Segment | None, reasons: list[Json]
) -> Json:
    """ORC (+ OBR) → ServiceRequest, keyed by the placer order number."""
    placer = orc.field(2) if orc.value(2) or obr is None else obr.field(2)
    filler = orc.field(3) if orc.value(3) or obr is None else obr.field(3)
    identifiers, _key = order_identifiers(placer, filler)
    key = (
        f"{identifiers[0].get('system', '')}|{identifiers[0]['value']}"
        if identifiers
        else f"msg|{ctx.message.header.value(3)}|{ctx.message.control_id}|{orc.index}"
    )
    status = status_map("0038").get(orc.value(5)) or status_map("0119").get(orc.value(1))
    request: Json = {
        "resourceType": "ServiceRequest",
        "id": derived_id("ServiceRequest", key),
        "status": status or "unknown",
        "intent": "order",
    }
    if identifiers:
        request["identifier"] = identifiers
    if obr is not None:
        code = cwe_concept(obr.field(4))
        if code:
            request["code"] = code
        priority = PRIORITY.get(obr.value(5) or obr.value(27, 6))
        if priority:
            request["priority"] = priority
    ctx.with_context(request)
    authored = ctx.dtm(orc, 9)
    if authored:
        request["authoredOn"] = authored
    requester = xcn_reference(orc.field(12)) or (
        xcn_reference(obr.field(16)) if obr is not None else None
    )
    if requester:
        request["requester"] = requester
    if reasons:
        request["reasonCode"] = reasons
    following = _notes_after(ctx, obr or orc)
    if following:
        request["note"] = following
    return request


def _notes_after(ctx: MessageContext, segment: Segment) -> list[Json]:
    found = []
    for later in ctx.message.segments[segment.index :]:
        if later.name != "NTE":
            break
        found.append(later)
    return notes(found)


def map_vaccination(ctx: MessageContext) -> None:
    """VXU^V04: one Immunization per RXA (route and site from RXR, funding from OBX)."""
    _begin(ctx, "VXU^V04")
    segments = ctx.message.segments
    made = 0
    for position, rxa in enumerate(segments):
        if rxa.name != "RXA":
            continue
        group_end = next(
            (i for i in range(position + 1, len(segments)) if segments[i].name in ("ORC", "RXA")),
            len(segments),
        )
        group = segments[position + 1 : group_end]
        orc = next((s for s in reversed(segments[:position]) if s.name == "ORC"), None)
        ctx.add(immunization(ctx, rxa, orc, group))
        made += 1
    if not made:
        raise MappingError("missing-segment", "VXU^V04 without an RXA segment")


FUNDING = {"30963-3": "fundingSource", "64994-7": "programEligibility"}
"""OBX-3 LOINC codes of VXU that fill Immunization elements (CDC IIS IG, v2-to-FHIR VXU map)."""


def immunization(
    ctx: MessageContext, rxa: Segment, orc: Segment | None, group: list[Segment]
) -> Json:
    """RXA (+ RXR, OBX) → Immunization."""
    vaccine = cwe_concept(rxa.field(5))
    if vaccine is None:
        raise MappingError("missing-required-field", f"{rxa.where(5)}: no vaccine code")
    occurred = ctx.dtm(rxa, 3)
    if occurred is None:
        raise MappingError("missing-required-field", f"{rxa.where(3)}: no administration date")
    order = ei_identifier(orc.field(3)) or ei_identifier(orc.field(2)) if orc else None
    patient_ref = ctx.subject()["reference"]
    key = (
        f"{order.get('system', '')}|{order['value']}"
        if order
        else f"{patient_ref}|{occurred}|{rxa.value(5)}"
    )
    status = (
        "entered-in-error"
        if rxa.value(21) == "D"
        else (status_map("0322").get(rxa.value(20), "completed"))
    )
    resource: Json = {
        "resourceType": "Immunization",
        "id": derived_id("Immunization", key),
        "status": status,
        "vaccineCode": vaccine,
    }
    if order:
        resource["identifier"] = [order]
    ctx.with_context(resource, subject_key="patient")
    resource["occurrenceDateTime"] = occurred
    if rxa.value(9):
        resource["primarySource"] = rxa.value(9) == "00"
    amount = rxa.value(6)
    if amount and amount != "999":
        dose = quantity(amount, rxa.field(7), rxa.where(6))
        resource["doseQuantity"] = dose
    if rxa.value(15):
        resource["lotNumber"] = rxa.value(15)
    expiry = parse_date(rxa.value(16), rxa.where(16))
    if expiry:
        resource["expirationDate"] = expiry
    if rxa.field(17).comp(2) or rxa.field(17).comp(1):
        resource["manufacturer"] = {"display": rxa.field(17).comp(2) or rxa.field(17).comp(1)}
    performer = xcn_reference(rxa.field(10))
    if performer:
        resource["performer"] = [
            {"function": table_concept("AP", "0443", "Administering Provider"), "actor": performer}
        ]
    if status == "not-done":
        reason = cwe_concept(rxa.field(18))
        if reason:
            resource["statusReason"] = reason
    for segment in group:
        if segment.name == "RXR":
            route, site = cwe_concept(segment.field(1)), cwe_concept(segment.field(2))
            if route:
                resource["route"] = route
            if site:
                resource["site"] = site
        elif segment.name == "OBX" and segment.value(3) in FUNDING:
            concept = cwe_concept(segment.field(5))
            if concept:
                element = FUNDING[segment.value(3)]
                if element == "programEligibility":
                    resource[element] = [concept]
                else:
                    resource[element] = concept
    return resource


APPOINTMENT_EVENTS = {"S12": "booked", "S13": "booked", "S14": "booked", "S15": "cancelled",
                      "S17": "entered-in-error", "S26": "noshow"}  # fmt: skip
"""SIU trigger events → Appointment.status when SCH-25 says nothing."""


def map_schedule(ctx: MessageContext, event: str) -> None:
    """SIU^S12 (and S13-S15, S17, S26) → Appointment."""
    if event not in APPOINTMENT_EVENTS:
        raise MappingError(
            "unsupported-message-type",
            f"SIU^{event} is not mapped (supported: SIU^{', SIU^'.join(APPOINTMENT_EVENTS)})",
        )
    sch = ctx.message.first("SCH")
    if sch is None:
        raise MappingError("missing-segment", f"SIU^{event} without an SCH segment")
    _begin(ctx, f"SIU^{event}")
    placer, filler = ei_identifier(sch.field(1)), ei_identifier(sch.field(2))
    identifiers = [i for i in (placer, filler) if i]
    if not identifiers:
        raise MappingError("missing-required-field", f"{sch.where(1)}: no appointment id")
    main = filler or placer
    assert main is not None
    status = status_map("0278").get(sch.value(25)) or APPOINTMENT_EVENTS[event]
    appointment: Json = {
        "resourceType": "Appointment",
        "id": derived_id("Appointment", f"{main.get('system', '')}|{main['value']}"),
        "identifier": identifiers,
        "status": status,
    }
    reason = cwe_concept(sch.field(7))
    if reason:
        appointment["reasonCode"] = [reason]
    kind = cwe_concept(sch.field(8))
    if kind:
        appointment["appointmentType"] = kind
    tq1 = ctx.message.first("TQ1")
    start = (ctx.dtm(tq1, 7) if tq1 else None) or ctx.dtm(sch, 11, 4)
    end = (ctx.dtm(tq1, 8) if tq1 else None) or ctx.dtm(sch, 11, 5)
    if start:
        appointment["start"] = start
    if end:
        appointment["end"] = end
    minutes = _minutes(sch.value(9), sch.value(10))
    if minutes:
        appointment["minutesDuration"] = minutes
    ais = ctx.message.first("AIS")
    if ais is not None:
        service = cwe_concept(ais.field(3))
        if service:
            appointment["serviceType"] = [service]
    comment = "\n".join(n["text"] for n in _notes_after(ctx, tq1 or sch))
    if comment:
        appointment["comment"] = comment
    participants: list[Json] = [
        {"actor": ctx.subject(), "required": "required", "status": "accepted"}
    ]
    for segment in ctx.message.segments:
        display = ""
        if segment.name == "AIP":
            person = xcn_reference(segment.field(3))
            display = person["display"] if person else ""
        elif segment.name == "AIL":
            display = location_display(segment.field(3))
        elif segment.name == "AIG":
            display = segment.field(3).comp(2) or segment.value(3)
        if display:
            participants.append({"actor": {"display": display}, "status": "accepted"})
    appointment["participant"] = participants
    ctx.add(appointment)


def _minutes(amount: str, unit: str) -> int | None:
    if not amount.isdigit():
        return None
    factor = {"s": 1 / 60, "min": 1, "h": 60, "hr": 60, "d": 1440}.get(unit.split("^")[0], 1)
    minutes = int(int(amount) * factor)
    return minutes if minutes > 0 else None
