"""Writing ingestion batches: raw items, resource versions and quarantine entries.

A :class:`~hygie.warehouse.batch.Batch` gathers columns in Python; :class:`BatchWriter` hands each full batch to the
engine as Arrow tables on a background thread (the engine releases the GIL), so parsing the next
batch overlaps with storing the previous one. Each batch is one transaction: an interrupted run
leaves whole batches or nothing, and raw keys make the re-run skip what was stored.
"""

from __future__ import annotations

import contextlib
import queue
import shutil
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hygie.warehouse.batch import Batch, RunCounts
from hygie.warehouse.engine import Engine
from hygie.warehouse.sql import load_statements

RAW_DIRECTORY = "raw"
CARE_DIRECTORY = "care"
TMP_DIRECTORY = "tmp"
REFERENCES_IN_MEMORY = 200_000
"""References of a run kept in memory before they go to files (about 20 MB)."""
CARE_ROW_GROUP = 2048
"""Rows per row group of the care files (see _write_care_file)."""


class BatchWriter:
    """Stores batches on a background thread, one transaction each, in submission order."""

    def __init__(self, engine: Engine, run_id: str, counts: RunCounts, root: Path) -> None:
        self.engine = engine.cursor()
        self.root = root
        self.raw_files = 0
        self.run_id = run_id
        self.counts = counts
        self.statements = load_statements("hygie.warehouse", "ingest.sql")
        self.queries = load_statements("hygie.warehouse", "queries.sql")
        # References gathered batch by batch wait on disk, not in memory, for the end of the run.
        # Only one writer runs at a time: what a cut-off run left in tmp/ is not needed.
        shutil.rmtree(root / TMP_DIRECTORY, ignore_errors=True)
        self.reference_dir = root / TMP_DIRECTORY / run_id
        self.reference_files: list[str] = []
        self.references_in_memory: list[pa.Table] = []
        """References of a small run stay in memory; past REFERENCES_IN_MEMORY rows they spill."""
        self.queue: queue.Queue[Batch | None] = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, name="hygie-writer", daemon=True)
        self.thread.start()

    def submit(self, batch: Batch) -> None:
        """Queue a batch (blocks while one is already waiting, bounding memory)."""
        self._raise_if_failed()
        self.queue.put(batch)

    def drain(self) -> None:
        """Wait until every submitted batch is committed."""
        self.queue.join()
        self._raise_if_failed()

    def close(self) -> None:
        """Finish the queued batches and stop the thread."""
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()
        self._raise_if_failed()

    def record_dangling(self) -> int:
        """After the last batch: record the run's references to resources absent from the
        warehouse; return how many."""
        self.close()
        recorded = 0
        if self.reference_files:
            recorded = self.engine.fetch_arrow(
                self.statements["record_dangling"],
                {"run_id": self.run_id, "files": self.reference_files},
            ).num_rows
        elif self.references_in_memory:
            self.engine.register_arrow("run_reference", pa.concat_tables(self.references_in_memory))
            recorded = self.engine.fetch_arrow(
                self.statements["record_dangling_in_memory"], {"run_id": self.run_id}
            ).num_rows
            self.engine.unregister("run_reference")
        shutil.rmtree(self.reference_dir, ignore_errors=True)
        self.engine.close()
        return recorded

    def _keep_references(self, references: pa.Table) -> None:
        """Hold a batch's references in memory while the run is small, else on disk."""
        self.references_in_memory.append(references)
        if sum(t.num_rows for t in self.references_in_memory) <= REFERENCES_IN_MEMORY:
            return
        self.reference_dir.mkdir(parents=True, exist_ok=True)
        for table in self.references_in_memory:
            path = self.reference_dir / f"references-{len(self.reference_files):06d}.parquet"
            pq.write_table(table, path, compression="lz4")
            self.reference_files.append(str(path))
        self.references_in_memory = []

    def _raise_if_failed(self) -> None:
        if self.error is not None:
            raise self.error

    def _loop(self) -> None:
        while True:
            batch = self.queue.get()
            try:
                if batch is None:
                    return
                if self.error is None:
                    self.write(batch)
            except BaseException as exc:
                self.error = exc
            finally:
                self.queue.task_done()

    def write(self, batch: Batch) -> None:
        """Store one batch in one transaction and add its outcome to the run counts."""
        statements = self.statements
        engine = self.engine
        raw, resources = batch.raw_table(), batch.resource_table()
        resources = resources.append_column(
            "row_index", pa.array(range(resources.num_rows), pa.int64())
        )
        quarantine = batch.quarantine_table()
        quarantine_reasons = batch.quarantine_reasons
        now = datetime.now(UTC)
        self.raw_files += 1
        raw_file = f"{RAW_DIRECTORY}/{self.run_id}/{self.raw_files:06d}.parquet"
        engine.register_arrow("batch_raw", raw.drop_columns(["content"]))
        engine.register_arrow("batch_resource", resources)
        engine.register_arrow("batch_quarantine", quarantine)
        changed_tables: list[pa.Table] = []
        engine.execute("BEGIN TRANSACTION")
        try:
            new_raw = engine.fetch_arrow(
                statements["insert_raw"], {"now": now, "run_id": self.run_id, "file": raw_file}
            )
            self._write_raw_file(raw, new_raw, raw_file)
            engine.register_arrow("new_raw", new_raw)
            passes = 0
            if new_raw.num_rows and resources.num_rows:
                engine.execute(statements["stage_fresh"])
                passes = int(engine.fetchall(statements["max_pass"])[0][0])
            version_rows: list[pa.Table] = []
            for number in range(1, passes + 1):
                changed = engine.fetch_arrow(statements["upsert_head"], {"pass": number})
                engine.register_arrow("changed", changed)
                version_rows.append(
                    engine.fetch_arrow(statements["changed_rows"], {"pass": number})
                )
                changed_tables.append(changed)
            versions = (
                pa.concat_tables(version_rows)
                if version_rows
                else pa.table(
                    {"row_index": pa.array([], pa.int64()), "version_id": pa.array([], pa.int32())}
                )
            )
            if versions.num_rows:
                care_file = self._write_care_file(resources, versions)
                engine.register_arrow("version_rows", versions)
                engine.execute(
                    statements["insert_versions"],
                    {"now": now, "run_id": self.run_id, "file": care_file},
                )
            if quarantine.num_rows:
                engine.execute(statements["insert_quarantine"], {"now": now, "run_id": self.run_id})
            if batch.references["id"]:
                self._keep_references(batch.reference_table())
            outcome = self._outcome(resources, changed_tables, batch)
            engine.execute(
                self.queries["add_run_counts"],
                {
                    "items_read": batch.items,
                    "resources_read": resources.num_rows + batch.already_present.total(),
                    "created": outcome["created"].total(),
                    "updated": outcome["updated"].total(),
                    "deleted": outcome["deleted"].total(),
                    "unchanged": outcome["unchanged"].total(),
                    "quarantined": quarantine_reasons.total(),
                    "bytes_read": batch.bytes,
                    "run_id": self.run_id,
                },
            )
            engine.execute("COMMIT")
        except BaseException:
            engine.execute("ROLLBACK")
            raise
        finally:
            for name in (
                "batch_raw", "batch_resource", "batch_quarantine", "new_raw", "changed",
                "version_rows",
            ):  # fmt: skip
                with contextlib.suppress(Exception):  # a name not registered this batch
                    engine.unregister(name)
        counts = self.counts
        counts.items_read += batch.items
        counts.bytes_read += batch.bytes
        counts.resources_read += resources.num_rows + batch.already_present.total()
        counts.quarantined.update(quarantine_reasons)
        for name in ("created", "updated", "deleted", "unchanged"):
            getattr(counts, name).update(outcome[name])
        counts.read_by_type.update(_value_counts(resources.column("resource_type")))
        counts.read_by_type.update(batch.already_present)

    def _write_care_file(self, resources: pa.Table, versions: pa.Table) -> str:
        """Write the JSON of the new versions to a Parquet file; return its relative name."""
        name = f"{CARE_DIRECTORY}/{self.run_id}/{self.raw_files:06d}.parquet"
        if versions.num_rows == 0:
            return name
        rows = resources.take(versions.column("row_index"))
        kept = pc.invert(rows.column("deleted"))
        content = pa.table(
            {
                "resource_type": rows.column("resource_type"),
                "id": rows.column("id"),
                "version_id": versions.column("version_id").cast(pa.int32()),
                # Typed JSON in the file: the engine reads it as JSON without parsing it again.
                "resource": pa.ExtensionArray.from_storage(
                    pa.json_(), rows.column("resource").combine_chunks()
                ),
                "file": pa.array([name] * rows.num_rows, pa.string()).dictionary_encode(),
            }
        ).filter(kept)
        if content.num_rows:
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            # Sorted by type and id in small row groups: the row-group statistics then let a
            # query on one type, or one id, skip the rest of the file.
            content = content.sort_by([("resource_type", "ascending"), ("id", "ascending")])
            pq.write_table(
                content,
                path,
                compression="zstd",
                compression_level=1,
                row_group_size=CARE_ROW_GROUP,
            )
        return name

    def _write_raw_file(self, raw: pa.Table, new_raw: pa.Table, name: str) -> None:
        """Write the bytes of the newly received items; the catalog rows commit after it."""
        if new_raw.num_rows == 0:
            return
        fresh = raw.filter(pc.is_in(raw.column("sha256"), value_set=new_raw.column("sha256")))
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        named = fresh.select(["sha256", "content"]).append_column(
            "file", pa.array([name] * fresh.num_rows, pa.string()).dictionary_encode()
        )
        pq.write_table(named, path, compression="zstd", compression_level=1)

    @staticmethod
    def _outcome(
        resources: pa.Table, changed_tables: list[pa.Table], batch: Batch
    ) -> dict[str, Counter[str]]:
        outcome: dict[str, Counter[str]] = {
            "created": Counter(),
            "updated": Counter(),
            "deleted": Counter(),
            "unchanged": Counter(),
        }
        for changed in changed_tables:
            if changed.num_rows == 0:
                continue
            deleted = changed.column("deleted")
            first = pc.equal(changed.column("version_id"), 1)
            types = changed.column("resource_type")
            outcome["deleted"].update(_value_counts(types.filter(deleted)))
            kept = pc.invert(deleted)
            outcome["created"].update(_value_counts(types.filter(pc.and_(kept, first))))
            outcome["updated"].update(_value_counts(types.filter(pc.and_(kept, pc.invert(first)))))
        stored = outcome["created"] + outcome["updated"] + outcome["deleted"]
        read = _value_counts(resources.column("resource_type"))
        outcome["unchanged"] = read - stored + batch.already_present
        return outcome


def _value_counts(column: pa.ChunkedArray | pa.Array) -> Counter[str]:
    counts: Counter[str] = Counter()
    for entry in pc.value_counts(column).to_pylist():
        counts[entry["values"]] += entry["counts"]
    return counts
