"""Results and documents: ORU^R01 → DiagnosticReport + Observation (+ DocumentReference for
documents carried in OBX ED/RP), MDM^T02 → DocumentReference.

Segment maps followed: v2-to-FHIR IG OBR → DiagnosticReport, OBX → Observation, OBX[ED] →
DocumentReference, TXA → DocumentReference
(https://build.fhir.org/ig/HL7/v2-to-fhir/ConceptMap-segment-obx-to-observation.html and siblings).
"""

from __future__ import annotations

import base64
import binascii
import re

from hygie.sources.hl7v2.context import MessageContext, bind_encounter, bind_patient, notes
from hygie.sources.hl7v2.datatypes import (
    Json,
    MappingError,
    cwe_concept,
    derived_id,
    ei_identifier,
    lookup,
    mapped_once,
    numeric,
    quantity,
    status_map,
    table_concept,
    xcn_reference,
)
from hygie.sources.hl7v2.parser import Composite, Segment

VALUE_TYPES = frozenset(
    [
        "AD",
        "CE",
        "CF",
        "CK",
        "CN",
        "CNE",
        "CP",
        "CWE",
        "CX",
        "DR",
        "DT",
        "DTM",
        "ED",
        "EI",
        "FT",
        "HD",
        "ID",
        "IS",
        "MA",
        "MO",
        "NA",
        "NM",
        "NR",
        "PN",
        "RP",
        "SN",
        "ST",
        "TM",
        "TN",
        "TS",
        "TX",
        "XAD",
        "XCN",
        "XON",
        "XPN",
        "XTN",
    ]
)
"""OBX-2 value types (HL7 table 0125); other values are refused."""
DOCUMENT_TYPES = frozenset({"ED", "RP"})
MIME_MAJOR = {"TEXT": "text", "TX": "text", "FT": "text", "AP": "application",
              "APPLICATION": "application", "IM": "image", "IMAGE": "image", "SI": "image",
              "SD": "application", "NS": "application", "AU": "audio", "AUDIO": "audio",
              "VIDEO": "video", "MULTIPART": "multipart"}  # fmt: skip
"""ED.2 / RP.3 type of data (HL7 table 0191, or a MIME type name) → MIME major type."""
CODED_TYPES = frozenset({"CE", "CWE", "CNE", "CF"})
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
CISIS_TRANSMISSION_CODES = frozenset(
    [
        "MASQUE_PS",
        "INVISIBLE_PATIENT",
        "INVISIBLE_REPRESENTANTS_LEGAUX",
        "CONNEXION_SECRETE",
        "MODIF_CONFIDENTIALITYCODE",
        "DESTDMP",
        "DESTMSSANTEPS",
        "DESTMSSANTEPAT",
        "CORPSMAIL_PS",
        "CORPSMAIL_PATIENT",
        "COMP_LOT",
    ]
)
"""OBX-3 codes of the ANS "transmission de documents CDA en HL7 v2" profile (CI-SIS, MSH-21
CISIS_CDA_HL7_V1): routing and visibility metadata of the transmitted document, not clinical
observations. They stay in the raw message and produce no Observation."""
LAB_CATEGORY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "laboratory",
        }
    ]
}


def map_oru(ctx: MessageContext) -> None:
    """ORU^R01: one DiagnosticReport per OBR, one Observation (or document) per OBX."""
    pid = ctx.message.first("PID")
    if pid is None:
        raise MappingError("missing-segment", "ORU without a PID segment")
    bind_patient(ctx, pid, authoritative=False)
    bind_encounter(ctx, status=None, authoritative=False)
    report: Json | None = None
    order_key = ""
    last: Json | None = None
    seen: dict[str, int] = {}
    pending_notes: list[Segment] = []
    for segment in ctx.message.segments:
        name = segment.name
        if name == "OBR":
            _close_notes(last, pending_notes)
            report, order_key = diagnostic_report(ctx, segment)
            ctx.add(report)
            last, seen = report, {}
        elif name == "OBX":
            _close_notes(last, pending_notes)
            key = order_key or f"msg|{ctx.message.header.value(3)}|{ctx.message.control_id}"
            last = observation_or_document(ctx, segment, report, key, seen)
        elif name == "NTE":
            pending_notes.append(segment)
    _close_notes(last, pending_notes)
    if not any(r["resourceType"] != "Patient" and r["resourceType"] != "Encounter"
               for r in ctx.resources):  # fmt: skip
        raise MappingError("missing-segment", "ORU^R01 without any OBR or OBX segment")


def _close_notes(target: Json | None, pending: list[Segment]) -> None:
    if target is not None and pending and target["resourceType"] == "Observation":
        target.setdefault("note", []).extend(notes(pending))
    elif target is not None and pending and target["resourceType"] == "DiagnosticReport":
        conclusion = "\n".join(n["text"] for n in notes(pending))
        if conclusion:
            target["conclusion"] = conclusion
    pending.clear()


