"""One ingestion batch: the columns of raw items, resources, references and quarantine entries.

Filled item by item on the reading thread, turned into Arrow tables without copying the bytes
(:class:`BinaryColumn`), and stored in one transaction by :class:`~hygie.warehouse.store.BatchWriter`.
"""

from __future__ import annotations

import array
import hashlib
import itertools
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from hygie.sources.base import RawItem, ReadFailure, Rejection, ResourceOut

if TYPE_CHECKING:
    from hygie.warehouse.plain_lines import CheckedBlock

DELETED_SHA = b"deleted"
"""The content hash of a delete (a version without JSON; never the 32 bytes of a sha256)."""

RAW_COLUMNS = (
    "seq", "sha256", "source", "line_no", "byte_offset", "format", "size_bytes", "verbatim",
)  # fmt: skip
RAW_TYPES = (
    pa.int64(), pa.binary(), pa.string(), pa.int64(), pa.int64(), pa.string(), pa.int64(),
    pa.bool_(),
)  # fmt: skip
"""``verbatim``: the item is exactly one resource's JSON, so its bytes are stored once, in the
care file of the batch, unless that resource turns out unchanged (see store.py)."""
REFERENCE_COLUMNS = ("resource_type", "id", "target_type", "target_id")
LITERAL_REFERENCE_JSON = re.compile(rb'"reference"\s*:\s*"([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})"')
"""Literal ``Type/id`` references in a resource's JSON, gathered to find dangling ones."""
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
    pa.binary(),
    pa.string(),
    pa.string(),
    pa.string(),
    pa.binary(),
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
        ("raw_sha256", pa.binary()),
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
    """Bytes values gathered in a list, joined into one Arrow array when the batch is sealed."""

    def __init__(self) -> None:
        self.values: list[bytes] = []

    def append(self, value: bytes) -> None:
        self.values.append(value)

    def __len__(self) -> int:
        return len(self.values)

    def to_arrow(self) -> pa.Array:
        return binary_array(self.values)


def binary_array(values: list[bytes]) -> pa.Array:
    """``values`` as an Arrow large_binary array: one join and one offsets buffer, in C."""
    offsets = array.array("q", [0])
    offsets.extend(itertools.accumulate(map(len, values)))
    return pa.Array.from_buffers(
        pa.large_binary(),
        len(values),
        [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(values))],
    )


def is_identity(indices: pa.Array | pa.ChunkedArray, count: int) -> bool:
    """True when ``indices`` are 0, 1, ..., count - 1 (taking them would change nothing)."""
    return len(indices) == count and (
        count == 0 or pc.all(pc.equal(indices, pa.array(range(count), pa.int64()))).as_py()
    )


@dataclass(frozen=True)
class SealedBatch:
    """A batch as Arrow tables, ready for the writer."""

    raw: pa.Table
    resources: pa.Table
    """With a ``row_index`` column: the position of each resource in the batch."""
    quarantine: pa.Table
    references: pa.Table


