"""CDA R2 documents (C-CDA, French CI-SIS) → FHIR: the header gives Patient, Encounter,
Composition and a DocumentReference keeping the whole document; structured entries give
Condition, AllergyIntolerance, MedicationStatement, Immunization, Observation, Procedure.

Parsing is safe by construction: no DTD (a DOCTYPE is refused), no entity expansion, no network,
no huge trees, and a size bound. Maps follow the C-CDA on FHIR IG (https://hl7.org/fhir/us/ccda/)
for the header and the section entries; French volets use the same CDA templates.
"""

from __future__ import annotations

import base64
import csv
import re
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree

from hygie.sources.hl7v2.datatypes import MappingError, derived_id, parse_dtm

V3 = "urn:hl7-org:v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS = {"v3": V3}
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024
DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)
Json = dict[str, Any]
Element = Any  # lxml elements are untyped


@cache
def _csv(name: str) -> dict[str, str]:
    text = resources.files("hygie.sources.cda").joinpath(name).read_text("utf-8")
    rows = csv.reader(line for line in text.splitlines() if line and not line.startswith("#"))
    next(rows)
    return {row[0]: row[1] for row in rows}


def parse_document(content: bytes) -> Element:
    """Parse a CDA document safely; raise MappingError (reason, where) when it cannot be."""
    if len(content) > MAX_DOCUMENT_BYTES:
        raise MappingError("document-too-large", f"over {MAX_DOCUMENT_BYTES // 2**20} MiB")
    found = DOCTYPE.search(content)
    if found is not None:
        raise MappingError(
            "forbidden-dtd",
            f"byte {found.start()}: a DOCTYPE/ENTITY declaration is not accepted in a CDA document "
            "(entity expansion and external entities are refused)",
        )
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
    )
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        raise MappingError("invalid-xml", f"line {line} column {column}: {exc.msg}") from None
    if root.tag != f"{{{V3}}}ClinicalDocument":
        raise MappingError("not-cda", f"the root element is {root.tag}, not v3 ClinicalDocument")
    return root


class DocumentMap:
    """The mapping of one document: its key, its patient and the resources made."""

    def __init__(self, root: Element, content: bytes, zone: ZoneInfo) -> None:
        self.root = root
        self.content = content
        self.zone = zone
        self.resources: list[Json] = []
        doc_id = root.find("v3:id", NS)
        if doc_id is None or not doc_id.get("root"):
            raise MappingError("missing-required-field", "ClinicalDocument/id is missing")
        self.document_identifier = ii_identifier(doc_id)
        self.key = f"{doc_id.get('root')}|{doc_id.get('extension', '')}"
        self.patient_reference = ""
        self.encounter_reference: str | None = None

    def when(self, element: Element | None, where: str) -> str | None:
        """A CDA TS (``value`` attribute, or ``low``) as a FHIR dateTime."""
        if element is None:
            return None
        value = element.get("value")
        if value is None:
            low = element.find("v3:low", NS)
            value = low.get("value") if low is not None else None
        if not value:
            return None
        return parse_dtm(value, f"{where} (line {element.sourceline})", self.zone)

    def add(self, resource: Json) -> Json:
        """Keep ``resource`` unless one of that type and id is already kept (returned then)."""
        for kept in self.resources:
            if kept["resourceType"] == resource["resourceType"] and kept["id"] == resource["id"]:
                return kept
        self.resources.append(resource)
        return resource


def ii_identifier(element: Element) -> Json:
    """An II (root + extension) → Identifier; a root alone is the whole identifier."""
    root, extension = element.get("root", ""), element.get("extension")
    if extension:
        return {"system": system_uri(root), "value": extension}
    return {"system": "urn:ietf:rfc:3986", "value": f"urn:oid:{root}" if "." in root else root}


def system_uri(oid: str) -> str:
    return _csv("code_systems.csv").get(oid) or (f"urn:oid:{oid}" if oid else "urn:ietf:rfc:3986")


def concept(element: Element | None) -> Json | None:
    """A CD/CE (code, codeSystem, displayName, originalText, translations) → CodeableConcept."""
    if element is None:
        return None
    codings = []
    for coded in [element, *element.findall("v3:translation", NS)]:
        code = coded.get("code")
        if code:
            coding: Json = {"system": system_uri(coded.get("codeSystem", "")), "code": code}
            if coded.get("displayName"):
                coding["display"] = coded.get("displayName")
            codings.append(coding)
    text = (element.findtext("v3:originalText", namespaces=NS) or "").strip()
    if not codings and not text:
        return None
    result: Json = {}
    if codings:
        result["coding"] = codings
    if text:
        result["text"] = text
    return result


