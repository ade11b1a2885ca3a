"""Writing ingestion batches: raw items, resource versions and quarantine entries.

A :class:`Batch` gathers columns in Python; :class:`BatchWriter` hands each full batch to the
engine as Arrow tables on a background thread (the engine releases the GIL), so parsing the next
batch overlaps with storing the previous one. Each batch is one transaction: an interrupted run
leaves whole batches or nothing, and raw keys make the re-run skip what was stored.
"""

from __future__ import annotations

import array
import contextlib
import hashlib
import queue
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hygie.fhir.references import ConditionalQuery
from hygie.fhir.validation import r4_resource_types, required_elements
from hygie.sources.base import RawItem, ReadFailure, Rejection, ResourceOut
from hygie.sources.fhir import interpret_json
from hygie.warehouse.engine import Engine
from hygie.warehouse.sql import load_statements

DELETED_SHA = "deleted"
RAW_DIRECTORY = "raw"
CARE_DIRECTORY = "care"

RAW_COLUMNS = ("seq", "sha256", "source", "line_no", "byte_offset", "format", "size_bytes")
RAW_TYPES = (pa.int64(), pa.string(), pa.string(), pa.int64(), pa.int64(), pa.string(), pa.int64())
LINE_COLUMNS = ("seq", "sha256", "source", "line_no", "byte_offset")
LINE_TYPES = (pa.int64(), pa.string(), pa.string(), pa.int64(), pa.int64())
RESOURCE_COLUMNS = (
    "seq",
    "raw_sha256",
    "source",
    "resource_type",
    "id",
    "content_sha256",
    "deleted",
)
RESOURCE_TYPES = (
    pa.int64(),
    pa.string(),
    pa.string(),
    pa.string(),
    pa.string(),
    pa.string(),
    pa.bool_(),
)
QUARANTINE_SCHEMA = pa.schema(
    [
        ("quarantine_key", pa.string()),
        ("source", pa.string()),
        ("line_no", pa.int64()),
        ("byte_offset", pa.int64()),
        ("entry_index", pa.int32()),
        ("resource_type", pa.string()),
        ("resource_id", pa.string()),
        ("reason", pa.string()),
        ("message", pa.string()),
        ("raw_sha256", pa.string()),
    ]
)


@dataclass
class RunCounts:
    """Counters of a run, by resource type and by quarantine reason."""

    items_read: int = 0
    resources_read: int = 0
    bytes_read: int = 0
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    read_by_type: Counter[str] = field(default_factory=Counter)
    quarantined: Counter[str] = field(default_factory=Counter)

    def totals(self) -> dict[str, int]:
        return {
            "items_read": self.items_read,
            "resources_read": self.resources_read,
            "created": sum(self.created.values()),
            "updated": sum(self.updated.values()),
            "deleted": sum(self.deleted.values()),
            "unchanged": sum(self.unchanged.values()),
            "quarantined": sum(self.quarantined.values()),
            "bytes_read": self.bytes_read,
        }


