"""HL7 v2 → FHIR: golden messages, ingestion into a real warehouse, bad input, merges."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hygie.sources.hl7v2 import Hl7v2Source
from hygie.warehouse.ingest import ingest
from hygie.warehouse.sql import load_statements
from hygie.warehouse.warehouse import Warehouse
from tests.sources.conftest import (
    CONNECTORS,
    HL7V2,
    assert_valid_and_linked,
    matches_expected,
)

MESSAGES = sorted(HL7V2.glob("*.hl7"))
EXPECTED = CONNECTORS / "hl7v2"


class NoLookup:
    def find(self, query: object) -> None:
        return None


@pytest.mark.parametrize("path", MESSAGES, ids=lambda p: p.name)
def test_each_sample_message_maps_to_its_expected_resources(path: Path) -> None:
    expected = json.loads((EXPECTED / f"{path.stem}.expected.json").read_text())
    source = Hl7v2Source()
    [item] = list(source.read(path))
    outcome = source.interpret(item, NoLookup())
    assert outcome.rejections == []
    produced = {(r.resource_type, r.id): json.loads(r.json or b"{}") for r in outcome.resources}
    counts: dict[str, int] = {}
    for resource_type, _id in produced:
        counts[resource_type] = counts.get(resource_type, 0) + 1
    assert counts == expected["counts"]
    for wanted in expected["resources"]:
        matches_expected(produced[(wanted["resourceType"], wanted["id"])], wanted)


def test_all_samples_ingest_without_quarantine_and_their_references_resolve(
    warehouse: Warehouse,
) -> None:
    report = ingest(warehouse, [str(p) for p in MESSAGES])
    summary = report.summary()
    assert summary["quarantined"] == 0, summary["quarantined_by_reason"]
    assert summary["items_read"] == len(MESSAGES)
    assert report.formats == {"hl7v2": len(MESSAGES)}
    resources = assert_valid_and_linked(warehouse)
    types = {r["resourceType"] for r in resources}
    assert types >= {"Patient", "Encounter", "Observation", "DiagnosticReport", "ServiceRequest",
                     "Immunization", "Appointment", "DocumentReference"}  # fmt: skip
    again = ingest(warehouse, [str(p) for p in MESSAGES]).summary()
    assert again["created"] == 0 and again["updated"] == 0


def test_a_result_feed_points_to_the_patient_an_admission_wrote_without_rewriting_it(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    admission = HL7V2 / "ADT-A01-01.hl7"
    ingest(warehouse, [str(admission)])
    order = tmp_path / "order.hl7"
    order.write_bytes((HL7V2 / "ORM-O01-01.hl7").read_bytes())
    summary = ingest(warehouse, [str(order)]).summary()
    assert summary["by_type"]["ServiceRequest"]["created"] == 1
    assert "Patient" not in summary["by_type"]  # found by identifier, not produced again
    with warehouse.reading() as engine:
        [(versions,)] = engine.fetchall(
            "SELECT MAX(version_id) FROM resource_version WHERE resource_type = 'Patient'"
        )
    assert versions == 1
    assert_valid_and_linked(warehouse)


MSH = "MSH|^~\\&|GAM|CHU|DPI|CHU|{stamp}||{type}|{control}|P|2.5|||||FRA|UNICODE UTF-8"


def adt(event: str, control: str, pid: str, extra: str = "", pv1: bool = True) -> str:
    segments = [
        MSH.format(stamp="20240306111154", type=f"ADT^{event}^ADT_A01", control=control),
        "EVN||20240306111154",
        f"PID|1||{pid}^^^CHU&1.2.250.1.71.4.2.2&ISO^PI||NOM^PRENOM||19800101|F",
        *([extra] if extra else []),
    ]
    if pv1:
        segments.append(
            f"PV1|1|I|CARDIO^101^1^CHU||||||||||||||||V{pid}^^^CHU&1.2.250.1.71.4.2.2&ISO^VN"
            "|||||||||||||||||||||||||20240306100000"
        )
    return "\r".join(segments)


def oru(control: str, pid: str, value: str = "4.2") -> str:
    return "\r".join(
        [
            MSH.format(stamp="20240307080000", type="ORU^R01^ORU_R01", control=control),
            f"PID|1||{pid}^^^CHU&1.2.250.1.71.4.2.2&ISO^PI||NOM^PRENOM||19800101|F",
            f"OBR|1|P{control}|F{control}|2951-2^Sodium^LN|||20240307070000||||||||||||||||F",
            f"OBX|1|NM|2951-2^Sodium^LN||{value}|mmol/L|135-145|L|||F|||20240307070000",
        ]
    )


def test_a_result_after_an_admission_in_the_same_file_does_not_rewrite_the_patient(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    # The admission is still in the batch being filled when the result looks its patient up.
    result = oru("R1", "777").replace("NOM^PRENOM", "NOM DU LABO^P")
    path = tmp_path / "feed.hl7"
    path.write_text("\r\n".join([adt("A01", "A1", "777"), result]) + "\r\n")
    summary = ingest(warehouse, [str(path)]).summary()
    assert summary["quarantined"] == 0
    with warehouse.reading() as engine:
        patients = engine.fetchall(
            "SELECT version_id, json_extract_string(resource, '$.name[0].family') "
            "FROM resource_history WHERE resource_type = 'Patient'"
        )
        [(subject,)] = engine.fetchall(
            "SELECT json_extract_string(resource, '$.subject.reference') FROM resource "
            "WHERE resource_type = 'Observation'"
        )
        [(patient_id,)] = engine.fetchall("SELECT id FROM resource WHERE resource_type = 'Patient'")
    assert patients == [(1, "NOM")]
    assert subject == f"Patient/{patient_id}"


def test_discharge_and_cancel_update_the_same_encounter(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    feed = tmp_path / "feed.hl7"
    feed.write_text(
        "\r".join([adt("A01", "1", "P1"), adt("A03", "2", "P1"), adt("A13", "3", "P1")])
    )
    ingest(warehouse, [str(feed)])
    with warehouse.reading() as engine:
        rows = engine.fetchall(
            "SELECT version_id, json_extract_string(resource, '$.status') FROM resource_history "
            "WHERE resource_type = 'Encounter' ORDER BY version_id"
        )
    assert rows == [(1, "in-progress"), (2, "finished"), (3, "in-progress")]


def test_merge_keeps_the_merged_patient_and_its_data_reachable_from_the_survivor(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    before = tmp_path / "before.hl7"
    before.write_text(
        "\r".join([adt("A01", "10", "OLD"), oru("11", "OLD"), adt("A01", "12", "NEW")])
    )
    ingest(warehouse, [str(before)])
    merge = tmp_path / "merge.hl7"
    merge.write_text(
        adt("A40", "13", "NEW", extra="MRG|OLD^^^CHU&1.2.250.1.71.4.2.2&ISO^PI", pv1=False)
    )
    assert ingest(warehouse, [str(merge)]).summary()["quarantined"] == 0
    patients = {r["identifier"][0]["value"]: r for r in assert_valid_and_linked(warehouse)
                if r["resourceType"] == "Patient"}  # fmt: skip
    survivor, merged = patients["NEW"], patients["OLD"]
    assert merged["active"] is False
    assert merged["link"] == [{"other": {"reference": f"Patient/{survivor['id']}"},
                               "type": "replaced-by"}]  # fmt: skip
    assert survivor["link"][0]["type"] == "replaces"
    statements = load_statements("hygie.sources.hl7v2", "merge.sql")
    with warehouse.reading() as engine:
        ids = engine.fetchall(statements["merged_patient_ids"], {"patient_id": survivor["id"]})
        data = engine.fetchall(
            statements["resources_of_merged_patients"], {"patient_id": survivor["id"]}
        )
        [(raw_items,)] = engine.fetchall("SELECT COUNT(*) FROM raw_input")
    assert {row[0] for row in ids} == {survivor["id"], merged["id"]}
    assert {row[0] for row in data} >= {"Observation", "DiagnosticReport", "Encounter"}
    assert raw_items == 4  # nothing deleted from raw


def test_bad_messages_are_quarantined_with_their_position_and_the_good_ones_kept(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    feed = tmp_path / "mixed.hl7"
    bad_date = adt("A01", "21", "P2").replace("19800101", "19801341")
    bad_separators = adt("A01", "22", "P3").replace("PID|1||", "PID*1**")
    unknown_type = adt("A01", "23", "P4").replace("ADT^A01^ADT_A01", "QRY^Q01^QRY_Q01")
    truncated = "MSH|^~\\&|GAM|CHU|DPI"
    bad_number = oru("25", "P5", value="four")
    feed.write_text("\n".join([adt("A01", "20", "P1"), bad_date, bad_separators, unknown_type,
                               truncated, bad_number, adt("A01", "26", "P6")]))  # fmt: skip
    summary = ingest(warehouse, [str(feed)]).summary()
    assert summary["items_read"] == 7
    assert summary["quarantined_by_reason"] == {
        "invalid-date": 1, "invalid-segment": 1, "unsupported-message-type": 1,
        "truncated-message": 1, "invalid-number": 1,
    }  # fmt: skip
    with warehouse.reading() as engine:
        rows = dict(engine.fetchall("SELECT reason, message FROM quarantine"))
        lines = sorted(r[0] for r in engine.fetchall("SELECT line_no FROM quarantine"))
    assert "PID-7 (segment 3)" in rows["invalid-date"] and "19801341" in rows["invalid-date"]
    assert "segment 3" in rows["invalid-segment"]
    assert "QRY^Q01" in rows["unsupported-message-type"]
    assert "OBX-5 (segment 4)" in rows["invalid-number"]
    assert lines == [5, 9, 13, 17, 18]
    patients = [r for r in assert_valid_and_linked(warehouse) if r["resourceType"] == "Patient"]
    assert sorted(p["identifier"][0]["value"] for p in patients) == ["P1", "P6"]


def test_a_batch_file_gives_one_item_per_message(warehouse: Warehouse, tmp_path: Path) -> None:
    batch = tmp_path / "batch.hl7"
    batch.write_text("\r\n".join([
        "FHS|^~\\&|GAM|CHU", "BHS|^~\\&|GAM|CHU", adt("A01", "31", "B1"), adt("A04", "32", "B2"),
        "BTS|2", "FTS|1",
    ]))  # fmt: skip
    summary = ingest(warehouse, [str(batch)]).summary()
    assert summary["items_read"] == 2 and summary["quarantined"] == 0
    assert summary["by_type"]["Patient"]["created"] == 2
