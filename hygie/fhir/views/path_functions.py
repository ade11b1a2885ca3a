"""The FHIRPath functions a view can call, each translated into DuckDB SQL.

One small function per FHIRPath function, listed in :data:`FUNCTIONS`; the list is the subset
that SQL on FHIR v2 requires (its "Shareable View Definition" profile) plus the common string
and collection helpers.
"""

from __future__ import annotations

from collections.abc import Callable

from hygie.fhir.views import path_sql
from hygie.fhir.views.path_ast import Call, Literal, Member, Node
from hygie.fhir.views.sql_values import (
    EMPTY_LIST,
    FHIR_PRIMITIVE_FAMILY,
    JSON_TYPES_OF_FAMILY,
    Value,
    many,
    one,
    quote,
    scalar,
    to_family,
    to_many,
    to_one,
    to_text,
)
from hygie.fhir.views.temporal_sql import high_boundary, low_boundary
from hygie.fhir.views.view_errors import ViewDefinitionError

Function = Callable[[Call, "path_sql.PathContext"], Value]

# A Reference.reference "Type/id", relative or absolute, with an optional version.
_REFERENCE_PATTERN = quote(r"([A-Za-z]+)/([A-Za-z0-9\-\.]{1,64})(/_history/[^/]+)?$")


def call(node: Call, context: path_sql.PathContext) -> Value:
    """Translate a function call; unknown functions raise :class:`ViewDefinitionError`."""
    function = FUNCTIONS.get(node.name)
    if function is None:
        raise ViewDefinitionError(f"unsupported FHIRPath function {node.name}()")
    return function(node, context)


def _target(node: Call, context: path_sql.PathContext) -> Value:
    return path_sql.focus_of(node.target, context)


def _arg(node: Call, position: int, context: path_sql.PathContext) -> Value:
    if position >= len(node.args):
        raise ViewDefinitionError(f"{node.name}() needs at least {position + 1} argument(s)")
    return path_sql.translate(node.args[position], context)


def _type_name(node: Node, function: str) -> str:
    if isinstance(node, Member) and node.target is None:
        return node.name
    if isinstance(node, Member) and isinstance(node.target, Member):
        return node.name
    if isinstance(node, Literal) and node.type == "string":
        return str(node.value)
    raise ViewDefinitionError(f"{function}() expects a type name")


def _filter(
    collection: Value, context: path_sql.PathContext, condition: Node, *, keep_true: bool = True
) -> str:
    item = context.names.fresh()
    test = path_sql.to_boolean(path_sql.translate(condition, context.with_focus(item)))
    test = f"coalesce({test}, false)" if keep_true else f"NOT coalesce({test}, false)"
    return f"list_filter({to_many(collection)}, lambda {item}: {test})"


def _exists(node: Call, context: path_sql.PathContext) -> Value:
    target = _target(node, context)
    if node.args:
        return scalar(f"(len({_filter(target, context, node.args[0])}) > 0)", "boolean")
    if target.shape == "many":
        return scalar(f"(len({target.sql}) > 0)", "boolean")
    return scalar(f"({target.sql} IS NOT NULL)", "boolean")


def _empty(node: Call, context: path_sql.PathContext) -> Value:
    return scalar(f"(NOT {_exists(node, context).sql})", "boolean")


def _all(node: Call, context: path_sql.PathContext) -> Value:
    target = _target(node, context)
    failing = _filter(target, context, node.args[0], keep_true=False)
    return scalar(f"(len({failing}) = 0)", "boolean")


def _where(node: Call, context: path_sql.PathContext) -> Value:
    target = _target(node, context)
    return many(_filter(target, context, node.args[0]), target.fhir_type)


def _select(node: Call, context: path_sql.PathContext) -> Value:
    target = _target(node, context)
    item = context.names.fresh()
    projected = path_sql.translate(node.args[0], context.with_focus(item))
    return many(f"flatten(list_transform({to_many(target)}, lambda {item}: {to_many(projected)}))")


