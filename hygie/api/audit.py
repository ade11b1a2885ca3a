"""The audit trail: every request appended to a hash-chained JSON Lines file, apart from the data.

Layout: ``<warehouse>/audit/audit-log.jsonl``, one record per line. Each record holds ``prev``,
the hash of the record before it (64 zeros for the first), and ``hash``, the sha256 of the
record's canonical JSON (sorted keys, no ``hash``). Altering, deleting or reordering a record
breaks the chain at that record, which :func:`verify` names. Records hold who (client), from where
(IP), what (interaction, resource type, ids), whose data (patient ids, ``*`` for a whole-system
export), the outcome and the time; search values are not recorded, only parameter names.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from hygie.errors import ConfigError, InputError

AUDIT_DIRECTORY = "audit"
AUDIT_FILE = "audit-log.jsonl"
GENESIS = "0" * 64
ALL_PATIENTS = "*"


def audit_path(warehouse_path: Path) -> Path:
    """Where the audit log of a warehouse lives."""
    return warehouse_path / AUDIT_DIRECTORY / AUDIT_FILE


def record_hash(record: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of ``record`` without its ``hash``."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


class AuditLog:
    """Appends records to the chain; safe to call from several threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.seq, self.last_hash = self._tail()
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def _tail(self) -> tuple[int, str]:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return 0, GENESIS
        with self.path.open("rb") as handle:
            handle.seek(max(0, self.path.stat().st_size - 65536))
            lines = handle.read().splitlines()
        try:
            last = orjson.loads(lines[-1])
            if record_hash(last) != last["hash"]:
                raise ValueError("hash mismatch")
            return int(last["seq"]), str(last["hash"])
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise ConfigError(
                f"the last record of the audit log {self.path} is damaged ({exc}): "
                "run `hygie audit verify` and keep the file for investigation before serving"
            ) from exc

    def append(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Chain and write one record; return it as written."""
        with self.lock:
            record = {
                **fields,
                "seq": self.seq + 1,
                "time": fields.get("time") or datetime.now(UTC).isoformat(),
                "prev": self.last_hash,
            }
            record["hash"] = record_hash(record)
            os.write(self.fd, orjson.dumps(record, option=orjson.OPT_SORT_KEYS) + b"\n")
            self.seq += 1
            self.last_hash = record["hash"]
        return record

    def close(self) -> None:
        with self.lock:
            os.fsync(self.fd)
            os.close(self.fd)


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of checking the chain: how many records, and the first broken one."""

    records: int
    head: str
    broken_line: int | None = None
    broken_seq: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_line is None

    def summary(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "head": self.head,
            "broken_line": self.broken_line,
            "broken_seq": self.broken_seq,
            "reason": self.reason,
        }


def verify(path: Path) -> VerifyReport:
    """Check every link of the chain; report the first record that breaks it.

    The last hash (``head``) should be kept elsewhere too: cutting records off the end leaves a
    valid shorter chain that only a known head reveals.
    """
    expected_prev, count = GENESIS, 0
    if not path.exists():
        return VerifyReport(0, GENESIS)
    with path.open("rb") as handle:
        for line_no, line in enumerate(handle, start=1):
            problem, seq = _check_line(line, count + 1, expected_prev)
            if problem is not None:
                return VerifyReport(count, expected_prev, line_no, seq, problem)
            record = orjson.loads(line)
            expected_prev = record["hash"]
            count += 1
    return VerifyReport(count, expected_prev)


def _check_line(line: bytes, seq: int, prev: str) -> tuple[str | None, int | None]:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return "not a JSON record (cut or altered)", None
    if not isinstance(record, dict) or not isinstance(record.get("hash"), str):
        return "not an audit record", None
    found_seq = record.get("seq")
    found = found_seq if isinstance(found_seq, int) else None
    if record_hash(record) != record["hash"]:
        return "content altered: its hash does not match", found
    if record.get("prev") != prev:
        return "chain broken: prev is not the hash of the record before (deleted or moved)", found
    if found_seq != seq:
        return f"sequence broken: expected seq {seq}, found {found_seq}", found
    return None, found


def records(path: Path, since: datetime | None = None) -> Iterator[dict[str, Any]]:
    """The records of the log in order, from ``since`` when given."""
    if not path.exists():
        return
    with path.open("rb") as handle:
        for line in handle:
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise InputError(f"{path}: an unreadable record; run `hygie audit verify`") from exc
            if since is not None and datetime.fromisoformat(record["time"]) < since:
                continue
            yield record


def show(path: Path, patient_id: str) -> list[dict[str, Any]]:
    """Who accessed this patient's data: records naming the patient, or all patients (bulk)."""
    return [
        r
        for r in records(path)
        if patient_id in r.get("patients", ()) or ALL_PATIENTS in r.get("patients", ())
    ]
