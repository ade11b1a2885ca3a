"""`hygie ingest`: inputs → raw zone → care zone, with quarantine and a run report.

The flow of one run:

1. expand the paths (files, directories, globs) and pick each file's format by its content;
2. stream items from each file, record each as received (raw), interpret it into FHIR resources,
   and gather them in batches stored by :class:`~hygie.warehouse.store.BatchWriter`;
3. items whose conditional references point to resources not seen yet are retried once at the
   end of the run (batch bundles of shared resources may come after the bundles using them);
4. record references to resources absent from the warehouse, and write the run report.
"""

from __future__ import annotations

import contextlib
import glob
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from hygie.errors import InputError
from hygie.fhir.references import ConditionalQuery, identifiers_of
from hygie.sources import SOURCES
from hygie.sources.base import RawItem, ReadFailure, ResourceOut, Source
from hygie.sources.fhir import read_head
from hygie.sources.fhir_ndjson import FhirNdjsonSource
from hygie.warehouse.batch import Batch, RunCounts
from hygie.warehouse.engine import Engine
from hygie.warehouse.plain_lines import CheckedBlock, NdjsonParsing
from hygie.warehouse.sql import load_statements
from hygie.warehouse.store import BatchWriter
from hygie.warehouse.warehouse import (
    CHECKPOINT_THRESHOLD,
    PARQUET_VIEWS,
    RUN_CHECKPOINT_THRESHOLD,
    Warehouse,
)

DATA_SUFFIXES = (
    ".ndjson", ".json", ".ndjson.gz", ".json.gz", ".hl7", ".er7", ".xml", ".dcm", ".dicom",
)  # fmt: skip
"""What a directory walk picks up; other files (e.g. .jsonl side files) are taken only by name."""
MAX_BATCH_BYTES = 128 * 1024 * 1024
"""A batch is stored when it holds this many bytes, even with fewer items than the batch size."""
MAX_DEFERRED_BYTES = 256 * 1024 * 1024
"""Items waiting for a retry are held in memory up to this size; beyond, they are quarantined."""

QUERIES = load_statements("hygie.warehouse", "queries.sql")
ALL_PARQUET_KINDS = frozenset(view for view, _directory, _columns in PARQUET_VIEWS)

ProgressHook = Callable[[int, int], None]
"""progress(bytes_done, items_done), called as the run advances."""