def order_identifiers(placer: Composite, filler: Composite) -> tuple[list[Json], str]:
    """Placer and filler order numbers as Identifiers, and the key an order's ids derive from."""
    identifiers: list[Json] = []
    key = ""
    for ei, code in ((placer, "PLAC"), (filler, "FILL")):
        identifier = ei_identifier(ei)
        if identifier is None:
            continue
        identifier["type"] = table_concept(code, "0203")
        identifiers.append(identifier)
        key = f"{code}|{identifier.get('system', '')}|{identifier['value']}"
    return identifiers, key


def diagnostic_report(ctx: MessageContext, obr: Segment) -> tuple[Json, str]:
    """OBR → DiagnosticReport (its key: the filler order number, else the placer's)."""
    orc = _orc_before(ctx, obr)
    placer = obr.field(2) if obr.value(2) else (orc.field(2) if orc else obr.field(2))
    filler = obr.field(3) if obr.value(3) else (orc.field(3) if orc else obr.field(3))
    identifiers, key = order_identifiers(placer, filler)
    if not key:
        key = f"msg|{ctx.message.header.value(3)}|{ctx.message.control_id}|{obr.index}"
    code = cwe_concept(obr.field(4))
    if code is None:
        raise MappingError("missing-required-field", f"{obr.where(4)}: the OBR has no test code")
    report: Json = {
        "resourceType": "DiagnosticReport",
        "id": derived_id("DiagnosticReport", key),
        "status": status_map("0123").get(obr.value(25), "unknown"),
        "category": [LAB_CATEGORY],
        "code": code,
    }
    if identifiers:
        report["identifier"] = identifiers
    ctx.with_context(report)
    effective = ctx.dtm(obr, 7)
    if effective:
        report["effectiveDateTime"] = effective
    issued = ctx.dtm(obr, 22)
    if issued and "T" in issued:
        report["issued"] = issued
    return report, key


def _orc_before(ctx: MessageContext, obr: Segment) -> Segment | None:
    segments = ctx.message.segments
    for index in range(obr.index - 2, 0, -1):
        if segments[index].name == "ORC":
            return segments[index]
        if segments[index].name == "OBR":
            return None
    return None


def observation_or_document(
    ctx: MessageContext, obx: Segment, report: Json | None, order_key: str, seen: dict[str, int]
) -> Json | None:
    """OBX → Observation, or DocumentReference when it carries a document (ED, RP)."""
    value_type = obx.value(2).upper()
    if value_type and value_type not in VALUE_TYPES:
        raise MappingError(
            "unsupported-value-type",
            f"{obx.where(2)}: value type {value_type!r} is not an HL7 v2 data type (table 0125)",
        )
    code_field = obx.field(3)
    code = cwe_concept(code_field)
    code_text = code_field.sub(1)
    if code_text in CISIS_TRANSMISSION_CODES:
        return None
    occurrence = f"{code_text}|{obx.value(4)}"
    seen[occurrence] = seen.get(occurrence, 0) + 1
    key = f"{order_key}|{occurrence}|{seen[occurrence]}"
    if value_type in DOCUMENT_TYPES:
        document = document_from_obx(ctx, obx, code, key)
        if document is not None and report is not None:
            document["context"] = {"related": [{"reference": f"DiagnosticReport/{report['id']}"}]}
            if ctx.encounter_reference:
                document["context"]["encounter"] = [{"reference": ctx.encounter_reference}]
        return ctx.add(document) if document is not None else None
    if code is None:
        raise MappingError("missing-required-field", f"{obx.where(3)}: the OBX has no code")
    observation: Json = {
        "resourceType": "Observation",
        "id": derived_id("Observation", key),
        "status": RESULT_STATUS.get(obx.value(11), "unknown"),
        "code": code,
    }
    if report is not None:
        observation["category"] = [LAB_CATEGORY]
    ctx.with_context(observation)
    effective = ctx.dtm(obx, 14)
    if effective is None and report is not None:
        effective = report.get("effectiveDateTime")
    if effective:
        observation["effectiveDateTime"] = effective
    set_value(ctx, observation, obx, value_type)
    flags = obx.raw(8)
    if flags:
        interpretation = mapped_once(INTERPRETATIONS, flags, obx.encoding, _interpretations, obx)
        if interpretation:
            observation["interpretation"] = interpretation
    if obx.raw(7) and obx.value(7):
        observation["referenceRange"] = [reference_range(obx)]
    if obx.raw(17):
        method = cwe_concept(obx.field(17))
        if method:
            observation["method"] = method
    ctx.add(observation)
    if report is not None:
        report.setdefault("result", []).append({"reference": f"Observation/{observation['id']}"})
    return observation


