"""The warehouse directory: a DuckDB database, its lock, and its schema.

Layout of a warehouse directory::

    hygie-warehouse/
        hygie.duckdb     catalogs and keys: raw_input, resource_head, resource_version, runs,
                         quarantine (one DuckDB database)
        raw/RUN/N.parquet   bytes of the raw items as received (immutable files)
        care/RUN/N.parquet  JSON of each resource version (immutable files)
        .hygie.lock      held by the one process that writes (ingest, init, sql --write)

The ``resource``, ``resource_history`` and ``raw`` views join the catalogs with the files.

Only one process writes at a time: a second writer waits up to ``lock_timeout`` seconds, then
fails with :class:`~hygie.errors.WarehouseBusyError`. Readers open the database read-only.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import hygie
from hygie.config import Settings
from hygie.errors import WarehouseBusyError, WarehouseError
from hygie.warehouse.duckdb_engine import DuckDBEngine
from hygie.warehouse.engine import Engine
from hygie.warehouse.sql import load_statements

DATABASE_FILE = "hygie.duckdb"
LOCK_FILE = ".hygie.lock"
SCHEMA_VERSION = "2"
CHECKPOINT_THRESHOLD = "256MB"
"""Write-ahead log size at which the engine folds it into the database file."""
RUN_CHECKPOINT_THRESHOLD = "1GB"
"""The same during an ingestion run (about two million resources of log)."""
PARQUET_VIEWS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "resource_content",
        "care",
        (("resource_type", "VARCHAR"), ("id", "VARCHAR"), ("version_id", "INTEGER"),
         ("resource", "JSON"), ("raw_sha256", "BLOB")),
    ),
    ("raw_bytes", "raw", (("sha256", "BLOB"), ("content", "BLOB"))),
)  # fmt: skip
"""Views over the immutable Parquet files: (view, directory under the warehouse, columns)."""


@dataclass(frozen=True)
class TableInfo:
    """A table or view of the warehouse and its row count."""

    schema: str
    name: str
    kind: str
    rows: int


class Warehouse:
    """A warehouse directory and how to open it for reading or writing."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path = settings.warehouse

    @property
    def database_path(self) -> Path:
        return self.path / DATABASE_FILE

    def exists(self) -> bool:
        return self.database_path.is_file()

    @contextmanager
    def writing(self, *, create: bool = True) -> Iterator[DuckDBEngine]:
        """Hold the writer lock and open the database read-write (creating it if asked)."""
        if not self.exists() and not create:
            raise WarehouseError(self._missing_message())
        self.path.mkdir(parents=True, exist_ok=True)
        with self._writer_lock():
            engine = DuckDBEngine(
                self.database_path,
                memory_limit=self.settings.memory_limit,
                threads=self.settings.threads or None,
            )
            # Batches commit to the write-ahead log; folding it into the database file (a
            # checkpoint) every 16 MB, the default, made checkpoints dominate long runs.
            engine.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
            try:
                self._ensure_schema(engine)
                self.attach_views(engine)
                yield engine
            finally:
                engine.close()

    @contextmanager
    def reading(self) -> Iterator[DuckDBEngine]:
        """Open the database read-only."""
        if not self.exists():
            raise WarehouseError(self._missing_message())
        engine = DuckDBEngine(
            self.database_path,
            read_only=True,
            memory_limit=self.settings.memory_limit,
            threads=self.settings.threads or None,
        )
        try:
            self.attach_views(engine)
            yield engine
        finally:
            engine.close()

    def attach_views(self, engine: Engine) -> None:
        """(Re)make the connection's views over the Parquet files of the warehouse.

        Call it again on a connection after a run has written the first files of a kind.
        """
        for statement in self.view_statements():
            engine.execute(statement)

    def kinds_with_files(self) -> frozenset[str]:
        """The Parquet views (``resource_content``, ``raw_bytes``) that have files to read.

        Once every kind has files, the views read them by pattern and see new files by
        themselves; before that, a view is a typed placeholder to remake when files appear.
        """
        root = self.path.resolve()
        return frozenset(
            view
            for view, directory, _ in PARQUET_VIEWS
            if any((root / directory).glob("*/*.parquet"))
        )

    def view_statements(self) -> list[str]:
        """The statements :meth:`attach_views` runs, for this warehouse's location and files."""
        root = self.path.resolve()
        statements = []
        present = self.kinds_with_files()
        for view, directory, columns in PARQUET_VIEWS:
            if view in present:
                # Each file holds its own relative name in a `file` column (see store.py).
                pattern = str(root / directory / "*" / "*.parquet").replace("'", "''")
                statements.append(
                    f"CREATE OR REPLACE TEMPORARY VIEW {view} AS "
                    f"SELECT {', '.join(name for name, _ in columns)}, file "
                    f"FROM read_parquet('{pattern}')"
                )
            else:
                typed = ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in columns)
                statements.append(
                    f"CREATE OR REPLACE TEMPORARY VIEW {view} AS "
                    f"SELECT {typed}, CAST(NULL AS VARCHAR) AS file WHERE false"
                )
        statements.extend(load_statements("hygie.warehouse", "views.sql").values())
        return statements

    def tables(self, engine: DuckDBEngine) -> list[TableInfo]:
        """Tables and views of the warehouse with their row counts."""
        listed = engine.fetchall(
            "SELECT schema_name, table_name, 'table' FROM duckdb_tables() "
            "WHERE NOT temporary "
            "UNION ALL SELECT schema_name, view_name, 'view' FROM duckdb_views() "
            "WHERE NOT internal AND view_name NOT IN ('resource_content', 'raw_bytes') "
            "ORDER BY 1, 3, 2"
        )
        infos = []
        for schema, name, kind in listed:
            rows = engine.fetchall(f'SELECT COUNT(*) FROM "{schema}"."{name}"')[0][0]
            infos.append(TableInfo(schema, name, kind, int(rows)))
        return infos

    def size_bytes(self) -> int:
        """Bytes used by the warehouse directory on disk."""
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())

    def _ensure_schema(self, engine: DuckDBEngine) -> None:
        for statement in load_statements("hygie.warehouse", "schema.sql").values():
            engine.execute(statement)
        engine.execute(
            "INSERT INTO hygie_meta VALUES ('schema_version', ?), ('created_by', ?), "
            "('created_at', ?) ON CONFLICT DO NOTHING",
            [SCHEMA_VERSION, f"hygie {hygie.__version__}", datetime.now(UTC).isoformat()],
        )
        found = engine.fetchall("SELECT value FROM hygie_meta WHERE key = 'schema_version'")
        if found[0][0] != SCHEMA_VERSION:
            raise WarehouseError(
                f"{self.path} has schema version {found[0][0]}, this Hygie expects "
                f"{SCHEMA_VERSION}: upgrade Hygie or use another warehouse"
            )

    @contextmanager
    def _writer_lock(self) -> Iterator[None]:
        lock_path = self.path / LOCK_FILE
        handle: IO[str] = lock_path.open("a+", encoding="utf-8")
        try:
            deadline = time.monotonic() + max(self.settings.lock_timeout, 0.0)
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError as exc:
                    if time.monotonic() >= deadline:
                        handle.seek(0)
                        holder = handle.read().strip() or "another process"
                        raise WarehouseBusyError(
                            f"the warehouse {self.path} is being written by {holder}; "
                            f"waited {self.settings.lock_timeout:g} s. Try again when it "
                            "finishes, or raise lock_timeout (HYGIE_LOCK_TIMEOUT)"
                        ) from exc
                    time.sleep(0.1)
            handle.seek(0)
            handle.truncate()
            handle.write(
                f"pid {os.getpid()} since {datetime.now(UTC).isoformat(timespec='seconds')}"
            )
            handle.flush()
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()

    def _missing_message(self) -> str:
        return (
            f"no warehouse at {self.path}: create one with `hygie init` (or `hygie ingest`), "
            "or point to yours with --warehouse / HYGIE_WAREHOUSE"
        )


def describe(value: Any) -> str:
    """A short human form of a number of bytes."""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"
