"""Writing ingestion batches: raw items, resource versions and quarantine entries.

A :class:`~hygie.warehouse.batch.Batch` gathers columns in Python; :class:`BatchWriter` hands each full batch to the
engine as Arrow tables on a background thread (the engine releases the GIL), so parsing the next
batch overlaps with storing the previous one. Each batch is one transaction: an interrupted run
leaves whole batches or nothing, and raw keys make the re-run skip what was stored.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hygie.warehouse.batch import Batch, RunCounts, is_identity
from hygie.warehouse.engine import Engine
from hygie.warehouse.sql import load_statements

RAW_DIRECTORY = "raw"
CARE_DIRECTORY = "care"
TMP_DIRECTORY = "tmp"
REFERENCES_IN_MEMORY = 200_000
"""References of a run kept in memory before they go to files (about 20 MB)."""
JSON_TYPE = pa.json_(pa.large_string())
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
        # Parquet files are written there first, then renamed into place when whole.
        shutil.rmtree(root / TMP_DIRECTORY, ignore_errors=True)
        self.partial_dir = root / TMP_DIRECTORY / "partial"
        self.partial_dir.mkdir(parents=True)
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
        sealed = batch.seal()
        raw, resources, quarantine = sealed.raw, sealed.resources, sealed.quarantine
        quarantine_reasons = batch.quarantine_reasons
        now = datetime.now(UTC)
        self.raw_files += 1
        raw_file = f"{RAW_DIRECTORY}/{self.run_id}/{self.raw_files:06d}.parquet"
        care_file = f"{CARE_DIRECTORY}/{self.run_id}/{self.raw_files:06d}.parquet"
        engine.register_arrow("batch_raw", raw.drop_columns(["content"]))
        engine.register_arrow("batch_resource", resources)
        engine.register_arrow("batch_quarantine", quarantine)
        changed_tables: list[pa.Table] = []
        engine.execute("BEGIN TRANSACTION")
        try:
            new_raw = engine.fetch_arrow(
                statements["insert_raw"],
                {"now": now, "run_id": self.run_id, "file": raw_file, "care_file": care_file},
            )
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
            new_mask = pc.is_in(raw.column("sha256"), value_set=new_raw.column("sha256"))
            verbatim = pc.and_(new_mask, raw.column("verbatim"))
            kept_in_care = self._write_care_file(
                care_file, resources, versions, raw.column("sha256").filter(verbatim)
            )
            self._write_raw_file(
                raw_file,
                raw.filter(pc.and_(new_mask, pc.invert(raw.column("verbatim")))),
                resources,
                raw.column("sha256").filter(verbatim),
                kept_in_care,
            )
            if versions.num_rows:
                engine.register_arrow("version_rows", versions)
                engine.execute(
                    statements["insert_versions"],
                    {"now": now, "run_id": self.run_id, "file": care_file},
                )
            if quarantine.num_rows:
                engine.execute(statements["insert_quarantine"], {"now": now, "run_id": self.run_id})
            if sealed.references.num_rows:
                self._keep_references(sealed.references)
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

    def _write_care_file(
        self, name: str, resources: pa.Table, versions: pa.Table, verbatim_raw: pa.Array
    ) -> pa.Array:
        """Write the JSON of the new versions to the Parquet file ``name``.

        The rows of verbatim raw items (``verbatim_raw``: their sha256) carry ``raw_sha256``: the
        file then holds their bytes as received, once. Returns the raw keys so kept.
        """
        rows = versions.column("row_index")
        version_ids = versions.column("version_id").cast(pa.int32())
        deleted = resources.column("deleted").take(rows)
        if pc.any(deleted).as_py():
            kept = pc.invert(deleted)
            rows, version_ids = rows.filter(kept), version_ids.filter(kept)
        if len(rows) == 0:
            return pa.array([], pa.binary())
        keys = pa.table(
            {
                "resource_type": resources.column("resource_type").take(rows),
                "id": resources.column("id").take(rows),
                "version_id": version_ids,
            }
        )
        # Sorted by type and id in small row groups: the row-group statistics then let a query
        # on one type, or one id, skip the rest of the file. One take of the (large) JSON.
        order = pc.sort_indices(
            keys, sort_keys=[("resource_type", "ascending"), ("id", "ascending")]
        )
        if not is_identity(order, len(order)):
            rows = rows.take(order)
            keys = keys.take(order)
        raw_sha = _first_occurrences(resources.column("raw_sha256").take(rows), verbatim_raw)
        json = resources.column("resource")
        if not is_identity(rows, resources.num_rows):
            # Only some rows became versions, or they are not in file order (plain lines come
            # sorted from the parsing process: most batches of a first load skip this copy).
            json = json.take(rows)
        content = (
            keys.append_column(
                # Typed JSON in the file: the engine reads it as JSON without parsing it again.
                "resource",
                pa.chunked_array(
                    [pa.ExtensionArray.from_storage(JSON_TYPE, chunk) for chunk in json.chunks],
                    JSON_TYPE,
                ),
            )
            .append_column("raw_sha256", raw_sha)
            .append_column("file", _repeated(name, keys.num_rows))
        )
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_parquet(
            content,
            path,
            self.partial_dir,
            compression="zstd",
            compression_level=1,
            row_group_size=CARE_ROW_GROUP,
            # No dictionary or min/max for the JSON and the hashes: all distinct, never pruned on.
            use_dictionary=["resource_type", "id", "file"],
            write_statistics=["resource_type", "id", "version_id", "file"],
        )
        return raw_sha.drop_null()

    def _write_raw_file(
        self,
        name: str,
        plain: pa.Table,
        resources: pa.Table,
        verbatim_raw: pa.Array,
        kept_in_care: pa.Array,
    ) -> None:
        """Write the bytes of the newly received items that the care file does not hold.

        ``plain``: new raw items with their bytes; verbatim items not kept in the care file
        (their resource was unchanged) get their bytes from the resource's JSON, and their
        catalog row is pointed at this file. The catalog rows commit after the file is written.
        """
        parts = [plain.select(["sha256", "content"])]
        orphans = verbatim_raw.filter(pc.invert(pc.is_in(verbatim_raw, value_set=kept_in_care)))
        if len(orphans):
            found = resources.filter(pc.is_in(resources.column("raw_sha256"), value_set=orphans))
            first = pc.index_in(orphans, value_set=found.column("raw_sha256"))
            parts.append(
                pa.table(
                    {
                        "sha256": orphans,
                        "content": found.column("resource").take(first).cast(pa.large_binary()),
                    }
                )
            )
            self.engine.register_arrow("kept_raw", pa.table({"sha256": orphans}))
            self.engine.execute(self.statements["move_raw_to_raw_file"], {"file": name})
            self.engine.unregister("kept_raw")
        fresh = pa.concat_tables(parts)
        if fresh.num_rows == 0:
            return
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        named = fresh.append_column("file", _repeated(name, fresh.num_rows))
        _write_parquet(named, path, self.partial_dir, compression="zstd", compression_level=1)

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


def _write_parquet(table: pa.Table, path: Path, partial_dir: Path, **options: Any) -> None:
    """Write ``table`` to ``path`` whole or not at all: the views read every ``*.parquet`` of
    the warehouse, so a file cut off by a killed run must never carry that name. It is written
    in ``partial_dir`` (under tmp/, emptied when a writer starts) and renamed into place."""
    partial = partial_dir / f"{path.parent.parent.name}-{path.parent.name}-{path.name}"
    pq.write_table(table, partial, **options)
    os.replace(partial, path)


def _value_counts(column: pa.ChunkedArray | pa.Array) -> Counter[str]:
    counts: Counter[str] = Counter()
    for entry in pc.value_counts(column).to_pylist():
        counts[entry["values"]] += entry["counts"]
    return counts


def _repeated(value: str, count: int) -> pa.DictionaryArray:
    """A column holding ``value`` ``count`` times (dictionary-encoded: one copy of the text)."""
    indices = pa.Array.from_buffers(pa.int32(), count, [None, pa.py_buffer(bytes(4 * count))])
    return pa.DictionaryArray.from_arrays(indices, pa.array([value], pa.string()))


def _first_occurrences(raw_sha: pa.Array, verbatim_raw: pa.Array) -> pa.Array:
    """``raw_sha`` where it names a verbatim raw item, only at its first row; null elsewhere.

    A raw item is one row of the care file: two versions with the same bytes in one batch (a
    resource changed and changed back) would otherwise both claim it.
    """
    wanted = pc.is_in(raw_sha, value_set=verbatim_raw)
    marked = pc.if_else(wanted, raw_sha, pa.scalar(None, pa.binary()))
    if pc.count_distinct(marked).as_py() == pc.count(marked).as_py():
        return marked
    seen: set[bytes] = set()
    values: list[bytes | None] = []
    for value in marked.to_pylist():
        values.append(value if value is not None and value not in seen else None)
        if value is not None:
            seen.add(value)
    return pa.array(values, pa.binary())
