"""Re-identification risk: k-anonymity over quasi-identifiers, and the export guard.

A table is k-anonymous over a set of quasi-identifiers when every combination of their values
that occurs is shared by at least k records (Sweeney, 2002). The report gives the smallest
equivalence class and the share of records in classes smaller than k: those records are the
ones an attacker knowing the quasi-identifiers could single out.

The default quasi-identifiers of the research zone are the patient's 10-year age band, sex,
place (département) and month of first encounter (``privacy_patient_quasi_identifiers``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from hygie.errors import AuthError, InputError
from hygie.privacy.boundary import ensure_privacy_tables
from hygie.warehouse.engine import Engine
from hygie.warehouse.sql import load_statements

PATIENT_QUASI_VIEW = "privacy_patient_quasi_identifiers"
DEFAULT_QUASI_IDENTIFIERS = ("age_band", "sex", "place", "admission_month")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


@dataclass(frozen=True)
class RiskReport:
    """k-anonymity of a relation over its quasi-identifiers."""

    relation: str
    quasi_identifiers: tuple[str, ...]
    k: int
    records: int
    classes: int
    smallest_class: int
    records_below_k: int

    @property
    def share_below_k(self) -> float:
        return self.records_below_k / self.records if self.records else 0.0

    @property
    def k_anonymous(self) -> bool:
        return self.records_below_k == 0

    def as_dict(self) -> dict[str, object]:
        """The report for ``--json``."""
        return {
            "relation": self.relation,
            "quasi_identifiers": list(self.quasi_identifiers),
            "k": self.k,
            "records": self.records,
            "classes": self.classes,
            "smallest_class": self.smallest_class,
            "records_below_k": self.records_below_k,
            "share_below_k": round(self.share_below_k, 4),
            "k_anonymous": self.k_anonymous,
        }


def prepare_patient_quasi_identifiers(engine: Engine) -> str:
    """Make the default quasi-identifier view over ``research.resource``; returns its name."""
    engine.execute(
        load_statements("hygie.privacy", "privacy.sql")["create_patient_quasi_identifiers"]
    )
    return PATIENT_QUASI_VIEW


def k_anonymity(
    engine: Engine,
    relation: str = PATIENT_QUASI_VIEW,
    quasi_identifiers: Sequence[str] = DEFAULT_QUASI_IDENTIFIERS,
    k: int = 5,
) -> RiskReport:
    """Equivalence classes of ``relation`` over ``quasi_identifiers`` (NULL is a value)."""
    if relation == PATIENT_QUASI_VIEW:
        prepare_patient_quasi_identifiers(engine)
    names = [relation, *quasi_identifiers]
    bad = [name for name in names if not NAME.match(name)]
    if bad or not quasi_identifiers:
        raise InputError(
            f"give a table or view and at least one column name (letters, digits, _): {bad}"
        )
    if k < 2:
        raise InputError(f"k = {k}: k-anonymity needs k of 2 or more")
    columns = ", ".join(f'"{name}"' for name in quasi_identifiers)
    row = engine.fetchall(
        f"WITH classes AS (SELECT {columns}, count(*) AS size FROM {relation} GROUP BY ALL) "
        "SELECT coalesce(sum(size), 0), count(*), coalesce(min(size), 0), "
        f"coalesce(sum(CASE WHEN size < {int(k)} THEN size ELSE 0 END), 0) FROM classes"
    )[0]
    return RiskReport(
        relation, tuple(quasi_identifiers), k, int(row[0]), int(row[1]), int(row[2]), int(row[3])
    )


def guard_export(
    engine: Engine,
    relation: str,
    quasi_identifiers: Sequence[str] = DEFAULT_QUASI_IDENTIFIERS,
    k: int = 5,
    *,
    override_reason: str | None = None,
    recorded_by: str = "unknown",
) -> RiskReport:
    """Allow an export of ``relation`` only if it is k-anonymous, or with a recorded reason.

    Below k, raises :class:`AuthError` unless ``override_reason`` is given; the override is then
    written to ``privacy.export_override`` (who, when, what, why) before the export goes on.
    Needs an engine held for writing when an override is recorded.
    """
    report = k_anonymity(engine, relation, quasi_identifiers, k)
    if report.k_anonymous:
        return report
    if not override_reason or not override_reason.strip():
        raise AuthError(
            f"export of {relation} refused: {report.records_below_k} of {report.records} records "
            f"are in classes smaller than k={k} over {', '.join(quasi_identifiers)} (smallest "
            f"class: {report.smallest_class}). Generalize the quasi-identifiers, or override "
            "with a reason (it is recorded)"
        )
    ensure_privacy_tables(engine)
    engine.execute(
        "INSERT INTO privacy.export_override VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            datetime.now(UTC).replace(tzinfo=None), recorded_by, relation,
            ",".join(quasi_identifiers), k, report.smallest_class, override_reason.strip(),
        ],
    )  # fmt: skip
    return report
