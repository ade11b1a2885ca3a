"""Translate FHIRPath syntax trees into DuckDB SQL expressions.

The translation is set-based: collections become ``JSON[]`` lists handled with DuckDB list
functions and lambdas (``list_transform``, ``list_filter``, ``flatten``), so that a whole view is
one SELECT the engine runs over every resource at once. Functions live in
:mod:`hygie.fhir.views.path_functions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from hygie.fhir.views import path_functions
from hygie.fhir.views.path_ast import (
    Binary,
    Call,
    Index,
    Literal,
    Member,
    Node,
    This,
    TypeOp,
    Unary,
    Variable,
)
from hygie.fhir.views.sql_values import (
    EMPTY_LIST,
    NUMERIC_JSON_TYPES,
    Value,
    as_list,
    json_field,
    many,
    one,
    quote,
    scalar,
    to_family,
    to_many,
    to_one,
    to_text,
)
from hygie.fhir.views.view_errors import ViewDefinitionError

# Well-known FHIRPath environment variables (FHIRPath §"Environment variables").
_ENVIRONMENT_STRINGS = {
    "ucum": "http://unitsofmeasure.org",
    "sct": "http://snomed.info/sct",
    "loinc": "http://loinc.org",
}

_COMPARISONS = {"=": "=", "!=": "<>", "<": "<", ">": ">", "<=": "<=", ">=": ">="}


@dataclass
class LambdaNames:
    """Hands out fresh lambda parameter names, unique within one compiled view."""

    count: int = 0

    def fresh(self, stem: str = "e") -> str:
        """A new name such as ``e7``."""
        self.count += 1
        return f"{stem}{self.count}"


@dataclass
class RootFields:
    """The members of the resource that paths read, each parsed out of the JSON once per row.

    ``field(name)`` hands out the column that will hold the member ``name`` of the resource;
    the query that fills those columns is built once every path is translated (see
    :mod:`hygie.fhir.views.unnest_plan`), so the resource JSON is parsed once for all of them.
    """

    names: list[str] = field(default_factory=list)

    def field(self, name: str) -> str:
        """The column holding member ``name`` of the resource (JSON, NULL when absent)."""
        if name not in self.names:
            self.names.append(name)
        return f"view_field{self.names.index(name) + 1}"


@dataclass(frozen=True)
class PathContext:
    """Where an expression is evaluated: the focus item, the resource, constants, row index."""

    focus: str
    """SQL of the item in focus (one JSON value)."""
    root: str
    """SQL of the resource the row comes from (one JSON value)."""
    resource_type: str
    row_index: str = "0"
    constants: Mapping[str, Value] = field(default_factory=dict)
    names: LambdaNames = field(default_factory=LambdaNames)
    root_fields: RootFields | None = None
    """Where members of ``root`` are read from, when they are parsed once per row."""

    def with_focus(self, focus: str) -> PathContext:
        """The same context, focused on another item."""
        return replace(self, focus=focus)


def translate(node: Node, context: PathContext) -> Value:
    """Translate one syntax tree node in ``context``."""
    if isinstance(node, Literal):
        return _literal(node)
    if isinstance(node, This):
        return one(context.focus)
    if isinstance(node, Variable):
        return _variable(node.name, context)
    if isinstance(node, Member):
        return _member(node, context)
    if isinstance(node, Call):
        return path_functions.call(node, context)
    if isinstance(node, Index):
        return _index(node, context)
    if isinstance(node, Unary):
        operand = translate(node.operand, context)
        family = operand.family if operand.family in ("integer", "decimal") else "decimal"
        sign = "-" if node.op == "-" else "+"
        return scalar(f"({sign}{to_family(operand, family)})", family)
    if isinstance(node, TypeOp):
        filtered = path_functions.of_type(node.operand, node.type_name, context)
        if node.op == "as":
            return filtered
        return scalar(f"(len({to_many(filtered)}) > 0)", "boolean")
    return _binary(node, context)


def focus_of(target: Node | None, context: PathContext) -> Value:
    """The value a member or function applies to: its target, else the focus."""
    if target is None:
        return one(context.focus)
    return translate(target, context)


def _literal(node: Literal) -> Value:
    if node.type == "empty":
        return many(EMPTY_LIST)
    if node.type == "boolean":
        return scalar("true" if node.value else "false", "boolean")
    if node.type == "integer":
        return scalar(str(node.value), "integer")
    if node.type == "decimal":
        return scalar(f"CAST({node.value!r} AS DOUBLE)", "decimal")
    return scalar(quote(str(node.value)), "string", node.type)


def _variable(name: str, context: PathContext) -> Value:
    if name == "rowIndex":
        return scalar(context.row_index, "integer")
    if name in ("resource", "rootResource", "context"):
        return one(context.root)
    if name in context.constants:
        return context.constants[name]
    if name in _ENVIRONMENT_STRINGS:
        return scalar(quote(_ENVIRONMENT_STRINGS[name]), "string")
    raise ViewDefinitionError(
        f"undefined constant %{name}: declare it in the ViewDefinition's constant list"
    )


def _member(node: Member, context: PathContext) -> Value:
    if node.target is None and node.name == context.resource_type:
        return one(context.root)
    base = focus_of(node.target, context)
    return member_of(base, node.name, context)


def member_of(base: Value, name: str, context: PathContext, fhir_type: str | None = None) -> Value:
    """The children named ``name`` of every item of ``base``, flattened into one collection."""
    if base.shape == "scalar":
        return many(EMPTY_LIST)
    if base.shape == "one":
        return many(as_list(field_of(base.sql, name, context)), fhir_type)
    item = context.names.fresh()
    children = as_list(json_field(item, name))
    return many(f"flatten(list_transform({base.sql}, lambda {item}: {children}))", fhir_type)


def field_of(item: str, name: str, context: PathContext) -> str:
    """The JSON value of field ``name`` of ``item`` (one JSON value), NULL when absent."""
    if item == context.root and context.root_fields is not None:
        return context.root_fields.field(name)
    return json_field(item, name)


def _index(node: Index, context: PathContext) -> Value:
    base = translate(node.target, context)
    index = translate(node.index, context)
    if isinstance(node.index, Literal) and node.index.type == "integer":
        position = str(int(str(node.index.value)) + 1)
    else:
        position = f"({to_family(index, 'integer')} + 1)"
    if base.shape == "many":
        return one(f"{base.sql}[{position}]", base.fhir_type)
    return one(f"CASE WHEN {position} = 1 THEN {to_one(base)} END", base.fhir_type)


def to_boolean(value: Value, where: str | None = None) -> str:
    """``value`` as a SQL BOOLEAN, by the FHIRPath rules of singleton evaluation.

    With ``where`` set (the element being compiled), a value that is not a boolean raises an
    error in the engine instead of counting as true, as the ViewDefinition ``where`` demands.
    """
    if value.shape == "scalar":
        if value.family == "boolean":
            return value.sql
        if where is not None:
            raise ViewDefinitionError(f"{where} must be a boolean expression")
        return f"({value.sql} IS NOT NULL OR NULL)"
    item = to_one(value) if value.shape == "one" else f"{value.sql}[1]"
    other = "true" if where is None else f"error({quote(where + ' is not a boolean expression')})"
    test = (
        f"CASE WHEN {item} IS NULL THEN NULL WHEN json_type({item}) = 'BOOLEAN' "
        f"THEN CAST({item} AS BOOLEAN) ELSE {other} END"
    )
    if value.shape == "one":
        return test
    too_many = quote("a boolean expression returned several values")
    return f"(CASE WHEN len({value.sql}) > 1 THEN error({too_many}) ELSE {test} END)"


def _binary(node: Binary, context: PathContext) -> Value:
    op = node.op
    left = translate(node.left, context)
    right = translate(node.right, context)
    if op in ("and", "or"):
        return scalar(
            f"({to_boolean(left)} {op.upper()} {to_boolean(right)})",
            "boolean",
        )
    if op == "xor":
        return scalar(f"({to_boolean(left)} <> {to_boolean(right)})", "boolean")
    if op == "implies":
        a, b = to_boolean(left), to_boolean(right)
        return scalar(
            f"(CASE WHEN {a} THEN {b} WHEN NOT {a} THEN true WHEN {b} THEN true END)", "boolean"
        )
    if op in _COMPARISONS:
        return _compare(_COMPARISONS[op], left, right)
    if op in ("~", "!~"):
        same = f"coalesce(lower({to_text(left)}) = lower({to_text(right)}), "
        same += f"{to_text(left)} IS NULL AND {to_text(right)} IS NULL)"
        return scalar(same if op == "~" else f"(NOT {same})", "boolean")
    if op == "|":
        return many(f"list_distinct(list_concat({to_many(left)}, {to_many(right)}))")
    if op in ("in", "contains"):
        item, collection = (left, right) if op == "in" else (right, left)
        element = context.names.fresh()
        texts = f"list_transform({to_many(collection)}, lambda {element}: {element} ->> '$')"
        return scalar(f"list_contains({texts}, {to_text(item)})", "boolean")
    if op == "&":
        return scalar(
            f"(coalesce({to_text(left)}, '') || coalesce({to_text(right)}, ''))", "string"
        )
    return _arithmetic(op, left, right)


def _family_of(value: Value) -> str | None:
    if value.shape == "scalar":
        return value.family
    return None


def _compare(sql_op: str, left: Value, right: Value) -> Value:
    family = _family_of(left) or _family_of(right)
    if family is not None:
        if family == "integer":
            family = "decimal"
        return scalar(
            f"({to_family(left, family)} {sql_op} {to_family(right, family)})",
            "boolean",
        )
    a, b = to_one(left), to_one(right)
    numeric = f"json_type({a}) IN {NUMERIC_JSON_TYPES} AND json_type({b}) IN {NUMERIC_JSON_TYPES}"
    return scalar(
        f"(CASE WHEN {numeric} THEN CAST({a} AS DOUBLE) {sql_op} CAST({b} AS DOUBLE) "
        f"ELSE ({a} ->> '$') {sql_op} ({b} ->> '$') END)",
        "boolean",
    )


def _arithmetic(op: str, left: Value, right: Value) -> Value:
    if op == "+" and "string" in (_family_of(left), _family_of(right)):
        return scalar(f"({to_text(left)} || {to_text(right)})", "string")
    both_integer = _family_of(left) == _family_of(right) == "integer"
    family = "integer" if both_integer and op in ("+", "-", "*", "div", "mod") else "decimal"
    a, b = to_family(left, family), to_family(right, family)
    if op == "/":
        return scalar(f"(CAST({a} AS DOUBLE) / nullif(CAST({b} AS DOUBLE), 0))", "decimal")
    if op == "div":
        return scalar(f"CAST(trunc({a} / nullif({b}, 0)) AS BIGINT)", "integer")
    if op == "mod":
        return scalar(f"({a} % nullif({b}, 0))", family)
    return scalar(f"({a} {op} {b})", family)
