"""The audit trail: hash-chained, tamper-evident, exportable as AuditEvent, searchable by patient."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from hygie.api import audit, audit_event
from hygie.errors import ConfigError
from tests.api.support import Api, wait_for_audit


def written_log(tmp_path: Path, count: int = 10) -> Path:
    log = audit.AuditLog(tmp_path / "audit" / "audit-log.jsonl")
    for number in range(count):
        log.append(
            {
                "client": "ops",
                "method": "GET",
                "path": f"/Patient/p{number}",
                "status": 200,
                "interaction": "read",
                "resources": [f"Patient/p{number}"],
                "patients": [f"p{number}"],
            }
        )
    log.close()
    return log.path


def rewrite(path: Path, change: object) -> None:
    lines = path.read_bytes().splitlines()
    path.write_bytes(b"\n".join(change(lines)) + b"\n")  # type: ignore[operator]


def test_an_untouched_log_verifies(tmp_path: Path) -> None:
    path = written_log(tmp_path)
    report = audit.verify(path)
    assert report.ok and report.records == 10
    assert report.head == orjson.loads(path.read_bytes().splitlines()[-1])["hash"]


def altered(lines: list[bytes]) -> list[bytes]:
    record = orjson.loads(lines[4])
    record["status"] = 403
    return [*lines[:4], orjson.dumps(record, option=orjson.OPT_SORT_KEYS), *lines[5:]]


def altered_and_rehashed(lines: list[bytes]) -> list[bytes]:
    record = orjson.loads(lines[4])
    record["client"] = "someone-else"
    record["hash"] = audit.record_hash(record)
    return [*lines[:4], orjson.dumps(record, option=orjson.OPT_SORT_KEYS), *lines[5:]]


@pytest.mark.parametrize(
    ("change", "line", "reason"),
    [
        (altered, 5, "content altered"),
        (altered_and_rehashed, 6, "chain broken"),
        (lambda lines: [*lines[:4], *lines[5:]], 5, "chain broken"),
        (lambda lines: [*lines[:3], lines[4], lines[3], *lines[5:]], 4, "chain broken"),
        (lambda lines: [*lines[:9], lines[9][:40]], 10, "not a JSON record"),
    ],
    ids=["altered", "altered-and-rehashed", "deleted", "reordered", "cut"],
)
def test_tampering_is_found_and_named(
    tmp_path: Path, change: object, line: int, reason: str
) -> None:
    path = written_log(tmp_path)
    rewrite(path, change)
    report = audit.verify(path)
    assert not report.ok
    assert report.broken_line == line
    assert report.reason is not None and reason in report.reason


def test_a_server_does_not_append_to_a_damaged_log(tmp_path: Path) -> None:
    path = written_log(tmp_path)
    rewrite(path, altered)
    rewrite(path, lambda lines: [*lines[:9], altered(lines)[4]])
    with pytest.raises(ConfigError, match="damaged"):
        audit.AuditLog(path)


def test_a_day_of_requests_verifies_and_exports_as_audit_events(
    fresh_api: Api, tmp_path: Path
) -> None:
    api = fresh_api
    ops = api.token("ops", "system/*.cruds")
    portal = api.token("portal-a", "patient/*.rs")
    api.get(f"/Patient/{api.patient_a}", ops)
    api.get(f"/Observation?patient={api.patient_a}&_count=3", ops)
    api.get(f"/Patient/{api.patient_a}", portal)
    api.get(f"/Patient/{api.patient_b}", portal)
    api.send(
        "POST",
        "/Observation",
        ops,
        json={
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "t"},
            "subject": {"reference": f"Patient/{api.patient_a}"},
        },
    )
    records = wait_for_audit(api, 7)
    report = audit.verify(api.audit_file)
    assert report.ok and report.records == len(records) == 7
    assert [(r["interaction"], r["outcome"]) for r in records] == [
        ("token", "success"),
        ("token", "success"),
        ("read", "success"),
        ("search-type", "success"),
        ("read", "success"),
        ("read", "denied"),
        ("create", "success"),
    ]
    # Who accessed patient A: both clients, with what and when.
    shown = audit.show(api.audit_file, api.patient_a)
    assert {(r["client"], r["interaction"]) for r in shown} == {
        ("ops", "read"),
        ("ops", "search-type"),
        ("portal-a", "read"),
        ("ops", "create"),
    }
    assert all(r["outcome"] == "success" for r in shown)
    # As FHIR AuditEvents.
    out = tmp_path / "events.ndjson"
    since = datetime.now(UTC) - timedelta(hours=1)
    assert audit_event.export(api.audit_file, out, since) == 7
    events = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    denied = next(e for e in events if e["outcome"] == "4")
    assert denied["subtype"][0]["code"] == "read"
    assert denied["agent"][0]["who"]["identifier"]["value"] == "portal-a"
    assert denied["agent"][0]["network"]["address"] == "127.0.0.1"
    created = next(e for e in events if e["action"] == "C")
    patients = [x["what"]["reference"] for x in created["entity"] if x["role"]["code"] == "1"]
    assert patients == [f"Patient/{api.patient_a}"]
    assert audit_event.export(api.audit_file, out, datetime.now(UTC) + timedelta(hours=1)) == 0


def test_search_values_are_not_written_to_the_audit(fresh_api: Api) -> None:
    api = fresh_api
    token = api.token("ops", "system/*.rs")
    api.get("/Patient?family=Gusikowski", token)
    record = wait_for_audit(api, 2)[-1]
    assert record["parameters"] == ["family"]
    assert b"Gusikowski" not in api.audit_file.read_bytes()