def human_name(element: Element | None) -> Json | None:
    """The name's first (or only) HumanName; see :func:`human_names`."""
    names = human_names(element)
    return names[0] if names else None


def human_names(element: Element | None) -> list[Json]:
    """A PN as HumanNames: one, or two when parts carry the CL (used name) qualifier.

    CI-SIS identity names (ANS, volet "Identifiants et données de santé", INS rules) hold in one
    ``name`` the birth name (family BR, the list of birth first names unqualified, the first one
    again with BR) and the used name (family/given CL): the birth name is the official one.
    """
    if element is None:
        return []
    parts = [(p, p.get("qualifier", "")) for p in element if isinstance(p.tag, str)]
    used = [(p, q) for p, q in parts if "CL" in q.split()]
    birth = [(p, q) for p, q in parts if "CL" not in q.split()]
    if used and birth:
        # The unqualified given holds all birth first names; the BR one repeats the first.
        if any(_local(p) == "given" and not q for p, q in birth):
            birth = [(p, q) for p, q in birth if not (_local(p) == "given" and "BR" in q.split())]
        return [n for n in (_name_of(birth, "official"), _name_of(used, "usual")) if n]
    name = _name_of(parts, NAME_USE.get(element.get("use", "")))
    if name is None and (element.text or "").strip():
        name = {"text": element.text.strip()}
    return [name] if name else []


NAME_USE = {"L": "official", "C": "old", "P": "nickname", "A": "anonymous", "ASGN": "usual",
            "BR": "old"}  # fmt: skip
"""EN/@use (HL7 v3 EntityNameUse) → HumanName.use."""


def _local(element: Element) -> str:
    return str(element.tag).rsplit("}", 1)[-1]


def _name_of(parts: list[tuple[Element, str]], use: str | None) -> Json | None:
    name: Json = {}
    family = " ".join((p.text or "").strip() for p, _q in parts
                      if _local(p) == "family" and (p.text or "").strip())  # fmt: skip
    given = [(p.text or "").strip() for p, _q in parts
             if _local(p) == "given" and (p.text or "").strip()]  # fmt: skip
    prefix = [(p.text or "").strip() for p, _q in parts
              if _local(p) == "prefix" and (p.text or "").strip()]  # fmt: skip
    suffix = [(p.text or "").strip() for p, _q in parts
              if _local(p) == "suffix" and (p.text or "").strip()]  # fmt: skip
    if family:
        name["family"] = family
    if given:
        name["given"] = given
    if prefix:
        name["prefix"] = prefix
    if suffix:
        name["suffix"] = suffix
    if name and use:
        name["use"] = use
    return name or None


def display_of(element: Element | None) -> str:
    """A display text for an author, custodian or performer element."""
    if element is None:
        return ""
    for path in (".//v3:assignedPerson/v3:name", ".//v3:name"):
        found = element.find(path, NS)
        if found is not None:
            name = human_name(found) or {}
            parts = [*name.get("given", []), name.get("family", ""), name.get("text", "")]
            shown = " ".join(p for p in parts if p)
            if shown:
                return shown
    return ""


GENDER = {"M": "male", "F": "female", "UN": "other", "U": "unknown"}


