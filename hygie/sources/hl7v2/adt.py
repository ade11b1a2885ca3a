"""ADT messages → Patient and Encounter (admit, transfer, discharge, updates, cancels, merge).

What each trigger event does to the Encounter is data: ``tables/adt_events.csv``.

Merge (A40, also A34/A39): the FHIR ``Patient/$merge`` semantics
(https://hl7.org/fhir/patient-operation-merge.html) are written as resources, nothing is
deleted: the merged (non-surviving) Patient becomes ``active: false`` with a ``link`` of type
``replaced-by`` to the survivor, and the survivor gets a ``link`` of type ``replaces``. Resources
that pointed to the merged patient keep pointing to it, so nothing already stored is rewritten;
the merged patient's data is reached from the survivor by following the links
(``hygie/sources/hl7v2/merge.sql``). The ``replaced-by`` link on the merged patient is the lasting
record: no later message rewrites a retired identifier, while a later update of the survivor from
a message without MRG carries no ``replaces`` link.
"""

from __future__ import annotations

from hygie.sources.hl7v2.context import (
    MessageContext,
    bind_encounter,
    bind_patient,
    key_text,
    patient_key,
)
from hygie.sources.hl7v2.datatypes import Json, MappingError, cx_identifier, derived_id, lookup
from hygie.sources.hl7v2.parser import Segment

MERGE_EVENTS = ("A40", "A34", "A39")


def map_adt(ctx: MessageContext, event: str) -> None:
    """Map an ADT message of trigger ``event``."""
    if event in MERGE_EVENTS:
        map_merge(ctx)
        return
    statuses = lookup("adt_events", "event", "encounter_status")
    if event not in statuses:
        raise MappingError(
            "unsupported-message-type",
            f"ADT^{event} is not mapped (supported: ADT^{', ADT^'.join(statuses)})",
        )
    pid = ctx.message.first("PID")
    if pid is None:
        raise MappingError("missing-segment", f"ADT^{event} without a PID segment")
    bind_patient(ctx, pid, authoritative=True)
    status = statuses[event]
    if status == "-":
        return
    if ctx.message.first("PV1") is None:
        raise MappingError("missing-segment", f"ADT^{event} without a PV1 segment")
    bind_encounter(ctx, status=None if status == "pv1" else status, authoritative=True)


def map_merge(ctx: MessageContext) -> None:
    """Each PID/MRG pair: the PID patient survives, the MRG-1 patient is merged into it."""
    segments = ctx.message.segments
    pairs: list[tuple[Segment, Segment]] = []
    for index, segment in enumerate(segments):
        if segment.name == "PID":
            following = segments[index + 1] if index + 1 < len(segments) else None
            if following is None or following.name != "MRG":
                raise MappingError(
                    "missing-segment",
                    f"{segment.where(3)} of a merge is not followed by its MRG segment",
                )
            pairs.append((segment, following))
    if not pairs:
        raise MappingError("missing-segment", f"{ctx.message.type} without PID/MRG segments")
    for pid, mrg in pairs:
        survivor = bind_patient(ctx, pid, authoritative=True)
        assert survivor is not None
        merged = merged_patient(ctx, mrg, survivor)
        survivor["link"] = [{"other": {"reference": f"Patient/{merged['id']}"}, "type": "replaces"}]
        ctx.add(merged)


def merged_patient(ctx: MessageContext, mrg: Segment, survivor: Json) -> Json:
    """The retired patient of MRG-1, inactive and linked to the survivor."""
    identifiers = [i for i in (cx_identifier(cx) for cx in mrg.repetitions(1)) if i]
    if not identifiers:
        raise MappingError("missing-patient-identifier", f"{mrg.where(1)}: no prior identifier")
    key = patient_key(identifiers, mrg.where(1))
    found = ctx.existing("Patient", key)
    merged_id = found or derived_id("Patient", key_text(key))
    if merged_id == survivor["id"]:
        raise MappingError("invalid-merge", f"{mrg.where(1)} names the surviving patient itself")
    return {
        "resourceType": "Patient",
        "id": merged_id,
        "identifier": identifiers,
        "active": False,
        "link": [{"other": {"reference": f"Patient/{survivor['id']}"}, "type": "replaced-by"}],
    }
