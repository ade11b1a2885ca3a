"""Audit records as FHIR R4 AuditEvent resources, after the IHE Basic Audit Log Patterns.

Mapping (https://profiles.ihe.net/ITI/BALP/ and https://hl7.org/fhir/R4/auditevent.html):
type ``rest`` with the FHIR interaction as subtype, action C/R/U/D/E, outcome 0/4/8, the client
as requesting agent (with its network address), the server as observer, each resource touched
and each patient as entities (role 1, Patient). The chain hash is kept as an identifier.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from hygie.api.audit import ALL_PATIENTS, records

INTERACTION_ACTION = {
    "read": "R",
    "vread": "R",
    "history-instance": "R",
    "history-type": "R",
    "search-type": "E",
    "search-system": "E",
    "capabilities": "E",
    "operation": "E",
    "create": "C",
    "update": "U",
    "delete": "D",
    "transaction": "E",
    "batch": "E",
    "token": "E",
    "export": "E",
}
AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
INTERACTION_SYSTEM = "http://hl7.org/fhir/restful-interaction"
DICOM = "http://dicom.nema.org/resources/ontology/DCM"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"


def outcome_code(status: int) -> str:
    """AuditEvent.outcome: 0 success, 4 minor failure (refused request), 8 serious (server)."""
    if status < 400:
        return "0"
    return "4" if status < 500 else "8"


def audit_event(record: dict[str, Any]) -> dict[str, Any]:
    """One audit record as an AuditEvent."""
    interaction = str(record.get("interaction") or "operation")
    agent: dict[str, Any] = {
        "type": {"coding": [{"system": DICOM, "code": "110153", "display": "Source Role ID"}]},
        "requestor": True,
        "who": {
            "identifier": {
                "system": "urn:hygie:client",
                "value": record.get("client") or "anonymous",
            }
        },
    }
    if record.get("ip"):
        agent["network"] = {"address": record["ip"], "type": "2"}
    entities: list[dict[str, Any]] = [
        {"what": {"reference": reference}, "role": {"system": OBJECT_ROLE, "code": "4"}}
        for reference in record.get("resources", [])
    ]
    for patient in record.get("patients", []):
        what = (
            {"display": "all patients in the zone"}
            if patient == ALL_PATIENTS
            else {"reference": f"Patient/{patient}"}
        )
        entities.append({"what": what, "role": {"system": OBJECT_ROLE, "code": "1"}})
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": f"hygie-audit-{record['seq']}",
        "type": {"system": AUDIT_EVENT_TYPE, "code": "rest", "display": "RESTful Operation"},
        "subtype": [{"system": INTERACTION_SYSTEM, "code": interaction}],
        "action": INTERACTION_ACTION.get(interaction, "E"),
        "recorded": record["time"],
        "outcome": outcome_code(int(record.get("status", 500))),
        "agent": [
            agent,
            {
                "type": {
                    "coding": [
                        {"system": DICOM, "code": "110152", "display": "Destination Role ID"}
                    ]
                },
                "requestor": False,
                "who": {"display": "Hygie FHIR API"},
            },
        ],
        "source": {"observer": {"display": "Hygie FHIR API"}, "site": record.get("zone", "")},
        "extension": [
            {"url": "urn:hygie:audit-chain-hash", "valueString": record["hash"]},
        ],
    }
    if record.get("detail"):
        event["outcomeDesc"] = record["detail"]
    if entities:
        event["entity"] = entities
    return event


def export(path: Path, out: Path, since: datetime | None = None) -> int:
    """Write the records (from ``since``) as AuditEvent NDJSON to ``out``; return how many."""
    return write_events(records(path, since), out)


def write_events(source: Iterable[dict[str, Any]], out: Path) -> int:
    """Write AuditEvents for ``source`` records, one per line."""
    count = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as handle:
        for record in source:
            handle.write(orjson.dumps(audit_event(record)) + b"\n")
            count += 1
    return count
