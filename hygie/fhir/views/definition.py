"""Read a ViewDefinition (SQL on FHIR v2) from its JSON form and check its structure.

The checks follow the ViewDefinition logical model and its invariants (sql-on-fhir-v2,
``input/fsh/models.fsh``): a resource type, at least one select, column names made of letters,
digits and underscores, at most one of ``forEach``/``forEachOrNull``, exactly one ``value[x]`` per
constant. Each error names the element at fault.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from hygie.fhir.views.view_errors import ViewDefinitionError

COLUMN_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

# Constant value[x] types → scalar family (FHIR R4 primitive types allowed by the model).
CONSTANT_TYPES = {
    "valueBase64Binary": "string",
    "valueCanonical": "string",
    "valueCode": "string",
    "valueDate": "string",
    "valueDateTime": "string",
    "valueId": "string",
    "valueInstant": "string",
    "valueOid": "string",
    "valueString": "string",
    "valueTime": "string",
    "valueUri": "string",
    "valueUrl": "string",
    "valueUuid": "string",
    "valueMarkdown": "string",
    "valueBoolean": "boolean",
    "valueDecimal": "decimal",
    "valueInteger": "integer",
    "valueInteger64": "integer",
    "valuePositiveInt": "integer",
    "valueUnsignedInt": "integer",
}

_SELECT_KEYS = {"column", "select", "unionAll", "forEach", "forEachOrNull", "repeat"}


@dataclass(frozen=True)
class Column:
    """One output column: its name, FHIRPath, declared FHIR type and multiplicity."""

    name: str
    path: str
    type: str | None
    collection: bool
    where: str
    """Where the column is in the view, e.g. ``select[1].column[0]``, for error messages."""


@dataclass(frozen=True)
class Select:
    """One ``select`` element: columns, nested selects, a union and an optional iteration."""

    columns: tuple[Column, ...]
    selects: tuple[Select, ...]
    union_all: tuple[Select, ...]
    for_each: str | None
    or_null: bool
    repeat: tuple[str, ...]
    where: str


@dataclass(frozen=True)
class Constant:
    """A named constant usable as ``%name`` in every path of the view."""

    name: str
    family: str
    value: str | int | float | bool
    fhir_type: str


@dataclass(frozen=True)
class ViewDefinition:
    """A checked ViewDefinition."""

    resource: str
    name: str | None
    selects: tuple[Select, ...]
    where: tuple[str, ...]
    constants: tuple[Constant, ...]


def read_view(view: Mapping[str, Any]) -> ViewDefinition:
    """Check a ViewDefinition given as parsed JSON and return its typed form.

    >>> read_view({"resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}]}]})
    ... # doctest: +ELLIPSIS
    ViewDefinition(resource='Patient', name=None, selects=(Select(columns=(Column(name='id', ...
    """
    if not isinstance(view, Mapping):
        raise ViewDefinitionError("a ViewDefinition must be a JSON object")
    resource = view.get("resource")
    if not isinstance(resource, str) or not resource:
        raise ViewDefinitionError("ViewDefinition.resource is missing: name the FHIR resource type")
    name = view.get("name")
    if name is not None and (not isinstance(name, str) or not COLUMN_NAME.match(name)):
        raise ViewDefinitionError(
            f"ViewDefinition.name {name!r} must match {COLUMN_NAME.pattern} (letters, digits, _)"
        )
    selects = _list(view, "select", "ViewDefinition")
    if not selects:
        raise ViewDefinitionError("ViewDefinition.select is missing: a view needs columns")
    return ViewDefinition(
        resource=resource,
        name=name,
        selects=tuple(_select(s, f"select[{i}]") for i, s in enumerate(selects)),
        where=tuple(_where(w, f"where[{i}]") for i, w in enumerate(_list(view, "where", ""))),
        constants=_constants(_list(view, "constant", "ViewDefinition")),
    )


def _list(owner: Mapping[str, Any], key: str, where: str) -> Sequence[Any]:
    items = owner.get(key, [])
    if not isinstance(items, list):
        raise ViewDefinitionError(f"{where}.{key} must be a list".lstrip("."))
    return items


def _path(owner: Mapping[str, Any], key: str, where: str) -> str:
    path = owner.get(key)
    if not isinstance(path, str) or not path.strip():
        raise ViewDefinitionError(f"{where}.{key} must be a FHIRPath expression (a string)")
    return path


def _select(select: Any, where: str) -> Select:
    if not isinstance(select, Mapping):
        raise ViewDefinitionError(f"{where} must be an object")
    unknown = set(select) - _SELECT_KEYS
    if unknown:
        raise ViewDefinitionError(f"{where} has unknown element(s): {', '.join(sorted(unknown))}")
    if "forEach" in select and "forEachOrNull" in select:
        raise ViewDefinitionError(f"{where} has both forEach and forEachOrNull: keep one")
    for_each = None
    for key in ("forEach", "forEachOrNull"):
        if key in select:
            for_each = _path(select, key, where)
    repeat = _list(select, "repeat", where)
    if any(not isinstance(p, str) or not p.strip() for p in repeat):
        raise ViewDefinitionError(f"{where}.repeat must be a list of FHIRPath expressions")
    if repeat and for_each is not None:
        raise ViewDefinitionError(f"{where} has both repeat and forEach: keep one")
    columns = tuple(
        _column(c, f"{where}.column[{i}]") for i, c in enumerate(_list(select, "column", where))
    )
    selects = tuple(
        _select(s, f"{where}.select[{i}]") for i, s in enumerate(_list(select, "select", where))
    )
    union_all = tuple(
        _select(s, f"{where}.unionAll[{i}]") for i, s in enumerate(_list(select, "unionAll", where))
    )
    if not (columns or selects or union_all):
        raise ViewDefinitionError(f"{where} has no column, select or unionAll")
    return Select(
        columns, selects, union_all, for_each, "forEachOrNull" in select, tuple(repeat), where
    )


def _column(column: Any, where: str) -> Column:
    if not isinstance(column, Mapping):
        raise ViewDefinitionError(f"{where} must be an object")
    name = column.get("name")
    if not isinstance(name, str) or not COLUMN_NAME.match(name):
        raise ViewDefinitionError(
            f"{where}.name {name!r} must match {COLUMN_NAME.pattern} (letters, digits, _)"
        )
    column_type = column.get("type")
    if column_type is not None and not isinstance(column_type, str):
        raise ViewDefinitionError(f"{where}.type must be a FHIR type name")
    collection = column.get("collection", False)
    if not isinstance(collection, bool):
        raise ViewDefinitionError(f"{where}.collection must be true or false")
    return Column(name, _path(column, "path", where), column_type, collection, where)


def _where(item: Any, where: str) -> str:
    if not isinstance(item, Mapping):
        raise ViewDefinitionError(f"{where} must be an object with a path")
    return _path(item, "path", where)


def _constants(items: Sequence[Any]) -> tuple[Constant, ...]:
    constants: list[Constant] = []
    for i, item in enumerate(items):
        where = f"constant[{i}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise ViewDefinitionError(f"{where} needs a name")
        values = [key for key in item if key.startswith("value")]
        if len(values) != 1 or values[0] not in CONSTANT_TYPES:
            raise ViewDefinitionError(
                f"{where} ({item['name']}) needs exactly one value[x] of a primitive type"
            )
        key = values[0]
        family = CONSTANT_TYPES[key]
        value: Any = item[key]
        expected: tuple[type, ...] = {
            "string": (str,),
            "boolean": (bool,),
            "integer": (int,),
            "decimal": (int, float),
        }[family]
        if not isinstance(value, expected) or (family != "boolean" and isinstance(value, bool)):
            raise ViewDefinitionError(f"{where}.{key} has a value of the wrong type: {value!r}")
        fhir_type = key[len("value") :]
        constants.append(
            Constant(
                item["name"],
                family,
                cast("str | int | float | bool", value),
                fhir_type[0].lower() + fhir_type[1:],
            )
        )
    return tuple(constants)
