"""CDA R2 files as an input format: one item per document, found by its root element."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

from hygie.sources.base import (
    Interpretation,
    RawItem,
    ReadFailure,
    ReferenceLookup,
    Rejection,
    package_mapped,
)
from hygie.sources.cda.document import (
    MAX_DOCUMENT_BYTES,
    NS,
    DocumentMap,
    Json,
    concept,
    display_of,
    document_reference,
    map_header,
    narrative,
    parse_document,
)
from hygie.sources.cda.entries import map_section
from hygie.sources.hl7v2.datatypes import MappingError, derived_id

ROOT_ELEMENT = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?ClinicalDocument\b[^>]*xmlns(?::[\w.-]+)?\s*=\s*[\"']urn:hl7-org:v3[\"']"
)


class CdaSource:
    """CDA R2 XML documents (C-CDA, French CI-SIS volets), one document per file."""

    name = "cda"

    def __init__(self, timezone: str = "Europe/Paris") -> None:
        self.zone = ZoneInfo(timezone)

    def sniff(self, path: Path, head: bytes) -> bool:
        return ROOT_ELEMENT.search(head) is not None

    def read(self, path: Path) -> Iterator[RawItem | ReadFailure]:
        source = str(path)
        try:
            with path.open("rb") as handle:
                content = handle.read(MAX_DOCUMENT_BYTES + 1)
        except OSError as exc:
            yield ReadFailure(source, None, None, "unreadable-file", f"cannot read: {exc}")
            return
        if len(content) > MAX_DOCUMENT_BYTES:
            yield ReadFailure(source, None, 0, "document-too-large",
                              f"a CDA document over {MAX_DOCUMENT_BYTES // 2**20} MiB")  # fmt: skip
            return
        yield RawItem(source, 1, 0, self.name, content)

    def interpret(self, item: RawItem, lookup: ReferenceLookup) -> Interpretation:
        try:
            resources = map_document(item.content, self.zone)
        except MappingError as exc:
            return Interpretation(rejections=[Rejection(exc.reason, str(exc))])
        return package_mapped(resources)


def map_document(content: bytes, zone: ZoneInfo) -> list[Json]:
    """All FHIR resources of one CDA document (Composition first after Patient/Encounter)."""
    root = parse_document(content)
    doc = DocumentMap(root, content, zone)
    map_header(doc)
    code = concept(root.find("v3:code", NS))
    if code is None:
        raise MappingError("missing-required-field", "ClinicalDocument/code is missing")
    date = doc.when(root.find("v3:effectiveTime", NS), "ClinicalDocument/effectiveTime")
    title = (root.findtext("v3:title", namespaces=NS) or "").strip()
    author = display_of(root.find("v3:author/v3:assignedAuthor", NS))
    composition: Json = {
        "resourceType": "Composition",
        "id": derived_id("Composition", doc.key),
        "identifier": doc.document_identifier,
        "status": "final",
        "type": code,
        "subject": {"reference": doc.patient_reference},
        "date": date,
        "author": [{"display": author or "unknown author"}],
        "title": title or code.get("coding", [{}])[0].get("display", "CDA document"),
    }
    if doc.encounter_reference:
        composition["encounter"] = {"reference": doc.encounter_reference}
    custodian = (
        display_of(root.find(".//v3:custodian/v3:assignedCustodian", NS))
        or (
            root.findtext(".//v3:representedCustodianOrganization/v3:name", namespaces=NS) or ""
        ).strip()
    )
    if custodian:
        composition["custodian"] = {"display": custodian}
    sections = []
    for index, section in enumerate(
        root.iterfind("v3:component/v3:structuredBody/v3:component/v3:section", NS)
    ):
        sections.append(_section(doc, section, index))
    if sections:
        composition["section"] = sections
    doc.resources.append(composition)
    doc.resources.append(document_reference(doc, code, date))
    return doc.resources


def _section(doc: DocumentMap, section: object, index: int) -> Json:
    entry: Json = {}
    title = (section.findtext("v3:title", namespaces=NS) or "").strip()  # type: ignore[attr-defined]
    if title:
        entry["title"] = title
    code = concept(section.find("v3:code", NS))  # type: ignore[attr-defined]
    if code:
        entry["code"] = code
    text = narrative(section)
    if text:
        entry["text"] = text
    made = map_section(doc, section, index)
    for nested in section.iterfind(".//v3:section", NS):  # type: ignore[attr-defined]
        made.extend(map_section(doc, nested, index))
    if made:
        entry["entry"] = [{"reference": f"{r['resourceType']}/{r['id']}"} for r in made]
    if not text and not made:
        entry["emptyReason"] = {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/list-empty-reason", "code": "unavailable",
        }]}  # fmt: skip
    return entry
