"""The objection registry: patients who refuse the reuse of their data for research.

An objection names a patient by ``Patient/<id>`` (or a bare id) or by identifier
``system|value`` (the INS, the IPP...). It is stored in ``privacy.objection`` with who recorded
it, when and why; withdrawing it fills the ``withdrawn_*`` columns (nothing is deleted). The
research build leaves out every resource of a patient with an objection in force (see
:mod:`hygie.privacy.boundary`); the next build after an objection removes them from the research
zone, and the next OMOP build from ``research.resource`` removes what was derived from them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from hygie.errors import InputError
from hygie.privacy.boundary import ensure_privacy_tables
from hygie.warehouse.engine import Engine

ID_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.")


@dataclass(frozen=True)
class Objection:
    """One row of the registry."""

    objection_id: str
    patient_key: str
    recorded_at: datetime
    recorded_by: str
    reason: str | None
    withdrawn_at: datetime | None
    withdrawn_by: str | None
    withdrawal_reason: str | None

    @property
    def in_force(self) -> bool:
        return self.withdrawn_at is None


def patient_key(patient: str) -> str:
    """Normalize how a patient is named: ``Patient/<id>``, a bare id, or ``system|value``.

    >>> patient_key("abc-1"), patient_key("urn:oid:1.2.250.1.213.1.4.8|184037511534553")
    ('Patient/abc-1', 'urn:oid:1.2.250.1.213.1.4.8|184037511534553')
    """
    value = patient.strip()
    if "|" in value:
        system, _, identifier = value.partition("|")
        if not system or not identifier:
            raise InputError(
                f"{patient!r}: an identifier is written system|value, both parts present "
                "(e.g. urn:oid:1.2.250.1.213.1.4.8|184037511534553)"
            )
        return f"{system}|{identifier}"
    bare = value.removeprefix("Patient/")
    if not bare or len(bare) > 64 or not set(bare) <= ID_CHARACTERS:
        raise InputError(
            f"{patient!r} is neither a Patient id (Patient/<id>) nor an identifier system|value"
        )
    return f"Patient/{bare}"


def add_objection(engine: Engine, patient: str, recorded_by: str, reason: str | None = None) -> str:
    """Record an objection; returns its id. An objection already in force is not duplicated."""
    ensure_privacy_tables(engine)
    key = patient_key(patient)
    existing = engine.fetchall(
        "SELECT objection_id FROM privacy.objection WHERE patient_key = ? AND withdrawn_at IS NULL",
        [key],
    )
    if existing:
        return str(existing[0][0])
    objection_id = str(uuid.uuid4())
    engine.execute(
        "INSERT INTO privacy.objection (objection_id, patient_key, recorded_at, recorded_by, "
        "reason) VALUES (?, ?, ?, ?, ?)",
        [objection_id, key, datetime.now(UTC).replace(tzinfo=None), recorded_by, reason],
    )
    return objection_id


def remove_objection(
    engine: Engine, patient: str, recorded_by: str, reason: str | None = None
) -> int:
    """Withdraw the objections in force for ``patient``; returns how many were withdrawn."""
    ensure_privacy_tables(engine)
    key = patient_key(patient)
    count = engine.fetchall(
        "SELECT count(*) FROM privacy.objection WHERE patient_key = ? AND withdrawn_at IS NULL",
        [key],
    )[0][0]
    if not count:
        raise InputError(f"no objection in force for {key}; see `hygie objection list`")
    engine.execute(
        "UPDATE privacy.objection SET withdrawn_at = ?, withdrawn_by = ?, withdrawal_reason = ? "
        "WHERE patient_key = ? AND withdrawn_at IS NULL",
        [datetime.now(UTC).replace(tzinfo=None), recorded_by, reason, key],
    )
    return int(count)


def list_objections(engine: Engine, *, include_withdrawn: bool = False) -> list[Objection]:
    """The registry, oldest first (objections in force only, unless asked)."""
    tables = engine.fetchall(
        "SELECT count(*) FROM duckdb_tables() "
        "WHERE schema_name = 'privacy' AND table_name = 'objection'"
    )
    if not tables[0][0]:
        return []
    where = "" if include_withdrawn else "WHERE withdrawn_at IS NULL"
    rows = engine.fetchall(
        "SELECT objection_id, patient_key, recorded_at, recorded_by, reason, withdrawn_at, "
        f"withdrawn_by, withdrawal_reason FROM privacy.objection {where} ORDER BY recorded_at"
    )
    return [Objection(*row) for row in rows]
