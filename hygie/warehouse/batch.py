"""One ingestion batch: the columns of raw items, resources, references and quarantine entries.

Filled item by item on the reading thread, turned into Arrow tables without copying the bytes
(:class:`BinaryColumn`), and stored in one transaction by :class:`~hygie.warehouse.store.BatchWriter`.
"""

from __future__ import annotations

import array
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from hygie.sources.base import RawItem, ReadFailure, Rejection, ResourceOut

DELETED_SHA = "deleted"
"""The content hash of a delete (a version without JSON)."""

RAW_COLUMNS = ("seq", "sha256", "source", "line_no", "byte_offset", "format", "size_bytes")
RAW_TYPES = (pa.int64(), pa.string(), pa.string(), pa.int64(), pa.int64(), pa.string(), pa.int64())
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
        self.references: dict[str, list[str]] = {name: [] for name in REFERENCE_COLUMNS}

    def __len__(self) -> int:
        return self.items

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
            references = self.references
            for target_type, target_id in LITERAL_REFERENCE_JSON.findall(resource.json):
                references["resource_type"].append(resource.resource_type)
                references["id"].append(resource.id)
                references["target_type"].append(target_type.decode())
                references["target_id"].append(target_id.decode())

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

    def reference_table(self) -> pa.Table:
        return pa.table(
            {name: pa.array(self.references[name], pa.string()) for name in REFERENCE_COLUMNS}
        )

    def quarantine_table(self) -> pa.Table:
        return pa.table(self.quarantine, schema=QUARANTINE_SCHEMA)
