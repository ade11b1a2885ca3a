"""What the running server holds: the warehouse open for writing, readers, caches, the audit log.

DuckDB allows one writer process: the server holds ``warehouse.writing()`` for its lifetime,
serializes its own writes with a lock, and reads on per-thread cursors of the same database
(temporary views are per connection, so each cursor makes its own and remakes them after writes).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hygie.api.audit import AuditLog
from hygie.api.serving import ServingStore
from hygie.api.tokens import TokenService
from hygie.api.zones import Zone
from hygie.warehouse.duckdb_engine import DuckDBEngine
from hygie.warehouse.warehouse import Warehouse

READ_CACHE_ENTRIES = 20_000
MAX_BODY_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class CachedResource:
    """A current resource as served: its rendered JSON and who it concerns."""

    version_id: int
    body: bytes
    patients: frozenset[str]


class ReadCache:
    """Current resources by (type, id), least recently used dropped first.

    Exact while the server runs: it is the only writer, and every write drops what it touched.
    """

    def __init__(self, entries: int = READ_CACHE_ENTRIES) -> None:
        self.entries = entries
        self.items: OrderedDict[tuple[str, str], CachedResource] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> CachedResource | None:
        with self.lock:
            found = self.items.get(key)
            if found is not None:
                self.items.move_to_end(key)
            return found

    def put(self, key: tuple[str, str], value: CachedResource, generation: int, now: int) -> None:
        # A value read before a write that finished meanwhile may be stale: keep it out.
        if generation != now:
            return
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.entries:
                self.items.popitem(last=False)

    def drop(self, keys: list[tuple[str, str]]) -> None:
        with self.lock:
            for key in keys:
                self.items.pop(key, None)


class ApiContext:
    """The state shared by the request handlers of one server."""

    def __init__(
        self,
        warehouse: Warehouse,
        engine: DuckDBEngine,
        zone: Zone,
        tokens: TokenService,
        audit: AuditLog,
        base_url: str,
        export_directory: Path,
        max_body_bytes: int = MAX_BODY_BYTES,
        serving: ServingStore | None = None,
    ) -> None:
        self.warehouse = warehouse
        self.engine = engine
        self.zone = zone
        self.tokens = tokens
        self.audit = audit
        self.base_url = base_url.rstrip("/")
        self.root = warehouse.path.resolve()
        self.export_directory = export_directory
        self.max_body_bytes = max_body_bytes
        self.serving = serving
        """Current resources by (type, id) for reads by id (None: read from the engine)."""
        self.write_lock = threading.Lock()
        self.generation = 0
        self.cache = ReadCache()
        self.local = threading.local()
        self.exports: Any = None
        """The bulk export jobs (set by the app factory)."""

    def reader(self) -> DuckDBEngine:
        """This thread's cursor, its views remade if a write happened since it last read."""
        cursor: DuckDBEngine | None = getattr(self.local, "cursor", None)
        if cursor is None:
            cursor = self.engine.cursor()
            cursor.execute("SET TimeZone = 'UTC'")
            self.local.cursor = cursor
            self.local.generation = -1
        if self.local.generation != self.generation:
            self.local.generation = self.generation
            self.warehouse.attach_views(cursor)
        return cursor

    def written(self, touched: list[tuple[str, str]]) -> None:
        """After a write: readers remake their views, the cache forgets what changed."""
        self.generation += 1
        self.cache.drop(touched)