def _first(node: Call, context: path_sql.PathContext) -> Value:
    target = _target(node, context)
    if target.shape == "many":
        return one(f"{target.sql}[1]", target.fhir_type)
    return target


def _last(node: Call, context: path_sql.PathContext) -> Value:
    target = _target(node, context)
    if target.shape == "many":
        return one(f"{target.sql}[-1]", target.fhir_type)
    return target


def _slice(node: Call, context: path_sql.PathContext) -> Value:
    target = many(to_many(_target(node, context)))
    if node.name == "tail":
        return many(f"list_slice({target.sql}, 2, len({target.sql}))")
    count = to_family(_arg(node, 0, context), "integer")
    if node.name == "skip":
        return many(f"list_slice({target.sql}, {count} + 1, len({target.sql}))")
    return many(f"list_slice({target.sql}, 1, {count})")


def _single(node: Call, context: path_sql.PathContext) -> Value:
    target = _target(node, context)
    if target.shape != "many":
        return target
    several = quote("single() found several values")
    return one(f"CASE WHEN len({target.sql}) > 1 THEN error({several}) ELSE {target.sql}[1] END")


def _count(node: Call, context: path_sql.PathContext) -> Value:
    return scalar(f"len({to_many(_target(node, context))})", "integer")


def _distinct(node: Call, context: path_sql.PathContext) -> Value:
    return many(f"list_distinct({to_many(_target(node, context))})")


def _not(node: Call, context: path_sql.PathContext) -> Value:
    return scalar(f"(NOT {path_sql.to_boolean(_target(node, context))})", "boolean")


def _iif(node: Call, context: path_sql.PathContext) -> Value:
    condition = path_sql.to_boolean(_arg(node, 0, context))
    when_true = _arg(node, 1, context)
    otherwise = _arg(node, 2, context) if len(node.args) > 2 else many(EMPTY_LIST)
    if when_true.shape == otherwise.shape == "scalar" and when_true.family == otherwise.family:
        return scalar(
            f"CASE WHEN {condition} THEN {when_true.sql} ELSE {otherwise.sql} END",
            when_true.family or "string",
        )
    return many(f"CASE WHEN {condition} THEN {to_many(when_true)} ELSE {to_many(otherwise)} END")


def of_type(target_node: Node | None, type_name: str, context: path_sql.PathContext) -> Value:
    """``target.ofType(type_name)``; a choice element ``value`` becomes ``valueQuantity`` etc."""
    name = type_name.split(".")[-1]
    if isinstance(target_node, Member) and name:
        base = path_sql.focus_of(target_node.target, context)
        choice = target_node.name + name[0].upper() + name[1:]
        return path_sql.member_of(base, choice, context, fhir_type=name)
    target = path_sql.focus_of(target_node, context)
    item = context.names.fresh()
    family = FHIR_PRIMITIVE_FAMILY.get(name)
    if family is not None:
        test = f"json_type({item}) IN {JSON_TYPES_OF_FAMILY[family]}"
    elif name[:1].isupper():
        test = f"(json_type({item}) = 'OBJECT' AND coalesce({item} ->> 'resourceType', "
        test += f"{quote(name)}) = {quote(name)})"
    else:
        test = "false"
    return many(f"list_filter({to_many(target)}, lambda {item}: {test})", name)


def _of_type(node: Call, context: path_sql.PathContext) -> Value:
    if len(node.args) != 1:
        raise ViewDefinitionError("ofType() takes one type name")
    return of_type(node.target, _type_name(node.args[0], "ofType"), context)


def _extension(node: Call, context: path_sql.PathContext) -> Value:
    extensions = path_sql.member_of(_target(node, context), "extension", context)
    url = to_text(_arg(node, 0, context))
    item = context.names.fresh()
    return many(f"list_filter({extensions.sql}, lambda {item}: ({item} ->> 'url') = {url})")


