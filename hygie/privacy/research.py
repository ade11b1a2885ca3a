"""``build_research_zone``: the care zone -> the pseudonymized research zone, in one command.

The build reads the care zone through the boundary (:func:`hygie.privacy.boundary.research_input`,
objections applied), de-identifies each resource by the policy (:mod:`hygie.privacy.transform`)
and writes ``research.resource`` (resource_type, id, version_id, last_updated, resource JSON:
the columns of the care zone's ``resource`` view, so the OMOP build and the SQL-on-FHIR views
read it unchanged: ``build_omop(engine, source="research.resource")``).

Set-based where the engine does it best: the boundary, the objection matching and the owner
patient of every resource are SQL; the per-element treatments run in Python over Arrow batches
(HMAC pseudonyms and shifts are cached per id, texts per owner). The new table is filled beside
the old one and swapped in at the end: readers see the previous zone or the new one, never half.
The build is complete each time (a rebuild), so an objection, a key rotation or a policy change
takes effect everywhere at the next build.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from hygie.errors import WarehouseError
from hygie.privacy.boundary import ensure_privacy_tables, research_input
from hygie.privacy.keys import DEFAULT_PROJECT, ProjectKey, load_key
from hygie.privacy.policy import Policy, load_policy
from hygie.privacy.pseudonyms import Pseudonymizer
from hygie.privacy.text.deid import PatientContext, TextDeidentifier
from hygie.privacy.text.fhir_context import patient_context, person_names
from hygie.privacy.transform import ResourceDeidentifier
from hygie.warehouse.duckdb_engine import DuckDBEngine
from hygie.warehouse.sql import load_statements
from hygie.warehouse.warehouse import Warehouse

BATCH_ROWS = 5_000
BATCH_SCHEMA = pa.schema(
    [
        ("resource_type", pa.string()),
        ("id", pa.string()),
        ("version_id", pa.int32()),
        ("last_updated", pa.timestamp("us", tz="UTC")),
        ("resource", pa.string()),
    ]
)
Progress = Callable[[int], None]


@dataclass
class ResearchBuildSummary:
    """What ``build_research_zone`` did."""

    project: str
    key_fingerprint: str
    policy_sha256: str
    resources_read: int = 0
    resources_written: int = 0
    patients_written: int = 0
    objecting_patients: int = 0
    resources_withheld_by_objection: int = 0
    left_out_by_type: dict[str, int] = field(default_factory=dict)
    left_out_modifier_extension: int = 0
    written_by_type: dict[str, int] = field(default_factory=dict)
    texts_deidentified: int = 0
    seconds: float = 0.0

    @property
    def resources_per_second(self) -> float:
        return self.resources_read / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The summary for ``--json``."""
        return {
            "project": self.project,
            "key_fingerprint": self.key_fingerprint,
            "policy_sha256": self.policy_sha256,
            "resources_read": self.resources_read,
            "resources_written": self.resources_written,
            "patients_written": self.patients_written,
            "objecting_patients": self.objecting_patients,
            "resources_withheld_by_objection": self.resources_withheld_by_objection,
            "left_out_by_type": dict(sorted(self.left_out_by_type.items())),
            "left_out_modifier_extension": self.left_out_modifier_extension,
            "written_by_type": dict(sorted(self.written_by_type.items())),
            "texts_deidentified": self.texts_deidentified,
            "seconds": round(self.seconds, 3),
            "resources_per_second": round(self.resources_per_second, 1),
        }


def _patient_contexts(engine: DuckDBEngine) -> dict[str, PatientContext]:
    statement = load_statements("hygie.privacy", "privacy.sql")["research_patient_names"]
    return {
        patient_id: patient_context(orjson.loads(text))
        for patient_id, text in engine.fetchall(statement)
    }


def _clinician_names(engine: DuckDBEngine) -> list[str]:
    statement = load_statements("hygie.privacy", "privacy.sql")["clinician_resources"]
    return [
        name for (text,) in engine.fetchall(statement) for name in person_names(orjson.loads(text))
    ]


