"""The nested SELECTs a view compiles to: computed values, then one UNNEST per iteration.

A view whose selects iterate (``forEach``, ``forEachOrNull``, ``repeat``) or stack rows
(``unionAll``) is evaluated as a chain of subqueries over the filtered resources. Each level adds
columns to the rows of the level below it: values computed once per row, or the items of one
collection unnested into one row each. Column expressions therefore run in the plain projection
of the level where their focus becomes available, never inside a list lambda repeated for every
item, and every level reads the resource JSON of its row instead of rebuilding it.

A chain of single-generator SELECTs (``SELECT level.*, unnest(list) AS item``) is also what
Spark accepts (one ``explode`` per SELECT).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hygie.fhir.views.path_sql import LambdaNames, RootFields
from hygie.fhir.views.sql_values import json_member_path

RESOURCE_COLUMN = "view_resource"
"""The column holding the resource JSON at every level of the chain."""

_LEVEL = "view_level"


@dataclass
class _Level:
    """Values computed on the rows of the level below, then at most one collection unnested."""

    values: list[tuple[str, str]] = field(default_factory=list)
    """(column alias, SQL expression) pairs."""
    unnest: tuple[str, str] | None = None
    """(column alias, SQL of a list) whose items each become one row."""


@dataclass
class UnnestPlan:
    """Collects the levels of a view while its selects are compiled."""

    names: LambdaNames
    levels: list[_Level] = field(default_factory=lambda: [_Level()])

    def compute(self, sql: str) -> str:
        """A column of the current level holding ``sql``; returns the SQL that reads it."""
        alias = self.names.fresh("view_value")
        if any(re.search(rf"\b{name}\b", sql) for name, _ in self.levels[-1].values):
            # A SELECT cannot read a column it defines itself: compute it one level up.
            self.levels.append(_Level())
        self.levels[-1].values.append((alias, sql))
        return alias

    def unnest(self, list_sql: str) -> str:
        """One row per item of ``list_sql`` from here on; returns the column of the item."""
        # The list is computed in a projection first, where the engine shares the
        # subexpressions it repeats, then unnested by name.
        collection = self.compute(list_sql)
        alias = self.names.fresh("view_item")
        self.levels[-1].unnest = (alias, collection)
        self.levels.append(_Level())
        return alias

    def query(self, base: str) -> str:
        """The chain of SELECTs over ``base`` (a query with the column ``view_resource``)."""
        query = base
        for level in self.levels:
            if level.values:
                values = ",\n  ".join(f"{sql} AS {alias}" for alias, sql in level.values)
                query = f"SELECT {_LEVEL}.*,\n  {values}\nFROM (\n{query}\n) AS {_LEVEL}"
            if level.unnest is not None:
                alias, list_sql = level.unnest
                query = (
                    f"SELECT {_LEVEL}.*, unnest({list_sql}) AS {alias}\n"
                    f"FROM (\n{query}\n) AS {_LEVEL}"
                )
        return query


def filtered_resources(source: str, filters: str, fields: RootFields) -> str:
    """The query of the resources kept by ``filters``, with the members the view reads.

    The resource JSON is parsed once per row for all of its members (``json_extract`` with a
    list of paths), each member then being a column the paths read.
    """
    query = f"SELECT src.resource AS {RESOURCE_COLUMN}\nFROM {source} AS src\nWHERE {filters}"
    if not fields.names:
        return query
    paths = ", ".join(json_member_path(name) for name in fields.names)
    members = ", ".join(
        f"view_members[{i}] AS {fields.field(name)}" for i, name in enumerate(fields.names, 1)
    )
    return (
        f"SELECT {_LEVEL}.{RESOURCE_COLUMN}, {members}\nFROM (\n"
        f"SELECT src.resource AS {RESOURCE_COLUMN}, "
        f"json_extract(src.resource, [{paths}]) AS view_members\n"
        f"FROM {source} AS src\nWHERE {filters}\n) AS {_LEVEL}"
    )