class BinaryColumn:
    """Bytes values appended into one buffer, turned into an Arrow array without copies."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.offsets = array.array("i", [0])

    def append(self, value: bytes) -> None:
        self.data += value
        self.offsets.append(len(self.data))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def to_arrow(self) -> pa.Array:
        return pa.Array.from_buffers(
            pa.binary(),
            len(self),
            [None, pa.py_buffer(self.offsets), pa.py_buffer(self.data)],
        )


class Batch:
    """Columns of one ingestion transaction, filled item by item."""

    def __init__(self) -> None:
        self.raw: dict[str, list[Any]] = {name: [] for name in RAW_COLUMNS}
        self.raw_content = BinaryColumn()
        self.resources: dict[str, list[Any]] = {name: [] for name in RESOURCE_COLUMNS}
        self.resource_json = BinaryColumn()
        self.quarantine: dict[str, list[Any]] = {name: [] for name in QUARANTINE_SCHEMA.names}
        self.raw_seen: set[str] = set()
        self.items = 0
        self.bytes = 0
        self.quarantine_reasons: Counter[str] = Counter()
        self.already_present: Counter[str] = Counter()
        """Resources found already stored (``ifNoneExist``): counted as read and unchanged."""
        self.seq = 0
        """Order of the items in the batch (several versions of a resource are kept in order)."""
        self.lines: dict[str, list[Any]] = {name: [] for name in LINE_COLUMNS}
        self.line_text = BinaryColumn()

    def __len__(self) -> int:
        return self.items

    def add_line(self, item: RawItem) -> None:
        """Queue an NDJSON line (valid UTF-8, plain references) for checking by the engine."""
        self.seq += 1
        self.items += 1
        self.bytes += len(item.content)
        lines = self.lines
        lines["seq"].append(self.seq)
        # hashlib (OpenSSL, SHA extensions) hashes faster than the engine's sha256().
        lines["sha256"].append(hashlib.sha256(item.content).hexdigest())
        lines["source"].append(item.source)
        lines["line_no"].append(item.line_no)
        lines["byte_offset"].append(item.byte_offset)
        self.line_text.append(item.content)

    def add_raw(self, item: RawItem) -> str:
        """Record an item as received; return its sha256 (the raw key)."""
        content = item.content
        sha = hashlib.sha256(content).hexdigest()
        self.seq += 1
        self.items += 1
        self.bytes += len(content)
        if sha not in self.raw_seen:
            self.raw_seen.add(sha)
            raw = self.raw
            raw["seq"].append(self.seq)
            raw["sha256"].append(sha)
            raw["source"].append(item.source)
            raw["line_no"].append(item.line_no)
            raw["byte_offset"].append(item.byte_offset)
            raw["format"].append(item.format)
            raw["size_bytes"].append(len(content))
            self.raw_content.append(content)
        return sha

    def add_resource(self, resource: ResourceOut, raw_sha: str, source: str, single: bool) -> None:
        """Queue a resource; ``single`` means the item is exactly this resource's JSON."""
        columns = self.resources
        columns["seq"].append(self.seq)
        columns["raw_sha256"].append(raw_sha)
        columns["source"].append(source)
        columns["resource_type"].append(resource.resource_type)
        columns["id"].append(resource.id)
        if resource.json is None:
            columns["content_sha256"].append(DELETED_SHA)
            columns["deleted"].append(True)
            self.resource_json.append(b"")
        else:
            content_sha = raw_sha if single else hashlib.sha256(resource.json).hexdigest()
            columns["content_sha256"].append(content_sha)
            columns["deleted"].append(False)
            self.resource_json.append(resource.json)

    def add_rejection(self, rejection: Rejection, item: RawItem, raw_sha: str) -> None:
        self._quarantine(
            item.source, item.line_no, item.byte_offset, rejection.entry_index,
            rejection.resource_type, rejection.resource_id, rejection.reason, rejection.message,
            raw_sha,
        )  # fmt: skip

    def add_failure(self, failure: ReadFailure) -> None:
        self._quarantine(
            failure.source, failure.line_no, failure.byte_offset, None, None, None,
            failure.reason, failure.message, None,
        )  # fmt: skip

    def _quarantine(
        self,
        source: str,
        line_no: int | None,
        byte_offset: int | None,
        entry_index: int | None,
        resource_type: str | None,
        resource_id: str | None,
        reason: str,
        message: str,
        raw_sha: str | None,
    ) -> None:
        key_parts = (raw_sha or f"{source}@{byte_offset}", str(entry_index), reason)
        key = hashlib.sha256("\x1f".join(key_parts).encode()).hexdigest()
        values = (
            key, source, line_no, byte_offset, entry_index, resource_type, resource_id,
            reason, message, raw_sha,
        )  # fmt: skip
        for name, value in zip(QUARANTINE_SCHEMA.names, values, strict=True):
            self.quarantine[name].append(value)
        self.quarantine_reasons[reason] += 1

    def lines_table(self) -> pa.Table:
        arrays = [pa.array(self.lines[n], t) for n, t in zip(LINE_COLUMNS, LINE_TYPES, strict=True)]
        text = self.line_text.to_arrow().cast(pa.string())
        return pa.Table.from_arrays([*arrays, text], names=[*LINE_COLUMNS, "line"])

    def raw_table(self) -> pa.Table:
        arrays = [pa.array(self.raw[n], t) for n, t in zip(RAW_COLUMNS, RAW_TYPES, strict=True)]
        return pa.Table.from_arrays(
            [*arrays, self.raw_content.to_arrow()], names=[*RAW_COLUMNS, "content"]
        )

    def resource_table(self) -> pa.Table:
        arrays = [
            pa.array(self.resources[n], t)
            for n, t in zip(RESOURCE_COLUMNS, RESOURCE_TYPES, strict=True)
        ]
        # JSON travels as UTF-8 text; the cast checks it without a Python-level decode.
        text = self.resource_json.to_arrow().cast(pa.string())
        return pa.Table.from_arrays([*arrays, text], names=[*RESOURCE_COLUMNS, "resource"])

    def quarantine_table(self) -> pa.Table:
        return pa.table(self.quarantine, schema=QUARANTINE_SCHEMA)


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
        types = sorted(r4_resource_types())
        self.engine.register_arrow("r4_types", pa.table({"resource_type": types}))
        self.engine.register_arrow("required_elements", required_elements_table())
        self.queue: queue.Queue[Batch | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, name="hygie-writer", daemon=True)
        self.thread.start()

    def submit(self, batch: Batch) -> None:
        """Queue a batch (blocks while two are already waiting, bounding memory)."""
        self._raise_if_failed()
        self.queue.put(batch)

    def drain(self) -> None:
        """Wait until every submitted batch is committed."""
        self.queue.join()
        self._raise_if_failed()

    def close(self) -> None:
        """Finish the queued batches and stop the thread."""
        self.queue.put(None)
        self.thread.join()
        self.engine.close()
        self._raise_if_failed()

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
        late = Batch()
        """Lines the engine did not accept, interpreted here to say why (or to store them)."""
        if batch.lines["seq"]:
            raw, resources = self._check_lines(batch, raw, resources, late)
        raw = _first_of_each_sha(raw)
        resources = resources.append_column(
            "row_index", pa.array(range(resources.num_rows), pa.int64())
        )
        quarantine = pa.concat_tables([batch.quarantine_table(), late.quarantine_table()])
        quarantine_reasons = batch.quarantine_reasons + late.quarantine_reasons
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
            care_file = self._write_care_file(resources, versions)
            engine.register_arrow("version_rows", versions)
            engine.execute(
                statements["insert_versions"],
                {"now": now, "run_id": self.run_id, "file": care_file},
            )
            engine.execute(statements["insert_quarantine"], {"now": now, "run_id": self.run_id})
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
                "version_rows", "batch_lines",
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

    def _check_lines(
        self, batch: Batch, raw: pa.Table, resources: pa.Table, late: Batch
    ) -> tuple[pa.Table, pa.Table]:
        """Hash and check the batch's NDJSON lines in the engine (set-based, on every core).

        Lines the engine accepts become resources as they are; the others are interpreted in
        Python, which gives the same outcome with a precise message.
        """
        engine = self.engine
        lines = batch.lines_table()
        engine.register_arrow("batch_lines", lines)
        checked = engine.fetch_arrow(self.statements["check_lines"])
        accepted = checked.column("accepted")
        content = lines.column("line").cast(pa.binary())
        count = lines.num_rows
        raw_lines = pa.table(
            {
                "seq": lines.column("seq"),
                "sha256": lines.column("sha256"),
                "source": lines.column("source"),
                "line_no": lines.column("line_no"),
                "byte_offset": lines.column("byte_offset"),
                "format": pa.array(["fhir-ndjson"] * count, pa.string()),
                "size_bytes": pc.binary_length(content).cast(pa.int64()),
                "content": content,
            }
        )
        taken = lines.filter(accepted)
        taken_checked = checked.filter(accepted)
        resource_lines = pa.table(
            {
                "seq": taken.column("seq"),
                "raw_sha256": taken.column("sha256"),
                "source": taken.column("source"),
                "resource_type": taken_checked.column("resource_type"),
                "id": taken_checked.column("id"),
                "content_sha256": taken.column("sha256"),
                "deleted": pa.array([False] * taken.num_rows, pa.bool_()),
                "resource": taken.column("line"),
            }
        )
        refused = pc.invert(accepted)
        for line in lines.filter(refused).to_pylist():
            item = RawItem(
                line["source"], line["line_no"], line["byte_offset"], "fhir-ndjson",
                line["line"].encode(),
            )  # fmt: skip
            outcome = interpret_json(item, NO_LOOKUP)
            late.seq = line["seq"]
            sha = line["sha256"]
            single = len(outcome.resources) == 1 and outcome.resources[0].json is item.content
            for resource in outcome.resources:
                late.add_resource(resource, sha, item.source, single)
            for rejection in outcome.rejections:
                late.add_rejection(rejection, item, sha)
        return (
            pa.concat_tables([raw, raw_lines]),
            pa.concat_tables([resources, resource_lines, late.resource_table()]),
        )

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
                "resource": rows.column("resource"),
                "file": pa.array([name] * rows.num_rows, pa.string()).dictionary_encode(),
            }
        ).filter(kept)
        if content.num_rows:
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(content, path, compression="zstd", compression_level=1)
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