def set_value(ctx: MessageContext, observation: Json, obx: Segment, value_type: str) -> None:
    """OBX-5 (with OBX-6 units) → Observation.value[x], by OBX-2 value type."""
    reps = obx.repetitions(5)
    if not reps or not reps[0].text:
        return
    first = reps[0]

    def where() -> str:
        return obx.where(5)

    if value_type == "NM":
        observation["valueQuantity"] = quantity(first.comp(1), obx.field(6), where)
        if len(reps) > 1:
            extra = ", ".join(rep.comp(1) for rep in reps[1:])
            observation.setdefault("note", []).append({"text": f"further values: {extra}"})
    elif value_type == "SN":
        _structured_numeric(observation, first, obx)
    elif value_type in CODED_TYPES:
        concept = cwe_concept(first)
        if concept:
            observation["valueCodeableConcept"] = concept
    elif value_type in ("DT", "DTM", "TS"):
        stamp = ctx.dtm(obx, 5)
        if stamp:
            observation["valueDateTime"] = stamp
    elif value_type == "TM":
        digits = first.comp(1)
        if not re.fullmatch(r"\d{2}(\d{2})?(\d{2})?", digits[:6]):
            raise MappingError("invalid-date", f"{where()}: {digits!r} is not an HL7 time")
        digits = (digits[:6] + "0000")[:6]
        observation["valueTime"] = f"{digits[:2]}:{digits[2:4]}:{digits[4:6]}"
    else:
        observation["valueString"] = "\n".join(_unescaped(rep) for rep in reps)


def _unescaped(rep: Composite) -> str:
    return rep.encoding.component.join(rep.comp(i + 1) for i in range(len(rep.components())))


def _structured_numeric(observation: Json, sn: Composite, obx: Segment) -> None:
    comparator, first, separator, second = sn.comp(1), sn.comp(2), sn.comp(3), sn.comp(4)
    where = obx.where(5)
    if separator in ("-", "+") and second:
        low = quantity(first, obx.field(6), where)
        high = quantity(second, obx.field(6), where)
        observation["valueRange"] = {"low": low, "high": high}
    elif separator in (":", "/") and second:
        observation["valueRatio"] = {
            "numerator": {"value": numeric(first, where)},
            "denominator": {"value": numeric(second, where)},
        }
    else:
        value = quantity(first, obx.field(6), where)
        if comparator in ("<", "<=", ">", ">="):
            value["comparator"] = comparator
        observation["valueQuantity"] = value


def _interpretations(obx: Segment) -> list[Json]:
    """OBX-8 (each repetition a flag) → Observation.interpretation."""
    found = [_interpretation(rep.comp(1)) for rep in obx.repetitions(8)]
    return [i for i in found if i]


def _interpretation(flag: str) -> Json | None:
    if not flag:
        return None
    code = ABNORMAL_FLAGS.get(flag)
    if code is None:
        return {"text": flag}
    display = ABNORMAL_FLAG_DISPLAYS[flag]
    return {"coding": [{"system": INTERPRETATION, "code": code, "display": display}]}


INTERPRETATIONS: dict[tuple[str, str], list[Json]] = {}
"""OBX-8 as sent → Observation.interpretation (see :func:`mapped_once`)."""
RESULT_STATUS = status_map("0085")
"""OBX-11 (HL7 table 0085) → Observation.status."""
ABNORMAL_FLAGS = lookup("abnormal_flags", "v2_flag", "code")
ABNORMAL_FLAG_DISPLAYS = lookup("abnormal_flags", "v2_flag", "display")


def reference_range(obx: Segment) -> Json:
    """OBX-7 ('3.5-5.0', '<10', '>2') → referenceRange with the OBX-6 units."""
    text = obx.value(7).strip()
    unit = obx.field(6)
    where = obx.where(7)
    bounds = re.fullmatch(r"\s*([-+]?[\d.]+)\s*-\s*([-+]?[\d.]+)\s*", text)
    if bounds:
        return {
            "low": quantity(bounds[1], unit, where),
            "high": quantity(bounds[2], unit, where),
            "text": text,
        }
    one_side = re.fullmatch(r"\s*([<>]=?)\s*([-+]?[\d.]+)\s*", text)
    if one_side:
        side = "high" if one_side[1].startswith("<") else "low"
        return {side: quantity(one_side[2], unit, where), "text": text}
    return {"text": text}