def _join(node: Call, context: path_sql.PathContext) -> Value:
    separator = to_text(_arg(node, 0, context)) if node.args else "''"
    item = context.names.fresh()
    texts = f"list_transform({to_many(_target(node, context))}, lambda {item}: {item} ->> '$')"
    return scalar(f"array_to_string({texts}, {separator})", "string")


def _resource_key(node: Call, context: path_sql.PathContext) -> Value:
    target = to_one(_target(node, context))
    return scalar(f"({path_sql.field_of(target, 'id', context)} ->> '$')", "string")


def _reference_key(node: Call, context: path_sql.PathContext) -> Value:
    reference = f"({to_one(_target(node, context))} ->> 'reference')"
    key = f"nullif(regexp_extract({reference}, {_REFERENCE_PATTERN}, 2), '')"
    if not node.args:
        return scalar(key, "string")
    wanted = quote(_type_name(node.args[0], "getReferenceKey"))
    kind = f"regexp_extract({reference}, {_REFERENCE_PATTERN}, 1)"
    return scalar(f"CASE WHEN {kind} = {wanted} THEN {key} END", "string")


def _boundary(node: Call, context: path_sql.PathContext) -> Value:
    target = _target(node, context)
    boundary = low_boundary if node.name == "lowBoundary" else high_boundary
    return one(boundary(to_one(target), target.fhir_type), target.fhir_type)


def _string_function(sql_template: str, family: str = "string") -> Function:
    """A function of the focus string and its arguments, from a SQL template."""

    def translate_call(node: Call, context: path_sql.PathContext) -> Value:
        arguments = [to_text(_target(node, context))]
        arguments += [to_text(path_sql.translate(arg, context)) for arg in node.args]
        return scalar(sql_template.format(*arguments), family)

    return translate_call


def _to_family(family: str) -> Function:
    def translate_call(node: Call, context: path_sql.PathContext) -> Value:
        return scalar(to_family(_target(node, context), family), family)

    return translate_call


def _substring(node: Call, context: path_sql.PathContext) -> Value:
    text = to_text(_target(node, context))
    start = to_family(_arg(node, 0, context), "integer")
    if len(node.args) > 1:
        length = to_family(_arg(node, 1, context), "integer")
        return scalar(f"substring({text}, {start} + 1, {length})", "string")
    return scalar(f"substring({text}, {start} + 1)", "string")


FUNCTIONS: dict[str, Function] = {
    "exists": _exists,
    "empty": _empty,
    "hasValue": _exists,
    "all": _all,
    "where": _where,
    "select": _select,
    "first": _first,
    "last": _last,
    "tail": _slice,
    "skip": _slice,
    "take": _slice,
    "single": _single,
    "count": _count,
    "distinct": _distinct,
    "not": _not,
    "iif": _iif,
    "ofType": _of_type,
    "extension": _extension,
    "join": _join,
    "getResourceKey": _resource_key,
    "getReferenceKey": _reference_key,
    "lowBoundary": _boundary,
    "highBoundary": _boundary,
    "startsWith": _string_function("starts_with({0}, {1})", "boolean"),
    "endsWith": _string_function("suffix({0}, {1})", "boolean"),
    "contains": _string_function("(strpos({0}, {1}) > 0)", "boolean"),
    "matches": _string_function("regexp_matches({0}, {1})", "boolean"),
    "lower": _string_function("lower({0})"),
    "upper": _string_function("upper({0})"),
    "trim": _string_function("trim({0})"),
    "length": _string_function("length({0})", "integer"),
    "replace": _string_function("replace({0}, {1}, {2})"),
    "indexOf": _string_function("(strpos({0}, {1}) - 1)", "integer"),
    "substring": _substring,
    "toString": _to_family("string"),
    "toInteger": _to_family("integer"),
    "toDecimal": _to_family("decimal"),
    "toBoolean": _to_family("boolean"),
}