class Batch:
    """Columns of one ingestion transaction, filled item by item.

    Rows are kept as tuples (one append per row) and turned into columns when the batch is
    handed to the writer; the bytes go to :class:`BinaryColumn` buffers.
    """

    def __init__(self) -> None:
        self.raw_rows: list[tuple[Any, ...]] = []
        """(seq, sha256, source, line_no, byte_offset, format, size_bytes) per new raw item."""
        self.raw_content = BinaryColumn()
        self.resource_rows: list[tuple[Any, ...]] = []
        """RESOURCE_COLUMNS per resource."""
        self.resource_json = BinaryColumn()
        self.quarantine: dict[str, list[Any]] = {name: [] for name in QUARANTINE_SCHEMA.names}
        self.raw_seen: set[bytes] = set()
        self.items = 0
        self.bytes = 0
        self.quarantine_reasons: Counter[str] = Counter()
        self.already_present: Counter[str] = Counter()
        """Resources found already stored (``ifNoneExist``): counted as read and unchanged."""
        self.seq = 0
        """Order of the items in the batch (several versions of a resource are kept in order)."""
        self.reference_rows: list[tuple[str, str, bytes, bytes]] = []
        """REFERENCE_COLUMNS per literal reference of the batch's resources."""
        self.sealed: SealedBatch | None = None
        self.plain_parts: list[tuple[pa.Table, pa.Table, pa.Table]] = []
        """(raw, resources, references) of plain NDJSON lines, added block by block."""

    def __len__(self) -> int:
        return self.items

    def seal(self) -> SealedBatch:
        """The batch as Arrow tables (built once; the rows are then dropped).

        Called on the reading thread when the batch is full, so the writer thread only stores.
        """
        if self.sealed is None:
            parts = self.plain_parts
            raw = pa.concat_tables([self.raw_table(), *(p[0] for p in parts)])
            resources = pa.concat_tables([self.resource_table(), *(p[1] for p in parts)])
            references = pa.concat_tables([self.reference_table(), *(p[2] for p in parts)])
            resources = resources.append_column(
                "row_index", pa.array(range(resources.num_rows), pa.int64())
            )
            self.sealed = SealedBatch(raw, resources, self.quarantine_table(), references)
            self.raw_rows, self.resource_rows, self.reference_rows = [], [], []
            self.raw_content, self.resource_json = BinaryColumn(), BinaryColumn()
            self.plain_parts = []
        return self.sealed

    def add_plain(self, checked: CheckedBlock) -> None:
        """Add the plain lines of a checked block (one resource each, stored byte for byte).

        Their order numbers are the block's: the caller adds the other lines of the block
        afterwards, each at its own position (``self.seq`` set before it).
        """
        plain = checked.plain
        count = plain.num_rows
        if count == 0:
            return
        seq = pc.add(plain.column("position"), self.seq + 1)
        digests = plain.column("sha256")
        seen = self.raw_seen
        fresh: list[int] = []
        for position, digest in enumerate(digests.to_pylist()):
            if digest not in seen:
                seen.add(digest)
                fresh.append(position)
        sizes = pc.binary_length(plain.column("content")).cast(pa.int64())
        self.items += count
        self.bytes += pc.sum(sizes).as_py()
        source = pa.array([checked.source] * count, pa.string())
        raw = pa.Table.from_arrays(
            [
                seq, digests, source, plain.column("line_no"), plain.column("byte_offset"),
                pa.array([checked.format] * count, pa.string()), sizes,
                pa.array([True] * count, pa.bool_()), pa.nulls(count, pa.large_binary()),
            ],
            names=[*RAW_COLUMNS, "content"],
        )  # fmt: skip
        if len(fresh) < count:
            raw = raw.take(pa.array(fresh, pa.int64()))
        resources = pa.Table.from_arrays(
            [
                seq, digests, source, plain.column("resource_type"), plain.column("id"), digests,
                pa.array([False] * count, pa.bool_()), plain.column("content"),
            ],
            names=[*RESOURCE_COLUMNS, "resource"],
        )  # fmt: skip
        self.plain_parts.append((raw, resources, checked.references))

    def resources_of(self, resource_type: str) -> Iterator[tuple[str, bytes]]:
        """(id, JSON) of the resources of ``resource_type`` this batch holds (not deletes)."""
        type_at, id_at, deleted_at = (RESOURCE_COLUMNS.index(name)
                                      for name in ("resource_type", "id", "deleted"))  # fmt: skip
        for row, content in zip(self.resource_rows, self.resource_json.values, strict=True):
            if row[type_at] == resource_type and not row[deleted_at]:
                yield row[id_at], content
        for _raw, resources, _references in self.plain_parts:
            kept = resources.filter(pc.equal(resources.column("resource_type"), resource_type))
            for resource_id, text in zip(
                kept.column("id").to_pylist(), kept.column("resource").to_pylist(), strict=True
            ):
                yield resource_id, text.encode()

    def add_raw(self, item: RawItem, *, verbatim: bool = False) -> bytes:
        """Record an item as received; return its sha256 (the raw key, 32 bytes)."""
        content = item.content
        sha = hashlib.sha256(content).digest()
        self.seq += 1
        self.items += 1
        self.bytes += len(content)
        if sha not in self.raw_seen:
            self.raw_seen.add(sha)
            self.raw_rows.append(
                (self.seq, sha, item.source, item.line_no, item.byte_offset, item.format,
                 len(content), verbatim)
            )  # fmt: skip
            # A verbatim item's bytes travel once, as the resource's JSON.
            self.raw_content.append(b"" if verbatim else content)
        return sha

    def add_resource(
        self, resource: ResourceOut, raw_sha: bytes, source: str, single: bool
    ) -> None:
        """Queue a resource; ``single`` means the item is exactly this resource's JSON."""
        if resource.json is None:
            self.resource_rows.append(
                (self.seq, raw_sha, source, resource.resource_type, resource.id, DELETED_SHA, True)
            )
            self.resource_json.append(b"")
            return
        content_sha = raw_sha if single else hashlib.sha256(resource.json).digest()
        self._add_json(resource.resource_type, resource.id, resource.json, raw_sha, content_sha,
                       source)  # fmt: skip

    def _add_json(
        self,
        resource_type: str,
        resource_id: str,
        content: bytes,
        raw_sha: bytes,
        content_sha: bytes,
        source: str,
    ) -> None:
        self.resource_rows.append(
            (self.seq, raw_sha, source, resource_type, resource_id, content_sha, False)
        )
        self.resource_json.append(content)
        for target_type, target_id in LITERAL_REFERENCE_JSON.findall(content):
            self.reference_rows.append((resource_type, resource_id, target_type, target_id))

    def add_rejection(self, rejection: Rejection, item: RawItem, raw_sha: bytes) -> None:
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
        raw_sha: bytes | None,
    ) -> None:
        key_parts = (raw_sha.hex() if raw_sha else f"{source}@{byte_offset}", str(entry_index),
                     reason)  # fmt: skip
        key = hashlib.sha256("\x1f".join(key_parts).encode()).hexdigest()
        values = (
            key, source, line_no, byte_offset, entry_index, resource_type, resource_id,
            reason, message, raw_sha,
        )  # fmt: skip
        for name, value in zip(QUARANTINE_SCHEMA.names, values, strict=True):
            self.quarantine[name].append(value)
        self.quarantine_reasons[reason] += 1

    def raw_table(self) -> pa.Table:
        return pa.Table.from_arrays(
            [*_columns(self.raw_rows, RAW_TYPES), self.raw_content.to_arrow()],
            names=[*RAW_COLUMNS, "content"],
        )

    def resource_table(self) -> pa.Table:
        # JSON travels as UTF-8 text; the cast checks it without a Python-level decode.
        text = self.resource_json.to_arrow().cast(pa.large_string())
        return pa.Table.from_arrays(
            [*_columns(self.resource_rows, RESOURCE_TYPES), text],
            names=[*RESOURCE_COLUMNS, "resource"],
        )

    def reference_table(self) -> pa.Table:
        return reference_table(self.reference_rows)

    def quarantine_table(self) -> pa.Table:
        return pa.table(self.quarantine, schema=QUARANTINE_SCHEMA)


def reference_table(rows: list[tuple[str, str, bytes, bytes]]) -> pa.Table:
    """REFERENCE_COLUMNS of ``rows`` (targets matched in the bytes; one cast makes them text)."""
    columns = _columns(rows, (pa.string(), pa.string(), pa.binary(), pa.binary()))
    return pa.Table.from_arrays(
        [*columns[:2], *(c.cast(pa.string()) for c in columns[2:])],
        names=list(REFERENCE_COLUMNS),
    )


def _columns(rows: list[tuple[Any, ...]], types: tuple[pa.DataType, ...]) -> list[pa.Array]:
    """Arrow columns of row tuples (transposed in C by ``zip``)."""
    if not rows:
        return [pa.array([], t) for t in types]
    return [pa.array(values, t) for values, t in zip(zip(*rows, strict=True), types, strict=True)]