def attachment_from_ed(ed: Composite, where: str) -> Json:
    """ED (source^type^subtype^encoding^data) → Attachment with base64 data."""
    kind, subtype, encoding, data = ed.comp(2), ed.comp(3), ed.comp(4).upper(), ed.comp(5)
    major = MIME_MAJOR.get(kind.upper(), "application")
    attachment: Json = {"contentType": f"{major}/{(subtype or 'octet-stream').lower()}"}
    if not data:
        return attachment
    if encoding in ("BASE64", "B64"):
        try:
            raw = base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise MappingError("invalid-attachment", f"{where}: the data is not base64") from None
    elif encoding == "HEX":
        try:
            raw = bytes.fromhex(data)
        except ValueError:
            raise MappingError("invalid-attachment", f"{where}: the data is not hex") from None
    else:
        raw = data.encode("utf-8")
    attachment["data"] = base64.b64encode(raw).decode("ascii")
    return attachment


def document_from_obx(
    ctx: MessageContext, obx: Segment, code: Json | None, key: str
) -> Json | None:
    """OBX of type ED (embedded document) or RP (pointer) → DocumentReference."""
    first = obx.field(5)
    if obx.value(2).upper() == "RP":
        pointer = first.comp(1)
        if not pointer:
            return None
        attachment: Json = {"url": pointer}
        major = MIME_MAJOR.get(first.comp(3).upper())
        if major and first.comp(4):
            attachment["contentType"] = f"{major}/{first.comp(4).lower()}"
    else:
        attachment = attachment_from_ed(first, obx.where(5))
        if "data" not in attachment:
            return None  # an ED without data carries no document
    document: Json = {
        "resourceType": "DocumentReference",
        "id": derived_id("DocumentReference", key),
        "status": "current",
        "content": [{"attachment": attachment}],
    }
    status = status_map("0085").get(obx.value(11))
    if status == "preliminary":
        document["docStatus"] = "preliminary"
    elif status in ("final", "corrected"):
        document["docStatus"] = "final" if status == "final" else "amended"
    if code is not None:
        document["type"] = code
    return ctx.with_context(document)


MDM_WITH_CONTENT = ("T02", "T04", "T06", "T08", "T10")


def map_mdm(ctx: MessageContext, event: str) -> None:
    """MDM^T02 (and the other events that carry content) → DocumentReference from TXA + OBX."""
    if event not in MDM_WITH_CONTENT:
        raise MappingError(
            "unsupported-message-type",
            f"MDM^{event} is not mapped (supported: MDM^{', MDM^'.join(MDM_WITH_CONTENT)})",
        )
    pid = ctx.message.first("PID")
    txa = ctx.message.first("TXA")
    if pid is None or txa is None:
        raise MappingError("missing-segment", f"MDM^{event} needs PID and TXA segments")
    bind_patient(ctx, pid, authoritative=False)
    bind_encounter(ctx, status=None, authoritative=False)
    unique = ei_identifier(txa.field(12))
    key = (
        f"{unique.get('system', '')}|{unique['value']}"
        if unique
        else f"msg|{ctx.message.header.value(3)}|{ctx.message.control_id}"
    )
    document: Json = {
        "resourceType": "DocumentReference",
        "id": derived_id("DocumentReference", key),
        "status": "current",
    }
    if unique:
        document["masterIdentifier"] = unique
    doc_status = status_map("0271").get(txa.value(17))
    if doc_status:
        document["docStatus"] = doc_status
    kind = table_concept(txa.value(2), "0270")
    if kind:
        document["type"] = kind
    ctx.with_context(document)
    encounter = document.pop("encounter", None)
    if encounter:
        document["context"] = {"encounter": [encounter]}
    date = ctx.dtm(txa, 6) or ctx.dtm(txa, 4)
    if date and "T" in date:
        document["date"] = date
    authors = [a for a in (xcn_reference(x) for x in txa.repetitions(9)) if a]
    authors += [a for a in (xcn_reference(x) for x in txa.repetitions(5)) if a]
    if authors:
        document["author"] = authors
    document["content"] = _mdm_content(ctx)
    ctx.add(document)


def _mdm_content(ctx: MessageContext) -> list[Json]:
    contents: list[Json] = []
    text_lines: list[str] = []
    for obx in ctx.message.all("OBX"):
        kind = obx.value(2).upper()
        if kind == "ED":
            contents.append({"attachment": attachment_from_ed(obx.field(5), obx.where(5))})
        elif kind == "RP" and obx.value(5):
            contents.append({"attachment": {"url": obx.value(5)}})
        elif kind in ("TX", "ST", "FT"):
            text_lines.extend(_unescaped(rep) for rep in obx.repetitions(5))
    if text_lines:
        data = base64.b64encode("\n".join(text_lines).encode("utf-8")).decode("ascii")
        contents.insert(0, {"attachment": {"contentType": "text/plain; charset=utf-8",
                                           "data": data}})  # fmt: skip
    if not contents:
        raise MappingError("missing-segment", "MDM without OBX content (TX, ED or RP)")
    return contents
