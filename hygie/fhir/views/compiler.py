"""Compile a ViewDefinition into one SQL SELECT over the resource relation.

A view that only has columns is one SELECT of column expressions over the resources of its type.
A view whose selects iterate or stack rows becomes a chain of subqueries (see
:mod:`hygie.fhir.views.unnest_plan`): the resources are filtered first, then each ``forEach``,
``forEachOrNull`` or ``repeat`` unnests its collection into one row per item, sibling selects
multiply rows (a cross product), and ``unionAll`` unnests one row per branch, each branch's
iterations being guarded so that they only unnest on the rows of that branch. Column expressions
are computed in the plain projection of the level where their focus is, so the engine evaluates
the whole view in one set-based statement without evaluating columns inside list lambdas.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hygie.fhir.views.definition import Column, Select, ViewDefinition, read_view
from hygie.fhir.views.path_parser import parse_path
from hygie.fhir.views.path_sql import (
    LambdaNames,
    PathContext,
    RootFields,
    to_boolean,
    translate,
)
from hygie.fhir.views.sql_values import (
    FHIR_PRIMITIVE_FAMILY,
    SCALAR_SQL_TYPES,
    Value,
    json_to_family,
    quote,
    scalar,
    to_many,
)
from hygie.fhir.views.unnest_plan import RESOURCE_COLUMN, UnnestPlan, filtered_resources
from hygie.fhir.views.view_errors import ViewDefinitionError

REPEAT_DEPTH = 7
"""How deep ``repeat`` follows its paths; deeper data raises an error rather than being cut.

Each level nests the SQL one step deeper; sqlglot (used to transpile to other engines) parses
recursively, which bounds the depth a portable statement can have."""

_OUTPUT_SQL_TYPES = {"integer": "INTEGER", "integer64": "BIGINT"}
_NULL_ITEM = "[CAST(NULL AS JSON)]"


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


_Outputs = list[tuple[ViewColumn, str]]
"""Output columns of a select and the SQL that reads each one."""


def quote_identifier(name: str) -> str:
    """A SQL identifier, double-quoted."""
    return '"' + name.replace('"', '""') + '"'


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
    names = LambdaNames()
    constants = _constants(definition)
    filter_context = PathContext(
        focus="src.resource",
        root="src.resource",
        resource_type=definition.resource,
        constants=constants,
        names=names,
    )
    filters = [f"src.resource_type = {quote(definition.resource)}"]
    for i, path in enumerate(definition.where):
        value = _translate(path, filter_context, f"where[{i}].path")
        filters.append(to_boolean(value, where=f"where[{i}].path ({path})"))
    where_clause = "\n  AND ".join(f"({f})" for f in filters)
    fields = RootFields()
    context = PathContext(
        focus=RESOURCE_COLUMN,
        root=RESOURCE_COLUMN,
        resource_type=definition.resource,
        constants=constants,
        names=names,
        root_fields=fields,
    )
    plan = UnnestPlan(names)
    outputs: _Outputs = []
    for select in definition.selects:
        outputs.extend(_compile_select(select, context, plan, None))
    columns = tuple(c for c, _ in outputs)
    _check_unique(columns)
    projections = ", ".join(f"{sql} AS {quote_identifier(c.name)}" for c, sql in outputs)
    # The resources of the view's type are filtered before anything is parsed or unnested.
    rows = plan.query(filtered_resources(source, where_clause, fields))
    sql = f"SELECT {projections}\nFROM (\n{rows}\n) AS view_rows"
    return CompiledView(definition.name, definition.resource, sql, columns)


def _uses_row_index(select: Select) -> bool:
    """Whether ``%rowIndex`` appears in a path of ``select`` or of the selects inside it."""
    paths = [c.path for c in select.columns] + list(select.repeat)
    if select.for_each is not None:
        paths.append(select.for_each)
    return any("rowIndex" in p for p in paths) or any(
        _uses_row_index(s) for s in (*select.selects, *select.union_all)
    )


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


def _compile_select(
    select: Select, context: PathContext, plan: UnnestPlan, active: str | None
) -> _Outputs:
    """The output columns of ``select``, adding its iteration to ``plan``.

    ``active`` is the SQL condition under which the rows are those of this select (inside a
    ``unionAll`` branch), or None when they always are; elsewhere the iteration unnests one null
    item so as not to drop the rows of the other branches.
    """
    if select.for_each is None and not select.repeat:
        # A select that does not iterate keeps the %rowIndex of the nearest iteration around it.
        return _compile_body(select, context, plan, active)
    if select.repeat:
        collection = _repeat(select, context)
    else:
        collection = to_many(_translate(select.for_each or "", context, f"{select.where}.forEach"))
        if select.or_null:
            collection = f"CASE WHEN len({collection}) = 0 THEN {_NULL_ITEM} ELSE {collection} END"
    if active is not None:
        collection = f"CASE WHEN {active} THEN {collection} ELSE {_NULL_ITEM} END"
    row_index = "0"
    if _uses_row_index(select):
        item, position = context.names.fresh("item"), context.names.fresh("position")
        numbered = (
            f"list_transform({collection}, lambda {item}, {position}: "
            f"struct_pack(item := {item}, position := {position}))"
        )
        alias = plan.unnest(numbered)
        focus, row_index = f"{alias}.item", f"({alias}.position - 1)"
    else:
        focus = plan.unnest(collection)
    inner = PathContext(
        focus=focus,
        root=context.root,
        resource_type=context.resource_type,
        row_index=row_index,
        constants=context.constants,
        names=context.names,
    )
    return _compile_body(select, inner, plan, active)


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


def _compile_body(
    select: Select, context: PathContext, plan: UnnestPlan, active: str | None
) -> _Outputs:
    outputs: _Outputs = []
    for column in select.columns:
        output, sql = _compile_column(column, context)
        outputs.append((output, plan.compute(sql)))
    for nested in select.selects:
        outputs.extend(_compile_select(nested, context, plan, active))
    if select.union_all:
        outputs.extend(_union(select, context, plan, active))
    return outputs


def _union(select: Select, context: PathContext, plan: UnnestPlan, active: str | None) -> _Outputs:
    """One row per branch, each column read from the branch of its row."""
    numbers = "[" + ", ".join(str(i) for i in range(len(select.union_all))) + "]"
    if active is not None:
        numbers = f"CASE WHEN {active} THEN {numbers} ELSE [CAST(NULL AS INTEGER)] END"
    branch = plan.unnest(numbers)
    branches: list[_Outputs] = []
    for i, branch_select in enumerate(select.union_all):
        condition = f"{branch} = {i}" if active is None else f"{active} AND {branch} = {i}"
        branches.append(_compile_select(branch_select, context, plan, f"({condition})"))
    names = [c.name for c, _ in branches[0]]
    for i, outputs in enumerate(branches[1:], start=1):
        other = [c.name for c, _ in outputs]
        if other != names:
            raise ViewDefinitionError(
                f"{select.where}.unionAll[{i}] has columns {other}, but unionAll[0] has "
                f"{names}: every branch must have the same columns in the same order"
            )
    merged: _Outputs = []
    for k, (column, _) in enumerate(branches[0]):
        cases = " ".join(f"WHEN {branch} = {i} THEN {b[k][1]}" for i, b in enumerate(branches))
        merged.append((column, plan.compute(f"CASE {cases} END")))
    return merged


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
