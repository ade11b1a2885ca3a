"""The engine contract: every SQL statement Hygie runs goes through an :class:`Engine`.

SQL is written once, in the DuckDB dialect. What differs between engines is declared as data in
:class:`Capabilities`, never as ``if engine == ...`` branches in the stages; other engines receive
the same SQL transpiled by sqlglot (see :func:`transpile`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa
import sqlglot

SOURCE_DIALECT = "duckdb"

Params = Sequence[Any] | Mapping[str, Any] | None
"""Positional (``?``) or named (``$name``) parameters of a statement."""


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do, as data the stages read instead of branching on the engine name."""

    name: str
    sql_dialect: str
    transactions: bool
    """Multi-statement transactions (BEGIN/COMMIT/ROLLBACK)."""
    merge_returning: bool
    """``MERGE INTO ... RETURNING merge_action`` reports which rows were inserted or updated."""
    arrow_scan: bool
    """Arrow tables can be registered and queried by name without copying."""
    enforced_keys: bool
    """PRIMARY KEY / UNIQUE constraints are enforced on insert."""
    single_writer: bool
    """Only one process may write at a time (a file lock guards the warehouse)."""


class Engine(Protocol):
    """A SQL engine over one warehouse."""

    capabilities: Capabilities

    def execute(self, sql: str, params: Params = None) -> None:
        """Run a statement for its effect."""

    def fetchall(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        """Run a query and return all rows as tuples."""

    def fetch_arrow(self, sql: str, params: Params = None) -> pa.Table:
        """Run a query and return the result as an Arrow table."""

    def register_arrow(self, name: str, table: pa.Table) -> None:
        """Make an Arrow table queryable under ``name`` for the following statements."""

    def unregister(self, name: str) -> None:
        """Forget a name made by :meth:`register_arrow`."""

    def cursor(self) -> Engine:
        """Another handle on the same database, for use from another thread."""

    def close(self) -> None:
        """Release the engine's resources."""


def transpile(sql: str, dialect: str) -> list[str]:
    """Translate SQL written in the DuckDB dialect into ``dialect``.

    Raises ``sqlglot.errors.ParseError``/``UnsupportedError`` when a construct has no equivalent,
    which is what the transpile test relies on to keep other engines possible.

    >>> transpile("SELECT list_value(1, 2) AS xs", "spark")
    ['SELECT ARRAY(1, 2) AS xs']
    """
    return sqlglot.transpile(
        sql,
        read=SOURCE_DIALECT,
        write=dialect,
        unsupported_level=sqlglot.ErrorLevel.RAISE,
    )