def map_header(doc: DocumentMap) -> Json:
    """recordTarget → Patient; componentOf → Encounter; the header → Composition fields."""
    root = doc.root
    role = root.find("v3:recordTarget/v3:patientRole", NS)
    if role is None:
        raise MappingError("missing-required-field", "recordTarget/patientRole is missing")
    identifiers = [ii_identifier(i) for i in role.findall("v3:id", NS) if i.get("root")]
    if not identifiers:
        raise MappingError("missing-patient-identifier", "recordTarget/patientRole has no id")
    patient: Json = {
        "resourceType": "Patient",
        "id": derived_id("Patient", f"{identifiers[0]['system']}|{identifiers[0]['value']}"),
        "identifier": identifiers,
    }
    person = role.find("v3:patient", NS)
    if person is not None:
        names = [n for x in person.findall("v3:name", NS) for n in human_names(x)]
        if names:
            patient["name"] = names
        gender = person.find("v3:administrativeGenderCode", NS)
        if gender is not None and gender.get("code") in GENDER:
            patient["gender"] = GENDER[gender.get("code")]
        birth = doc.when(person.find("v3:birthTime", NS), "patient/birthTime")
        if birth:
            patient["birthDate"] = birth[:10]
    addresses = []
    for addr in role.findall("v3:addr", NS):
        address: Json = {}
        lines = [x.text.strip() for x in addr.findall("v3:streetAddressLine", NS) if x.text]
        if not lines:
            # CI-SIS addresses are in parts: houseNumber, streetName, then unitID etc.
            street = " ".join((addr.findtext(f"v3:{tag}", namespaces=NS) or "").strip()
                              for tag in ("houseNumber", "streetName")).strip()  # fmt: skip
            extra = [(addr.findtext(f"v3:{tag}", namespaces=NS) or "").strip()
                     for tag in ("additionalLocator", "unitID", "postBox")]  # fmt: skip
            lines = [line for line in (street, *extra) if line]
        if lines:
            address["line"] = lines
        for key, tag in (("city", "city"), ("postalCode", "postalCode"), ("country", "country")):
            value = (addr.findtext(f"v3:{tag}", namespaces=NS) or "").strip()
            if value:
                address[key] = value
        if address:
            addresses.append(address)
    if addresses:
        patient["address"] = addresses
    doc.patient_reference = f"Patient/{patient['id']}"
    doc.add(patient)
    encounter = root.find("v3:componentOf/v3:encompassingEncounter", NS)
    if encounter is not None:
        enc_id = encounter.find("v3:id", NS)
        key = (
            f"{enc_id.get('root')}|{enc_id.get('extension', '')}"
            if enc_id is not None and enc_id.get("root")
            else f"document|{doc.key}"
        )
        resource: Json = {
            "resourceType": "Encounter",
            "id": derived_id("Encounter", key),
            "status": "finished",
            # Encounter.class is required; a header that does not say it gives "unknown".
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor",
                "code": "UNK",
                "display": "unknown",
            },
            "subject": {"reference": doc.patient_reference},
        }
        code = concept(encounter.find("v3:code", NS))
        if code and code.get("coding", [{}])[0].get("code") in ("IMP", "EMER", "AMB"):
            resource["class"] = code["coding"][0]
        period: Json = {}
        effective = encounter.find("v3:effectiveTime", NS)
        start = doc.when(effective, "encompassingEncounter/effectiveTime")
        high = effective.find("v3:high", NS) if effective is not None else None
        if start:
            period["start"] = start
        if high is not None and high.get("value"):
            period["end"] = parse_dtm(high.get("value"), "encompassingEncounter/high", doc.zone)
        if period:
            resource["period"] = period
        doc.encounter_reference = f"Encounter/{resource['id']}"
        doc.add(resource)
    return patient


def narrative(section: Element) -> Json | None:
    """The section's human-readable text as an XHTML narrative (text content, escaped)."""
    text = section.find("v3:text", NS)
    if text is None:
        return None
    content = " ".join(" ".join(text.itertext()).split())
    if not content:
        return None
    div = etree.Element(
        "{http://www.w3.org/1999/xhtml}div", nsmap={None: "http://www.w3.org/1999/xhtml"}
    )
    div.text = content
    return {"status": "generated", "div": etree.tostring(div, encoding="unicode")}


def document_reference(doc: DocumentMap, code: Json, date: str | None) -> Json:
    """The whole document, as received, in a DocumentReference (plus a nonXMLBody reference)."""
    contents: list[Json] = [
        {
            "attachment": {
                "contentType": "application/hl7-cda+xml",
                "data": base64.b64encode(doc.content).decode("ascii"),
            },
            "format": {
                "system": "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode",
                "code": "urn:hl7-org:sdwg:ccda-structuredBody:2.1",
            },
        }
    ]
    body = doc.root.find("v3:component/v3:nonXMLBody/v3:text", NS)
    if body is not None:
        reference = body.find("v3:reference", NS)
        attachment: Json = {"contentType": body.get("mediaType", "application/octet-stream")}
        if reference is not None and reference.get("value"):
            attachment["url"] = reference.get("value")
            contents.append({"attachment": attachment})
        elif body.get("representation") == "B64" and (body.text or "").strip():
            attachment["data"] = "".join(body.text.split())
            contents.append({"attachment": attachment})
    resource: Json = {
        "resourceType": "DocumentReference",
        "id": derived_id("DocumentReference", doc.key),
        "masterIdentifier": doc.document_identifier,
        "status": "current",
        "type": code,
        "subject": {"reference": doc.patient_reference},
        "content": contents,
    }
    if date and "T" in date:
        resource["date"] = date
    if doc.encounter_reference:
        resource["context"] = {"encounter": [{"reference": doc.encounter_reference}]}
    return resource
