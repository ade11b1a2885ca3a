"""SQL fragments for FHIRPath values, and the conversions between their three shapes.

A FHIRPath expression is translated into a :class:`Value`:

- ``many``: a ``JSON[]`` list, the general FHIRPath collection;
- ``one``: a single ``JSON`` value, SQL NULL meaning the empty collection (``first()``,
  ``$this``, the resource itself);
- ``scalar``: a typed SQL value (BOOLEAN, VARCHAR, BIGINT, DOUBLE), NULL meaning empty
  (literals, constants, comparisons, function results).

Keeping ``one`` and ``scalar`` apart from ``many`` keeps the generated SQL short for the common
case of single-valued paths.
"""

from __future__ import annotations

from dataclasses import dataclass

EMPTY_LIST = "CAST([] AS JSON[])"
NUMERIC_JSON_TYPES = "('BIGINT', 'UBIGINT', 'DOUBLE')"

SCALAR_SQL_TYPES = {
    "boolean": "BOOLEAN",
    "string": "VARCHAR",
    "integer": "BIGINT",
    "decimal": "DOUBLE",
}

# FHIR primitive types → the scalar family used for comparisons and output columns.
# Source: FHIR R4 §2.24 "Data Types" (primitive types); dates and times stay strings so that
# partial dates ("1970-06") and time zones survive unchanged.
FHIR_PRIMITIVE_FAMILY = {
    "boolean": "boolean",
    "integer": "integer",
    "positiveInt": "integer",
    "unsignedInt": "integer",
    "integer64": "integer",
    "decimal": "decimal",
    "string": "string",
    "code": "string",
    "id": "string",
    "uri": "string",
    "url": "string",
    "canonical": "string",
    "oid": "string",
    "uuid": "string",
    "markdown": "string",
    "base64Binary": "string",
    "xhtml": "string",
    "date": "string",
    "dateTime": "string",
    "instant": "string",
    "time": "string",
}

# How each FHIR primitive type is recognised in a JSON value (json_type of DuckDB).
JSON_TYPES_OF_FAMILY = {
    "boolean": "('BOOLEAN')",
    "integer": "('BIGINT', 'UBIGINT')",
    "decimal": NUMERIC_JSON_TYPES,
    "string": "('VARCHAR')",
}


@dataclass(frozen=True)
class Value:
    """A translated FHIRPath expression: its SQL text, its shape and what is known of its type."""

    sql: str
    shape: str
    """``many``, ``one`` or ``scalar`` (see the module docstring)."""
    family: str | None = None
    """For ``scalar``: ``boolean``, ``string``, ``integer`` or ``decimal``."""
    fhir_type: str | None = None
    """The FHIR type when known (from ``ofType()``), e.g. ``dateTime`` or ``Quantity``."""


def many(sql: str, fhir_type: str | None = None) -> Value:
    """A ``JSON[]`` collection."""
    return Value(sql, "many", None, fhir_type)


def one(sql: str, fhir_type: str | None = None) -> Value:
    """A single ``JSON`` value (NULL when empty)."""
    return Value(sql, "one", None, fhir_type)


def scalar(sql: str, family: str, fhir_type: str | None = None) -> Value:
    """A typed SQL value of one of the :data:`SCALAR_SQL_TYPES` families."""
    return Value(sql, "scalar", family, fhir_type)


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def json_field(item: str, name: str) -> str:
    """The JSON value of field ``name`` of the JSON object ``item`` (NULL when absent)."""
    if name.isidentifier():
        return f"({item} -> {quote(name)})"
    return f"json_extract({item}, {quote('$.' + _json_path_key(name))})"


def json_member_path(name: str) -> str:
    """The SQL literal of the JSON path of member ``name``, such as ``'$."gender"'``."""
    return quote("$." + _json_path_key(name))


def _json_path_key(name: str) -> str:
    return '"' + name.replace('"', '\\"') + '"'


def as_list(json_sql: str) -> str:
    """A JSON value as a collection: an array's items, a present value alone, nothing for NULL."""
    return (
        f"CASE WHEN {json_sql} IS NULL THEN {EMPTY_LIST} "
        f"WHEN json_type({json_sql}) = 'ARRAY' THEN CAST({json_sql} AS JSON[]) "
        f"ELSE [{json_sql}] END"
    )


def to_many(value: Value) -> str:
    """The SQL of ``value`` as a ``JSON[]`` list."""
    if value.shape == "many":
        return value.sql
    item = value.sql if value.shape == "one" else f"to_json({value.sql})"
    return f"CASE WHEN {value.sql} IS NULL THEN {EMPTY_LIST} ELSE [{item}] END"


def to_one(value: Value) -> str:
    """The SQL of ``value`` as a single ``JSON`` (the item of a singleton, else NULL)."""
    if value.shape == "one":
        return value.sql
    if value.shape == "scalar":
        return f"to_json({value.sql})"
    return f"CASE WHEN len({value.sql}) = 1 THEN {value.sql}[1] END"


def json_to_family(json_sql: str, family: str) -> str:
    """A JSON value converted to a scalar family; values of another type give NULL."""
    if family == "string":
        return f"({json_sql} ->> '$')"
    return f"TRY_CAST({json_sql} AS {SCALAR_SQL_TYPES[family]})"


def to_family(value: Value, family: str) -> str:
    """The SQL of ``value`` as a scalar of ``family`` (singleton evaluation of FHIRPath)."""
    if value.shape == "scalar":
        if value.family == family:
            return value.sql
        return f"TRY_CAST({value.sql} AS {SCALAR_SQL_TYPES[family]})"
    return json_to_family(to_one(value), family)


def to_text(value: Value) -> str:
    """The SQL of ``value`` as text, for string functions and comparisons of unknown types."""
    return to_family(value, "string")
