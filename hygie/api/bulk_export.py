"""FHIR Bulk Data export (system, Patient and Group level), run in the background.

https://hl7.org/fhir/uv/bulkdata/export.html: the kick-off answers 202 with a status URL; the
status answers 202 with ``X-Progress`` while the job runs, then 200 with the manifest. Files are
NDJSON, one per resource type, written set-based (the engine's Arrow batches, joined with
newlines by Arrow compute, written as whole buffers), and served only to the client that asked.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from hygie.api.context import ApiContext
from hygie.api.outcome import operation_outcome
from hygie.api.reads import Confinement
from hygie.api.serving import RENDERED

BATCH_ROWS = 50_000


@dataclass
class ExportJob:
    """One export request and where it stands."""

    id: str
    client_id: str
    request_url: str
    types: list[str]
    since: datetime | None
    confinements: dict[str, Confinement]
    transaction_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    status: str = "in-progress"
    output: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    resources: int = 0
    patients: list[str] = field(default_factory=list)
    """Whose data the job holds (``*`` for every patient), for the audit of downloads."""
    seconds: float = 0.0
    cancelled: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)

    def manifest(self, base_url: str) -> dict[str, Any]:
        return {
            "transactionTime": self.transaction_time.isoformat(),
            "request": self.request_url,
            "requiresAccessToken": True,
            "output": [
                {
                    "type": o["type"],
                    "url": f"{base_url}/export-files/{self.id}/{o['file']}",
                    "count": o["count"],
                }
                for o in self.output
            ],
            "error": [
                {
                    "type": "OperationOutcome",
                    "url": f"{base_url}/export-files/{self.id}/{e['file']}",
                }
                for e in self.errors
            ],
        }


class ExportJobs:
    """The export jobs of a server, each run on its own thread with its own cursor."""

    def __init__(self, context: ApiContext) -> None:
        self.context = context
        self.jobs: dict[str, ExportJob] = {}
        self.lock = threading.Lock()

    def start(
        self,
        client_id: str,
        request_url: str,
        types: list[str],
        since: datetime | None,
        confinements: dict[str, Confinement],
    ) -> ExportJob:
        job = ExportJob(uuid.uuid4().hex, client_id, request_url, types, since, confinements)
        with self.lock:
            self.jobs[job.id] = job
        threading.Thread(
            target=self._run, args=(job,), name=f"export-{job.id[:8]}", daemon=True
        ).start()
        return job

    def directory(self, job: ExportJob) -> Path:
        return self.context.export_directory / job.id

    def file_path(self, job: ExportJob, name: str) -> Path | None:
        """The path of a file of the job's manifest (None for any other name)."""
        names = {o["file"] for o in job.output} | {e["file"] for e in job.errors}
        return self.directory(job) / name if name in names else None

    def cancel(self, job: ExportJob) -> None:
        job.cancelled.set()
        job.finished.wait(timeout=30)
        shutil.rmtree(self.directory(job), ignore_errors=True)
        with self.lock:
            self.jobs.pop(job.id, None)

    def _run(self, job: ExportJob) -> None:
        started = time.monotonic()
        directory = self.directory(job)
        directory.mkdir(parents=True, exist_ok=True)
        cursor = self.context.engine.cursor()
        try:
            cursor.execute("SET TimeZone = 'UTC'")
            self.context.warehouse.attach_views(cursor)
            counts = self._export(cursor.connection, job, directory)
            for resource_type in job.types:
                if counts.get(resource_type):
                    job.output.append(
                        {
                            "type": resource_type,
                            "file": f"{resource_type}.ndjson",
                            "count": counts[resource_type],
                        }
                    )
            job.status = "cancelled" if job.cancelled.is_set() else "completed"
        except Exception as exc:
            job.status = "failed"
            self._error(job, directory, f"the export failed: {exc}")
        finally:
            cursor.close()
            job.seconds = time.monotonic() - started
            job.finished.set()

    def _export(self, connection: Any, job: ExportJob, directory: Path) -> dict[str, int]:
        """One scan for every type: each Arrow batch is split by type and appended to its file."""
        clauses: list[str] = []
        params: list[Any] = []
        for resource_type in job.types:
            clause, values = job.confinements[resource_type].clause(resource_type)
            clauses.append(f"(resource_type = ? AND {clause})")
            params.extend([resource_type, *values])
        where = "(" + " OR ".join(clauses) + ")"
        if job.since is not None:
            where += " AND last_updated > ?"
            params.append(job.since)
        sql = (
            f"SELECT resource_type, CAST({RENDERED} AS VARCHAR) AS resource "
            f"FROM {self.context.zone.current_view} WHERE {where}"
        )
        reader = connection.sql(sql, params=params).to_arrow_reader(BATCH_ROWS)
        counts: dict[str, int] = {}
        handles: dict[str, Any] = {}
        try:
            for batch in reader:
                if job.cancelled.is_set():
                    break
                types = batch.column(0)
                for resource_type in pc.unique(types).to_pylist():
                    rows = batch.column(1).filter(pc.equal(types, resource_type))
                    if resource_type not in handles:
                        handles[resource_type] = (directory / f"{resource_type}.ndjson").open("wb")
                    handles[resource_type].write(ndjson_bytes(rows))
                    counts[resource_type] = counts.get(resource_type, 0) + len(rows)
                job.resources += batch.num_rows
        finally:
            for handle in handles.values():
                handle.close()
        return counts

    def _error(self, job: ExportJob, directory: Path, message: str) -> None:
        path = directory / "errors.ndjson"
        with path.open("ab") as handle:
            handle.write(orjson.dumps(operation_outcome(message, code="exception")) + b"\n")
        if not job.errors:
            job.errors.append({"file": "errors.ndjson"})


def ndjson_bytes(column: pa.Array | pa.ChunkedArray) -> memoryview | bytes:
    """The strings of ``column`` as NDJSON: each value and a newline, in one buffer."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if len(column) == 0:
        return b""
    lines = pc.binary_join_element_wise(column, pa.scalar("", column.type), "\n")
    offset_type = pa.int64() if pa.types.is_large_string(lines.type) else pa.int32()
    offsets = pa.Array.from_buffers(
        offset_type, len(lines) + 1, [None, lines.buffers()[1]], offset=lines.offset
    )
    start, end = offsets[0].as_py(), offsets[-1].as_py()
    return memoryview(lines.buffers()[2].slice(start, end - start))
