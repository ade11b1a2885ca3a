"""The embedded default engine: one DuckDB database file inside the warehouse directory."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from hygie.errors import QueryError, WarehouseBusyError, WarehouseError
from hygie.warehouse.engine import Capabilities, Params

DUCKDB_CAPABILITIES = Capabilities(
    name="duckdb",
    sql_dialect="duckdb",
    transactions=True,
    merge_returning=True,
    arrow_scan=True,
    enforced_keys=True,
    single_writer=True,
)


class DuckDBEngine:
    """Runs SQL on a DuckDB database file (or in memory when ``path`` is None)."""

    capabilities = DUCKDB_CAPABILITIES

    def __init__(
        self,
        path: Path | None,
        *,
        read_only: bool = False,
        memory_limit: str | None = None,
        threads: int | None = None,
    ) -> None:
        config: dict[str, Any] = {}
        if memory_limit:
            config["memory_limit"] = memory_limit
        if threads:
            config["threads"] = threads
        self.path = path
        database = ":memory:" if path is None else str(path)
        try:
            self.connection = duckdb.connect(database, read_only=read_only, config=config)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise WarehouseBusyError(
                    f"the warehouse database {path} is in use by another process; "
                    "wait for it to finish (see `hygie runs`) and try again"
                ) from exc
            raise WarehouseError(f"cannot open the warehouse database {path}: {exc}") from exc

    def execute(self, sql: str, params: Params = None) -> None:
        self._run(sql, params)

    def fetchall(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        cursor = self._run(sql, params)
        try:
            return cursor.fetchall()
        except duckdb.Error as exc:
            raise QueryError(f"{type(exc).__name__}: {exc}") from exc

    def fetch_arrow(self, sql: str, params: Params = None) -> pa.Table:
        try:
            relation = self.connection.sql(
                sql, params=dict(params) if isinstance(params, Mapping) else params
            )
        except duckdb.Error as exc:
            raise QueryError(f"{type(exc).__name__}: {exc}") from exc
        if relation is None:
            return pa.table({})
        try:
            table: pa.Table = relation.to_arrow_table()
        except duckdb.Error as exc:
            raise QueryError(f"{type(exc).__name__}: {exc}") from exc
        return table

    def register_arrow(self, name: str, table: pa.Table) -> None:
        self.connection.register(name, table)

    def unregister(self, name: str) -> None:
        self.connection.unregister(name)

    def cursor(self) -> DuckDBEngine:
        twin = object.__new__(DuckDBEngine)
        twin.path = self.path
        twin.connection = self.connection.cursor()
        return twin

    def close(self) -> None:
        self.connection.close()

    def _run(self, sql: str, params: Params) -> duckdb.DuckDBPyConnection:
        try:
            if params is None:
                return self.connection.execute(sql)
            if isinstance(params, Mapping):
                return self.connection.execute(sql, dict(params))
            return self.connection.execute(sql, list(params))
        except duckdb.Error as exc:
            raise QueryError(f"{type(exc).__name__}: {exc}") from exc
