"""Compile a ViewDefinition into one SQL SELECT over the resource relation.

Each ``select`` becomes a SQL expression per resource: either one row (a list of column
expressions) or a list of row structs, built with DuckDB list functions; iterations
(``forEach``, ``forEachOrNull``, ``repeat``) are ``list_transform`` over the iterated collection,
nested selects are cross products and ``unionAll`` is list concatenation. The top level unnests
the row list once, so the engine evaluates the whole view in a single set-based statement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hygie.fhir.views.definition import Column, Select, ViewDefinition, read_view
from hygie.fhir.views.path_parser import parse_path
from hygie.fhir.views.path_sql import LambdaNames, PathContext, to_boolean, translate
from hygie.fhir.views.sql_values import (
    FHIR_PRIMITIVE_FAMILY,
    SCALAR_SQL_TYPES,
    Value,
    json_to_family,
    quote,
    scalar,
    to_many,
)
from hygie.fhir.views.view_errors import ViewDefinitionError

REPEAT_DEPTH = 7
"""How deep ``repeat`` follows its paths; deeper data raises an error rather than being cut.

Each level nests the SQL one step deeper; sqlglot (used to transpile to other engines) parses
recursively, which bounds the depth a portable statement can have."""

_OUTPUT_SQL_TYPES = {"integer": "INTEGER", "integer64": "BIGINT"}


@dataclass(frozen=True)
class ViewColumn:
    """An output column of a compiled view."""

    name: str
    fhir_type: str | None
    sql_type: str
    collection: bool


@dataclass(frozen=True)
class CompiledView:
    """A ViewDefinition compiled to SQL for one source relation."""

    name: str | None
    resource: str
    sql: str
    columns: tuple[ViewColumn, ...]


@dataclass(frozen=True)
class _Rows:
    """The rows a select yields for one focus: one row of expressions, or a list of structs."""

    columns: tuple[ViewColumn, ...]
    row: tuple[str, ...] | None
    """Column expressions when the select always yields exactly one row."""
    rows: str | None = None
    """Otherwise the SQL of a ``STRUCT(...)[]`` list."""

    def as_list(self) -> str:
        if self.rows is not None:
            return self.rows
        return f"[{_struct(self.columns, self.row or ())}]"


def quote_identifier(name: str) -> str:
    """A SQL identifier, double-quoted."""
    return '"' + name.replace('"', '""') + '"'


def _struct(columns: Sequence[ViewColumn], expressions: Sequence[str]) -> str:
    fields = ", ".join(
        f"{quote_identifier(c.name)} := {e}" for c, e in zip(columns, expressions, strict=True)
    )
    return f"struct_pack({fields})"


def compile_view(view: Mapping[str, Any], source: str = "resource") -> CompiledView:
    """Compile a ViewDefinition (parsed JSON) into one SELECT over ``source``.

    ``source`` is a relation with the columns ``resource_type`` and ``resource`` (JSON), such as
    the care zone's ``resource`` table. Raises :class:`ViewDefinitionError` when the view is
    invalid.

    >>> view = {"resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}]}]}
    >>> compile_view(view).columns[0].name
    'id'
    """
    definition = read_view(view)
    context = PathContext(
        focus="src.resource",
        root="src.resource",
        resource_type=definition.resource,
        constants=_constants(definition),
        names=LambdaNames(),
    )
    rows = _product([_compile_select(s, context) for s in definition.selects])
    _check_unique(rows.columns)
    filters = [f"src.resource_type = {quote(definition.resource)}"]
    for i, path in enumerate(definition.where):
        value = _translate(path, context, f"where[{i}].path")
        filters.append(to_boolean(value, where=f"where[{i}].path ({path})"))
    where_clause = "\n  AND ".join(f"({f})" for f in filters)
    if rows.row is not None:
        projections = [
            f"{e} AS {quote_identifier(c.name)}"
            for c, e in zip(rows.columns, rows.row, strict=True)
        ]
        sql = f"SELECT {', '.join(projections)}\nFROM {source} AS src\nWHERE {where_clause}"
    else:
        # Unnest in the select list of an inner query: the row lists are built only for the
        # resources the filters keep, and no lateral join is needed.
        projections = [
            f"view_row.{quote_identifier(c.name)} AS {quote_identifier(c.name)}"
            for c in rows.columns
        ]
        sql = (
            f"SELECT {', '.join(projections)}\nFROM (\n  SELECT unnest({rows.rows}) AS view_row"
            f"\n  FROM {source} AS src\n  WHERE {where_clause}\n) AS view_rows"
        )
    return CompiledView(definition.name, definition.resource, sql, rows.columns)


def _constants(definition: ViewDefinition) -> dict[str, Value]:
    constants: dict[str, Value] = {}
    for constant in definition.constants:
        if constant.family == "string":
            sql = quote(str(constant.value))
        elif constant.family == "boolean":
            sql = "true" if constant.value else "false"
        elif constant.family == "decimal":
            sql = f"CAST({constant.value!r} AS DOUBLE)"
        else:
            sql = str(int(constant.value))
        constants[constant.name] = scalar(sql, constant.family, constant.fhir_type)
    return constants


def _translate(path: str, context: PathContext, where: str) -> Value:
    try:
        return translate(parse_path(path), context)
    except ViewDefinitionError as error:
        raise ViewDefinitionError(f"{where}: {error}") from error


def _check_unique(columns: Sequence[ViewColumn]) -> None:
    seen: set[str] = set()
    for column in columns:
        if column.name in seen:
            raise ViewDefinitionError(f"column name {column.name!r} is used twice in the view")
        seen.add(column.name)


def _compile_select(select: Select, context: PathContext) -> _Rows:
    if select.for_each is None and not select.repeat:
        # A select that does not iterate keeps the %rowIndex of the nearest iteration around it.
        return _compile_body(select, context)
    if select.repeat:
        collection = _repeat(select, context)
    else:
        collection = to_many(_translate(select.for_each or "", context, f"{select.where}.forEach"))
        if select.or_null:
            collection = (
                f"CASE WHEN len({collection}) = 0 THEN [CAST(NULL AS JSON)] ELSE {collection} END"
            )
    item, position = context.names.fresh("item"), context.names.fresh("position")
    inner = PathContext(
        focus=item,
        root=context.root,
        resource_type=context.resource_type,
        row_index=f"({position} - 1)",
        constants=context.constants,
        names=context.names,
    )
    body = _compile_body(select, inner)
    if body.row is not None:
        element = _struct(body.columns, body.row)
        rows = f"list_transform({collection}, lambda {item}, {position}: {element})"
    else:
        rows = f"flatten(list_transform({collection}, lambda {item}, {position}: {body.rows}))"
    return _Rows(body.columns, None, rows)


def _repeat(select: Select, context: PathContext) -> str:
    """The items reached by following the repeat paths recursively, in depth-first order."""

    def children(focus: str) -> str:
        lists = [
            to_many(_translate(p, context.with_focus(focus), f"{select.where}.repeat[{i}]"))
            for i, p in enumerate(select.repeat)
        ]
        return lists[0] if len(lists) == 1 else f"flatten([{', '.join(lists)}])"

    def subtree(focus: str, depth: int) -> str:
        if depth == 0:
            too_deep = quote(f"{select.where}.repeat: data nested deeper than {REPEAT_DEPTH}")
            return f"CASE WHEN len({children(focus)}) > 0 THEN error({too_deep}) ELSE [{focus}] END"
        child = context.names.fresh("node")
        below = subtree(child, depth - 1)
        return f"[{focus}] || flatten(list_transform({children(focus)}, lambda {child}: {below}))"

    top = context.names.fresh("node")
    return (
        f"flatten(list_transform({children(context.focus)}, "
        f"lambda {top}: {subtree(top, REPEAT_DEPTH)}))"
    )


def _compile_body(select: Select, context: PathContext) -> _Rows:
    own = [_compile_column(c, context) for c in select.columns]
    parts = [
        _Rows(tuple(c for c, _ in own), tuple(e for _, e in own)),
        *(_compile_select(s, context) for s in select.selects),
    ]
    if select.union_all:
        parts.append(_union(select, context))
    return _product(parts)


def _union(select: Select, context: PathContext) -> _Rows:
    branches = [_compile_select(s, context) for s in select.union_all]
    names = [c.name for c in branches[0].columns]
    for i, branch in enumerate(branches[1:], start=1):
        other = [c.name for c in branch.columns]
        if other != names:
            raise ViewDefinitionError(
                f"{select.where}.unionAll[{i}] has columns {other}, but unionAll[0] has "
                f"{names}: every branch must have the same columns in the same order"
            )
    lists = ", ".join(b.as_list() for b in branches)
    return _Rows(branches[0].columns, None, f"flatten([{lists}])")


def _product(parts: Sequence[_Rows]) -> _Rows:
    result = _Rows((), ())
    for part in parts:
        result = _cross(result, part)
    return result


def _cross(left: _Rows, right: _Rows) -> _Rows:
    columns = left.columns + right.columns
    if left.row is not None and right.row is not None:
        return _Rows(columns, left.row + right.row)
    if left.row is not None and not left.columns:
        return right
    if right.row is not None and not right.columns:
        return left

    def fields(rows: _Rows, name: str) -> list[str]:
        if rows.row is not None:
            return list(rows.row)
        return [f"{name}.{quote_identifier(c.name)}" for c in rows.columns]

    if left.row is not None:
        struct = _struct(columns, [*fields(left, ""), *fields(right, "r_row")])
        return _Rows(columns, None, f"list_transform({right.rows}, lambda r_row: {struct})")
    if right.row is not None:
        struct = _struct(columns, [*fields(left, "l_row"), *fields(right, "")])
        return _Rows(columns, None, f"list_transform({left.rows}, lambda l_row: {struct})")
    struct = _struct(columns, [*fields(left, "l_row"), *fields(right, "r_row")])
    return _Rows(
        columns,
        None,
        f"flatten(list_transform({left.rows}, lambda l_row: "
        f"list_transform({right.rows}, lambda r_row: {struct})))",
    )


def _compile_column(column: Column, context: PathContext) -> tuple[ViewColumn, str]:
    value = _translate(column.path, context, f"{column.where}.path")
    family = FHIR_PRIMITIVE_FAMILY.get(column.type or "")
    if column.type is None:
        # Untyped columns keep a typed result as is and give other values as text.
        family = value.family if value.shape == "scalar" else "string"
    if family is None:
        sql_type = "JSON"
    else:
        sql_type = _OUTPUT_SQL_TYPES.get(column.type or "", SCALAR_SQL_TYPES[family])
    output = ViewColumn(column.name, column.type, sql_type, column.collection)
    if column.collection:
        item = context.names.fresh()
        converted = _convert(item, family, sql_type)
        return output, f"list_transform({to_many(value)}, lambda {item}: {converted})"
    if value.shape == "scalar":
        if sql_type == "JSON":
            return output, f"to_json({value.sql})"
        if value.family == family and sql_type == SCALAR_SQL_TYPES[family or "string"]:
            return output, value.sql
        return output, f"TRY_CAST({value.sql} AS {sql_type})"
    if value.shape == "one":
        return output, _convert(value.sql, family, sql_type)
    several = quote(
        f"{column.where} ({column.name}) returned several values: set collection to true"
    )
    return output, (
        f"CASE WHEN len({value.sql}) > 1 THEN error({several}) "
        f"ELSE {_convert(f'{value.sql}[1]', family, sql_type)} END"
    )


def _convert(json_sql: str, family: str | None, sql_type: str) -> str:
    if family is None:
        return json_sql
    converted = json_to_family(json_sql, family)
    if sql_type != SCALAR_SQL_TYPES[family]:
        return f"CAST({converted} AS {sql_type})"
    return converted