@dataclass
class IngestReport:
    """The outcome of one run, as stored in the ``runs`` table and shown to the user."""

    run_id: str
    status: str
    files: list[str]
    counts: RunCounts
    seconds: float
    dangling_references: int = 0
    retried: int = 0
    formats: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready form, also stored in ``runs.report``."""
        totals = self.counts.totals()
        rate = totals["resources_read"] / self.seconds if self.seconds > 0 else 0.0
        types = sorted(self.counts.read_by_type)
        return {
            "run_id": self.run_id,
            "status": self.status,
            "files": len(self.files),
            "formats": self.formats,
            "seconds": round(self.seconds, 3),
            "resources_per_second": round(rate, 1),
            "megabytes_per_second": round(totals["bytes_read"] / 1e6 / self.seconds, 2)
            if self.seconds > 0
            else 0.0,
            **totals,
            "dangling_references": self.dangling_references,
            "retried_items": self.retried,
            "by_type": {
                t: {
                    "read": self.counts.read_by_type[t],
                    "created": self.counts.created[t],
                    "updated": self.counts.updated[t],
                    "deleted": self.counts.deleted[t],
                    "unchanged": self.counts.unchanged[t],
                }
                for t in types
            },
            "quarantined_by_reason": dict(sorted(self.counts.quarantined.items())),
        }


def expand_paths(paths: Iterable[str]) -> list[Path]:
    """Files named by ``paths``: files as given, directories walked, glob patterns expanded."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if any(ch in raw for ch in "*?["):
            matched = sorted(Path(p) for p in glob.glob(raw, recursive=True))
            if not matched:
                raise InputError(f"the pattern {raw!r} matches no file")
            candidates = [p for p in matched if p.is_file()]
            for directory in (p for p in matched if p.is_dir()):
                candidates.extend(_data_files(directory))
            found.extend(candidates)
        elif path.is_dir():
            found.extend(_data_files(path))
        elif path.is_file():
            found.append(path)
        else:
            raise InputError(f"{raw}: no such file or directory")
    unique = list(dict.fromkeys(found))
    if not unique:
        raise InputError(
            "no input file found (directories are searched for " + ", ".join(DATA_SUFFIXES) + ")"
        )
    return unique


def _data_files(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
        and p.name.lower().endswith(DATA_SUFFIXES)
    )


def choose_source(path: Path, requested: str | None) -> Source:
    """The source for ``path``: the requested format, else the first whose sniff accepts it."""
    if requested is not None:
        if requested not in SOURCES:
            raise InputError(f"unknown format {requested!r} (known: {', '.join(SOURCES)})")
        return SOURCES[requested]
    if path.name.lower().endswith((".csv", ".tsv")):
        raise InputError(
            f"{path}: CSV extracts need a mapping that says how columns become FHIR: "
            "add --mapping FILE.yaml (see docs/connectors.md)"
        )
    head = read_head(path)
    for source in SOURCES.values():
        if source.sniff(path, head):
            return source
    return SOURCES["fhir-json"]


class WarehouseLookup:
    """Resolves conditional references against the warehouse and this run's own resources."""

    def __init__(self, warehouse: Warehouse, engine: Engine, writer: BatchWriter) -> None:
        self.warehouse = warehouse
        self.engine = engine.cursor()
        self.writer = writer
        self.statement = load_statements("hygie.warehouse", "ingest.sql")["identifiers_of_type"]
        self.index: dict[str, dict[tuple[str | None, str], set[str]]] = {}
        self.current_batch: Callable[[], Batch] = Batch
        """The run's batch being filled (set by the run): its resources are not stored yet."""

    def find(self, query: ConditionalQuery) -> str | None:
        index = self.index.get(query.resource_type)
        if index is None:
            index = self._load(query.resource_type)
        candidates: set[str] | None = None
        for system, value in query.identifiers:
            ids = set(index.get((system, value), ()))
            if system is None:
                ids = {i for (s, v), found in index.items() if v == value for i in found}
            candidates = ids if candidates is None else candidates & ids
        if candidates is not None and len(candidates) == 1:
            return next(iter(candidates))
        return None

    def observe(self, resource: ResourceOut) -> None:
        """Index a resource stored in this run, if its type is looked up by identifier."""
        index = self.index.get(resource.resource_type)
        if index is None or resource.json is None:
            return
        for key in identifiers_of(orjson.loads(resource.json)):
            index.setdefault(key, set()).add(resource.id)

    def _load(self, resource_type: str) -> dict[tuple[str | None, str], set[str]]:
        # Resources of this run still queued for storage must be visible: wait for them first.
        self.writer.drain()
        self.warehouse.attach_views(self.engine)
        index: dict[tuple[str | None, str], set[str]] = defaultdict(set)
        for resource_id, system, value in self.engine.fetchall(
            self.statement, {"resource_type": resource_type}
        ):
            if value is not None:
                index[(system, value)].add(resource_id)
        # And those of the batch being filled (an ADT message earlier in the same file).
        for resource_id, content in self.current_batch().resources_of(resource_type):
            for key in identifiers_of(orjson.loads(content)):
                index[key].add(resource_id)
        self.index[resource_type] = dict(index)
        return self.index[resource_type]


def ingest(
    warehouse: Warehouse,
    paths: Iterable[str],
    *,
    format: str | None = None,
    source: Source | None = None,
    progress: ProgressHook | None = None,
    command: str = "ingest",
) -> IngestReport:
    """Ingest ``paths`` into ``warehouse`` and return the run report.

    ``source`` reads every file with that format object (e.g. a CSV source built from its
    mapping); otherwise ``format`` names a registered format, else each file's content decides.
    """
    files = expand_paths(paths)
    sources = {path: source or choose_source(path, format) for path in files}
    ndjson = [path for path in files if isinstance(sources[path], FhirNdjsonSource)]
    with (
        NdjsonParsing(ndjson, warehouse.settings.batch_size) as parsing,
        warehouse.writing() as engine,
    ):
        streams: list[Stream] = [
            (
                str(path),
                sources[path],
                parsing.blocks(path) if path in ndjson else _lazy_read(sources[path], path),
            )
            for path in files
        ]
        return ingest_streams(warehouse, engine, streams, progress=progress, command=command)


def ingest_items(
    warehouse: Warehouse,
    engine: Engine,
    items: Iterable[RawItem],
    *,
    format: str = "fhir-json",
    command: str = "api",
) -> IngestReport:
    """Ingest in-memory items (e.g. request bodies) through the same path as files.

    ``engine`` must come from ``warehouse.writing()``, held by the caller (a server holds it for
    its lifetime). Every item is recorded in the raw zone and versioned like a file's.
    """
    source = SOURCES[format]
    listed = list(items)
    names = sorted({item.source for item in listed})
    return ingest_streams(
        warehouse, engine, [(", ".join(names), source, iter(items))], command=command
    )


Stream = tuple[str, Source, Iterable[RawItem | CheckedBlock | ReadFailure]]
"""(input name, its source format, its items)."""


def ingest_streams(
    warehouse: Warehouse,
    engine: Engine,
    streams: list[Stream],
    *,
    progress: ProgressHook | None = None,
    command: str = "ingest",
) -> IngestReport:
    """One run over ``streams`` on an engine opened for writing; return its report."""
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    started = time.monotonic()
    counts = RunCounts()
    formats: dict[str, int] = defaultdict(int)
    for _name, source, _items in streams:
        formats[source.name] += 1
    names = [name for name, _source, _items in streams]
    engine.execute(f"SET memory_limit = '{warehouse.settings.ingest_memory_limit}'")
    # A run's batches fold into the database file once at the end rather than every 256 MB of
    # log: in a run of a million resources, commits took 7.5 s with folds on the way, 2.9 s
    # without (the fold at the end about 1.5 s; docs/benchmarks.md).
    engine.execute(f"SET checkpoint_threshold = '{RUN_CHECKPOINT_THRESHOLD}'")
    engine.execute(QUERIES["mark_interrupted"])
    engine.execute(
        QUERIES["start_run"],
        {
            "run_id": run_id,
            "command": command,
            "now": datetime.now(UTC),
            "inputs": orjson.dumps(names).decode(),
        },
    )
    kinds_before = warehouse.kinds_with_files()
    writer = BatchWriter(engine, run_id, counts, warehouse.path)
    lookup = WarehouseLookup(warehouse, engine, writer)
    run = _Run(writer, lookup, warehouse.settings.batch_size, progress)
    status = "failed"
    dangling = 0
    try:
        for _name, source, items in streams:
            run.ingest_stream(items, source)
        run.retry_deferred()
        run.flush()
        dangling = writer.record_dangling()
        if kinds_before != ALL_PARQUET_KINDS:
            warehouse.attach_views(engine)  # first files of a kind: replace the placeholders
        status = "completed"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        engine.execute(f"SET memory_limit = '{warehouse.settings.memory_limit}'")
        engine.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
        if status != "completed":
            _stop_writer(writer)
        report = IngestReport(
            run_id,
            status,
            names,
            counts,
            time.monotonic() - started,
            dangling,
            run.retried,
            dict(formats),
        )
        engine.execute(
            QUERIES["finish_run"],
            {
                "status": status,
                "now": datetime.now(UTC),
                "seconds": report.seconds,
                "report": orjson.dumps(report.summary()).decode(),
                "run_id": run_id,
            },
        )
    return report


def _lazy_read(source: Source, path: Path) -> Iterator[RawItem | ReadFailure]:
    """Items of ``path``, read only when the run reaches the file."""
    yield from source.read(path)


def _stop_writer(writer: BatchWriter) -> None:
    # The run is already failing; its own error is the one to report.
    with contextlib.suppress(BaseException):
        writer.close()
    with contextlib.suppress(BaseException):
        writer.engine.close()


class _Run:
    """The mutable state of one run: the current batch, deferred items, progress."""

    def __init__(
        self,
        writer: BatchWriter,
        lookup: WarehouseLookup,
        batch_size: int,
        progress: ProgressHook | None,
    ) -> None:
        self.writer = writer
        self.lookup = lookup
        self.batch_size = batch_size
        self.progress = progress
        self.batch = Batch()
        lookup.current_batch = lambda: self.batch
        self.deferred: list[tuple[RawItem, Source]] = []
        self.deferred_bytes = 0
        self.retried = 0
        self.bytes_done = 0
        self.items_done = 0

    def ingest_stream(
        self, items: Iterable[RawItem | CheckedBlock | ReadFailure], source: Source
    ) -> None:
        for item in items:
            if isinstance(item, ReadFailure):
                self.batch.add_failure(item)
            elif isinstance(item, CheckedBlock):
                self.add_block(item, source)
            else:
                self.add_item(item, source, final=False)
            if self.batch_full():
                self.flush()

    def add_block(self, checked: CheckedBlock, source: Source) -> None:
        """Add a checked block of NDJSON lines: the plain ones in bulk, then the others one by
        one, in file order.

        Each line keeps its position in the batch's order whatever the order they are added in;
        plain lines come first so that a lookup made for another line of the block sees them.
        """
        batch = self.batch
        start = batch.seq
        moved: list[tuple[int, RawItem]] = []
        if self.lookup.index and checked.plain.num_rows:
            # Types indexed for conditional references must see each new resource: such lines
            # take the item path, which records them in the index.
            checked, moved = checked.without_types(set(self.lookup.index))
        batch.add_plain(checked)
        for position, item in sorted([*checked.others, *moved], key=lambda pair: pair[0]):
            batch.seq = start + position
            self.add_item(item, source, final=False, counted=True)
        batch.seq = start + checked.line_count
        self.items_done += checked.line_count
        self.bytes_done += checked.byte_count
        if self.progress is not None:
            self.progress(self.bytes_done, self.items_done)

    def add_item(
        self, item: RawItem, source: Source, *, final: bool, counted: bool = False
    ) -> None:
        """Interpret one item and add what it gives to the batch (``counted``: progress is
        counted by the caller)."""
        interpretation = source.interpret(item, self.lookup)
        if (
            interpretation.unresolved
            and not final
            and self.deferred_bytes + len(item.content) <= MAX_DEFERRED_BYTES
        ):
            self.deferred.append((item, source))
            self.deferred_bytes += len(item.content)
            return
        batch = self.batch
        raw_sha = batch.add_raw(item)
        single = (
            len(interpretation.resources) == 1 and item.content is interpretation.resources[0].json
        )
        for resource in interpretation.resources:
            batch.add_resource(resource, raw_sha, item.source, single)
            self.lookup.observe(resource)
        batch.already_present.update(interpretation.already_present)
        for rejection in interpretation.rejections:
            batch.add_rejection(rejection, item, raw_sha)
        if not counted:
            self._advance(len(item.content))

    def _advance(self, size: int) -> None:
        self.items_done += 1
        self.bytes_done += size + 1
        if self.progress is not None and self.items_done % 2000 == 0:
            self.progress(self.bytes_done, self.items_done)

    def retry_deferred(self) -> None:
        if not self.deferred:
            return
        self.flush()
        self.writer.drain()
        # Everything read is stored now: identifiers are looked up afresh.
        self.lookup.index.clear()
        waiting, self.deferred = self.deferred, []
        for item, source in waiting:
            self.retried += 1
            self.add_item(item, source, final=True)
            if self.batch_full():
                self.flush()

    def batch_full(self) -> bool:
        return len(self.batch) >= self.batch_size or self.batch.bytes >= MAX_BATCH_BYTES

    def flush(self) -> None:
        if len(self.batch) or self.batch.quarantine_reasons or self.batch.already_present:
            self.batch.seal()
            self.writer.submit(self.batch)
            self.batch = Batch()
        if self.progress is not None:
            self.progress(self.bytes_done, self.items_done)