def required_elements_table() -> pa.Table:
    """The required elements of each type, as the engine's line check reads them."""
    rows: dict[str, list[Any]] = {"resource_type": [], "required": [], "choice_1": [], "choice_2": []}
    for resource_type, groups in required_elements().items():
        single = [group[0] for group in groups if len(group) == 1]
        choices = [list(group) for group in groups if len(group) > 1]
        if len(choices) > 2:
            raise ValueError(f"{resource_type}: more than two choice groups are not supported")
        rows["resource_type"].append(resource_type)
        rows["required"].append(single)
        rows["choice_1"].append(choices[0] if choices else None)
        rows["choice_2"].append(choices[1] if len(choices) > 1 else None)
    strings = pa.list_(pa.string())
    return pa.table(
        {
            "resource_type": pa.array(rows["resource_type"], pa.string()),
            "required": pa.array(rows["required"], strings),
            "choice_1": pa.array(rows["choice_1"], strings),
            "choice_2": pa.array(rows["choice_2"], strings),
        }
    )


class _NoLookup:
    """Lines checked after reading carry no conditional reference: nothing to look up."""

    def find(self, query: ConditionalQuery) -> str | None:
        return None


NO_LOOKUP = _NoLookup()


def _first_of_each_sha(raw: pa.Table) -> pa.Table:
    """Keep the first row of each raw key (the same bytes twice in a batch are one raw item)."""
    seen: set[str] = set()
    keep = []
    for sha in raw.column("sha256").to_pylist():
        keep.append(sha not in seen)
        seen.add(sha)
    return raw if all(keep) else raw.filter(pa.array(keep, pa.bool_()))


def _value_counts(column: pa.ChunkedArray | pa.Array) -> Counter[str]:
    counts: Counter[str] = Counter()
    for entry in pc.value_counts(column).to_pylist():
        counts[entry["values"]] += entry["counts"]
    return counts
