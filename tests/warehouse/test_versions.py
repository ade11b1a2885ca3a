"""Resource versions: a change makes a new version, history keeps the old one, deletes are versions."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from hygie.warehouse.ingest import ingest
from hygie.warehouse.warehouse import Warehouse


def write(path: Path, *resources: dict[str, object]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in resources))
    return str(path)


def test_an_update_creates_version_2_and_history_keeps_version_1(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    v1 = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1950-01-01"}
    v2 = {**v1, "birthDate": "1951-01-01"}
    first = ingest(warehouse, [write(tmp_path / "a.ndjson", v1)]).summary()
    second = ingest(warehouse, [write(tmp_path / "b.ndjson", v2)]).summary()
    third = ingest(warehouse, [write(tmp_path / "c.ndjson", v2)]).summary()

    assert (first["created"], second["updated"], third["unchanged"]) == (1, 1, 1)
    with warehouse.reading() as engine:
        current = engine.fetchall(
            "SELECT version_id, json_extract_string(resource, '$.birthDate') FROM resource"
        )
        history = engine.fetchall(
            "SELECT version_id, json_extract_string(resource, '$.birthDate'), deleted "
            "FROM resource_history WHERE id = 'p1' ORDER BY version_id"
        )
    assert current == [(2, "1951-01-01")]
    assert history == [(1, "1950-01-01", False), (2, "1951-01-01", False)]


def test_two_versions_in_one_file_are_kept_in_order(warehouse: Warehouse, tmp_path: Path) -> None:
    a = {"resourceType": "Patient", "id": "p1", "gender": "female"}
    b = {**a, "gender": "other"}
    c = {**a, "gender": "male"}
    summary = ingest(warehouse, [write(tmp_path / "x.ndjson", a, b, c)]).summary()
    assert (summary["created"], summary["updated"]) == (1, 2)
    with warehouse.reading() as engine:
        rows = engine.fetchall(
            "SELECT version_id, json_extract_string(resource, '$.gender') FROM resource_history "
            "ORDER BY version_id"
        )
    assert rows == [(1, "female"), (2, "other"), (3, "male")]


def test_a_transaction_delete_is_a_version_and_hides_the_resource(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    ingest(warehouse, [write(tmp_path / "a.ndjson", {"resourceType": "Patient", "id": "p1"})])
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"request": {"method": "DELETE", "url": "Patient/p1"}}],
    }
    (tmp_path / "delete.json").write_text(json.dumps(bundle))
    summary = ingest(warehouse, [str(tmp_path / "delete.json")]).summary()
    assert summary["deleted"] == 1
    with warehouse.reading() as engine:
        assert engine.fetchall("SELECT COUNT(*) FROM resource")[0][0] == 0
        assert engine.fetchall(
            "SELECT version_id, deleted FROM resource_history ORDER BY version_id"
        ) == [(1, False), (2, True)]


def test_a_conditional_reference_to_a_resource_later_in_the_same_file_is_resolved(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    observation = {
        "resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "weight"},
        "subject": {"reference": "Patient?identifier=urn:oid:1.2.250.1.213.1.4.8|1850512345678"},
    }  # fmt: skip
    patient = {
        "resourceType": "Patient", "id": "p1",
        "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "1850512345678"}],
    }  # fmt: skip
    others = [{"resourceType": "Patient", "id": f"x{n}"} for n in range(20)]
    summary = ingest(
        warehouse, [write(tmp_path / "a.ndjson", observation, *others, patient)]
    ).summary()

    assert summary["quarantined"] == 0, summary["quarantined_by_reason"]
    with warehouse.reading() as engine:
        subject = engine.fetchall(
            "SELECT json_extract_string(resource, '$.subject.reference') FROM resource "
            "WHERE id = 'o1'"
        )
    assert subject == [("Patient/p1",)]


def test_versions_interleaved_with_other_resources_keep_file_order(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    # Plain lines are sorted by type and id on their way to the care files; versions of one
    # resource must still follow the file, and a repeated line is recorded where it came first.
    z1 = {"resourceType": "Patient", "id": "z", "gender": "female"}
    a = {"resourceType": "Patient", "id": "a", "gender": "male"}
    z2 = {**z1, "gender": "other"}
    path = write(tmp_path / "x.ndjson", z1, a, z2, a)
    summary = ingest(warehouse, [path]).summary()
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (2, 1, 1)
    with warehouse.reading() as engine:
        history = engine.fetchall(
            "SELECT id, version_id, json_extract_string(resource, '$.gender') "
            "FROM resource_history ORDER BY id, version_id"
        )
        digest = hashlib.sha256(json.dumps(a).encode()).hexdigest()
        first_a = engine.fetchall("SELECT line_no FROM raw WHERE sha256 = ?", [digest])
    assert history == [("a", 1, "male"), ("z", 1, "female"), ("z", 2, "other")]
    assert first_a == [(2,)]


def test_a_conditional_reference_to_a_resource_earlier_in_the_same_batch_resolves_at_once(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    # The patient is a plain NDJSON line of the batch still being filled when the observation
    # (a line with a conditional reference) looks it up: found there, no retry at the end.
    patient = {
        "resourceType": "Patient", "id": "p1",
        "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "1850512345678"}],
    }  # fmt: skip
    observation = {
        "resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "weight"},
        "subject": {"reference": "Patient?identifier=urn:oid:1.2.250.1.213.1.4.8|1850512345678"},
    }  # fmt: skip
    summary = ingest(warehouse, [write(tmp_path / "a.ndjson", patient, observation)]).summary()
    assert summary["quarantined"] == 0, summary["quarantined_by_reason"]
    assert summary["retried_items"] == 0
    with warehouse.reading() as engine:
        subject = engine.fetchall(
            "SELECT json_extract_string(resource, '$.subject.reference') FROM resource "
            "WHERE id = 'o1'"
        )
    assert subject == [("Patient/p1",)]