def build_research_zone_with(
    engine: DuckDBEngine,
    key: ProjectKey,
    policy: Policy,
    *,
    today: date | None = None,
    progress: Progress | None = None,
) -> ResearchBuildSummary:
    """Build ``research.resource`` on an engine held for writing (see :func:`build_research_zone`)."""
    started = time.perf_counter()
    statements = load_statements("hygie.privacy", "privacy.sql")
    ensure_privacy_tables(engine)
    relation = research_input(engine)
    summary = ResearchBuildSummary(key.project, key.fingerprint, policy.sha256)
    summary.objecting_patients = int(engine.fetchall(statements["count_objecting"])[0][0])
    care_resources = int(engine.fetchall(statements["count_care_resources"])[0][0])
    contexts = _patient_contexts(engine)
    pseudonymizer = Pseudonymizer(key, policy.settings.pseudonym_length)
    deidentifier = ResourceDeidentifier(
        policy,
        pseudonymizer,
        TextDeidentifier(_clinician_names(engine), text_dates=policy.settings.text_dates),
        contexts.get,
        today or datetime.now(UTC).date(),
    )
    engine.execute(statements["create_research_resource_next"])
    writer = engine.cursor()
    try:
        reader = engine.connection.sql(
            f"SELECT resource_type, id, version_id, last_updated, resource, patient_id "
            f"FROM {relation}"
        )
        batches = reader.to_arrow_reader(BATCH_ROWS)
        for batch in batches:
            rows = _deidentify_batch(batch.to_pydict(), deidentifier, summary)
            if rows["id"]:
                writer.register_arrow("privacy_research_batch", pa.table(rows, schema=BATCH_SCHEMA))
                writer.execute(statements["insert_research_batch"])
                writer.unregister("privacy_research_batch")
            if progress is not None:
                progress(summary.resources_read)
    finally:
        writer.close()
    summary.resources_withheld_by_objection = care_resources - summary.resources_read
    engine.execute("BEGIN TRANSACTION")
    try:
        engine.execute(statements["swap_research_resource"])
        engine.execute(statements["rename_research_resource"])
        summary.patients_written = int(
            engine.fetchall(statements["research_patients_written"])[0][0]
        )
        summary.texts_deidentified = deidentifier.texts_deidentified
        summary.seconds = time.perf_counter() - started
        engine.execute(
            "INSERT INTO research.build_log SELECT coalesce(max(build_id), 0) + 1, "
            "now()::TIMESTAMP, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM research.build_log",
            [
                key.project, key.fingerprint, policy.sha256, summary.resources_read,
                summary.resources_written, summary.patients_written, summary.objecting_patients,
                summary.resources_withheld_by_objection, summary.seconds,
            ],
        )  # fmt: skip
        engine.execute("COMMIT")
    except Exception:
        engine.execute("ROLLBACK")
        raise
    return summary


def _deidentify_batch(
    columns: dict[str, list[Any]], deidentifier: ResourceDeidentifier, summary: ResearchBuildSummary
) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {name: [] for name in BATCH_SCHEMA.names}
    for resource_type, resource_id, version_id, last_updated, text, patient_id in zip(
        columns["resource_type"], columns["id"], columns["version_id"], columns["last_updated"],
        columns["resource"], columns["patient_id"], strict=True,
    ):  # fmt: skip
        summary.resources_read += 1
        if not deidentifier.policy.allows(resource_type):
            summary.left_out_by_type[resource_type] = (
                summary.left_out_by_type.get(resource_type, 0) + 1
            )
            continue
        if '"modifierExtension"' in text:
            summary.left_out_modifier_extension += 1
            continue
        owner = deidentifier.owner(resource_type, resource_id, patient_id or None)
        result = deidentifier.apply(orjson.loads(text), owner)
        if result is None:
            continue
        out["resource_type"].append(resource_type)
        out["id"].append(result["id"])
        out["version_id"].append(version_id)
        out["last_updated"].append(
            last_updated + timedelta(days=owner.shift) if last_updated is not None else None
        )
        out["resource"].append(orjson.dumps(result).decode("utf-8"))
        summary.resources_written += 1
        summary.written_by_type[resource_type] = summary.written_by_type.get(resource_type, 0) + 1
    return out


def build_research_zone(
    warehouse: Warehouse,
    project: str = DEFAULT_PROJECT,
    *,
    key_path: Path | None = None,
    policy_path: Path | None = None,
    today: date | None = None,
    progress: Progress | None = None,
) -> ResearchBuildSummary:
    """(Re)build the research zone of ``warehouse`` for ``project``.

    Refuses to run without the project's key (:func:`hygie.privacy.keys.load_key`).
    """
    key = load_key(project, warehouse.path, key_path)
    policy = load_policy(policy_path)
    if not warehouse.exists():
        raise WarehouseError(
            f"no warehouse at {warehouse.path}: ingest data first (`hygie ingest`)"
        )
    with warehouse.writing(create=False) as engine:
        return build_research_zone_with(engine, key, policy, today=today, progress=progress)
