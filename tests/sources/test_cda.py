"""CDA R2 → FHIR: C-CDA and French CI-SIS documents, and hostile XML."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from hygie.sources.cda import CdaSource
from hygie.sources.cda.document import NS, parse_document
from hygie.warehouse.ingest import ingest
from hygie.warehouse.warehouse import Warehouse
from tests.sources.conftest import CDA, CONNECTORS, assert_valid_and_linked, matches_expected

DOCUMENTS = sorted(CDA.rglob("*.xml"))


def test_all_documents_ingest_without_quarantine_and_keep_the_whole_document(
    warehouse: Warehouse,
) -> None:
    summary = ingest(warehouse, [str(p) for p in DOCUMENTS]).summary()
    assert summary["quarantined"] == 0, summary["quarantined_by_reason"]
    assert summary["formats"] == {"cda": len(DOCUMENTS)}
    resources = assert_valid_and_linked(warehouse)
    references = [r for r in resources if r["resourceType"] == "DocumentReference"]
    originals = {p.read_bytes() for p in DOCUMENTS}
    kept = {base64.b64decode(r["content"][0]["attachment"]["data"]) for r in references}
    # Examples sharing a ClinicalDocument/id are versions of one document: the last one is kept.
    document_ids = {
        (e.get("root"), e.get("extension"))
        for e in (parse_document(p.read_bytes()).find("v3:id", NS) for p in DOCUMENTS)
    }
    assert kept <= originals and len(kept) == len(references) == len(document_ids)
    assert ingest(warehouse, [str(p) for p in DOCUMENTS]).summary()["created"] == 0


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_each_document_gives_its_expected_resources(path: Path) -> None:
    expected = json.loads((CONNECTORS / "cda" / f"{path.stem}.expected.json").read_text())
    [item] = list(CdaSource().read(path))
    outcome = CdaSource().interpret(item, None)  # type: ignore[arg-type]
    assert outcome.rejections == []
    produced = {(r.resource_type, r.id): json.loads(r.json or b"{}") for r in outcome.resources}
    counts: dict[str, int] = {}
    for resource_type, _id in produced:
        counts[resource_type] = counts.get(resource_type, 0) + 1
    assert counts == expected["counts"]
    for wanted in expected["resources"]:
        matches_expected(produced[(wanted["resourceType"], wanted["id"])], wanted)


HOSTILE = {
    "billion-laughs": b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><ClinicalDocument xmlns="urn:hl7-org:v3">&lol2;'
    b"</ClinicalDocument>",
    "external-entity": b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<ClinicalDocument xmlns="urn:hl7-org:v3">&x;</ClinicalDocument>',
    "truncated": (CDA / "ans-ci-sis" / "VSM_1.4_2022.01.xml").read_bytes()[:5000],
}


@pytest.mark.parametrize(("name", "reason"), [("billion-laughs", "forbidden-dtd"),
                                              ("external-entity", "forbidden-dtd"),
                                              ("truncated", "invalid-xml")])  # fmt: skip
def test_hostile_or_broken_xml_is_quarantined_with_a_position(
    warehouse: Warehouse, tmp_path: Path, name: str, reason: str
) -> None:
    bad = tmp_path / f"{name}.xml"
    bad.write_bytes(HOSTILE[name])
    good = CDA / "hl7-c-cda-examples" / "CCD.xml"
    summary = ingest(warehouse, [str(bad), str(good)], format="cda").summary()
    assert summary["quarantined_by_reason"] == {reason: 1}
    with warehouse.reading() as engine:
        [(message,)] = engine.fetchall("SELECT message FROM quarantine")
    assert ("byte" in message) if reason == "forbidden-dtd" else ("line" in message)
    assert summary["by_type"]["Composition"]["created"] == 1
