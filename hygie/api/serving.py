"""The serving store: the current version of every resource, rendered as the API serves it.

A SQLite file beside the warehouse database (``api/serving-<zone>.sqlite``), keyed by
(resource_type, id). A read by id is then one point lookup (tens of microseconds) instead of a
key lookup plus a Parquet file read in the engine (milliseconds).

The store is derived and rebuildable: it follows the locator (``api_locator``, see
reference_index.py), which says which version of each resource is current. When the server
starts it catches up set-based with what `hygie ingest` wrote meanwhile (new and changed
versions rendered from their care files, deleted resources removed); after each API write it
does the same for the resources the write touched. The server is the only writer while it runs,
so the store stays exact; deleting the file only costs a rebuild at the next start.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pyarrow as pa

from hygie.warehouse.engine import Engine
from hygie.warehouse.sql import load_statements

QUERIES = load_statements("hygie.api", "serving.sql")
RENDERED = (
    "json_merge_patch(resource, json_object('meta', json_object("
    "'versionId', CAST(version_id AS VARCHAR), "
    "'lastUpdated', strftime(timezone('UTC', last_updated), '%Y-%m-%dT%H:%M:%S.%gZ'))))"
)
"""The stored JSON with meta.versionId and meta.lastUpdated, as served."""
RENDER_MISSING = (
    f"SELECT resource_type, id, version_id, CAST({RENDERED} AS VARCHAR) AS body "
    f"FROM ({QUERIES['located_missing'].rstrip().rstrip(';')})"
)
FILES_PER_STEP = 8
"""Care files rendered per query while catching up (each holds at most a batch of versions)."""
SCHEMA = """
CREATE TABLE IF NOT EXISTS current_resource (
    resource_type TEXT NOT NULL,
    id TEXT NOT NULL,
    version_id INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (resource_type, id)
) WITHOUT ROWID
"""


def serving_path(warehouse_path: Path, zone: str) -> Path:
    """Where the serving store of ``zone`` lives in a warehouse."""
    return warehouse_path / "api" / f"serving-{zone}.sqlite"


class ServingStore:
    """Current resources by (type, id): one writer (the server), readers on every thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        # WAL: readers on other threads see the last committed state while the writer works.
        self.writer.execute("PRAGMA journal_mode = WAL")
        self.writer.execute("PRAGMA synchronous = NORMAL")
        self.writer.execute(SCHEMA)
        self.write_lock = threading.Lock()
        self.local = threading.local()
        self.last_catch_up: tuple[int, float] = (0, 0.0)
        """(rows written, seconds) of the last full catch-up."""

    def get(self, resource_type: str, resource_id: str) -> tuple[int, bytes] | None:
        """(version_id, rendered JSON) of the current version, or None."""
        reader: sqlite3.Connection | None = getattr(self.local, "reader", None)
        if reader is None:
            reader = sqlite3.connect(self.path, check_same_thread=False)
            reader.execute("PRAGMA query_only = ON")
            self.local.reader = reader
        row = reader.execute(
            "SELECT version_id, body FROM current_resource WHERE resource_type = ? AND id = ?",
            (resource_type, resource_id),
        ).fetchone()
        return (int(row[0]), bytes(row[1])) if row is not None else None

    def catch_up(self, engine: Engine, root: Path, ids: list[str] | None = None) -> int:
        """Make the store hold the locator's current versions (all, or those of ``ids``).

        Returns the number of resources (re)written. Versions are rendered from their care
        files a few files per query, so memory stays bounded whatever the warehouse size.
        """
        started = time.monotonic()
        params = {"ids": ids}
        current = engine.fetch_arrow(QUERIES["current_versions"], params)
        wanted = dict(
            zip(
                zip(
                    current.column("resource_type").to_pylist(),
                    current.column("id").to_pylist(),
                    strict=True,
                ),
                current.column("version_id").to_pylist(),
                strict=True,
            )
        )
        held = self._held(ids)
        gone = [key for key in held if key not in wanted]
        missing = [key for key, version in wanted.items() if held.get(key) != version]
        written = 0
        with self.write_lock:
            self.writer.execute("BEGIN")
            try:
                self.writer.executemany(
                    "DELETE FROM current_resource WHERE resource_type = ? AND id = ?", gone
                )
                if missing:
                    written = self._render(engine, root, missing)
                self.writer.execute("COMMIT")
            except BaseException:
                self.writer.execute("ROLLBACK")
                raise
        if ids is None:
            self.last_catch_up = (written, time.monotonic() - started)
        return written

    def close(self) -> None:
        self.writer.close()

    def _held(self, ids: list[str] | None) -> dict[tuple[str, str], int]:
        if ids is None:
            rows = self.writer.execute(
                "SELECT resource_type, id, version_id FROM current_resource"
            ).fetchall()
        else:
            rows = []
            for resource_id in ids:
                rows += self.writer.execute(
                    "SELECT resource_type, id, version_id FROM current_resource WHERE id = ?",
                    (resource_id,),
                ).fetchall()
        return {(t, i): v for t, i, v in rows}

    def _render(self, engine: Engine, root: Path, missing: list[tuple[str, str]]) -> int:
        keys = pa.table({"resource_type": [k[0] for k in missing], "id": [k[1] for k in missing]})
        engine.register_arrow("serving_missing", keys)
        try:
            files = [row[0] for row in engine.fetchall(QUERIES["files_of_missing"])]
            written = 0
            for start in range(0, len(files), FILES_PER_STEP):
                step = [str(root / f) for f in files[start : start + FILES_PER_STEP]]
                rendered = engine.fetch_arrow(RENDER_MISSING, {"files": step})
                self.writer.executemany(
                    "INSERT OR REPLACE INTO current_resource VALUES (?, ?, ?, ?)",
                    zip(
                        rendered.column("resource_type").to_pylist(),
                        rendered.column("id").to_pylist(),
                        rendered.column("version_id").to_pylist(),
                        (text.encode() for text in rendered.column("body").to_pylist()),
                        strict=True,
                    ),
                )
                written += rendered.num_rows
            return written
        finally:
            engine.unregister("serving_missing")
