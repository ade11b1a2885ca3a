"""FHIRPath for row-level use: evaluate an expression on one FHIR R4 resource.

Views run as SQL (see :mod:`hygie.fhir.views`); this module is for the places that look at one
resource at a time (validation rules, the ``hygie fhirpath`` command, review screens). It wraps
``fhirpathpy`` with the FHIR R4 model, caches compiled expressions, and returns plain Python
values: FHIRPath dates and times as their ISO text, quantities as FHIR Quantity dicts, decimals
as :class:`decimal.Decimal`.

>>> evaluate({"resourceType": "Patient", "name": [{"given": ["Ann", "Eve"]}]}, "name.given")
['Ann', 'Eve']
"""

from __future__ import annotations

import copy
import html
import json
import re
from collections.abc import Callable, Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import lru_cache
from typing import Any

import fhirpathpy
from fhirpathpy.engine.invocations import strings
from fhirpathpy.engine.nodes import FP_Quantity, FP_TimeBase
from fhirpathpy.models import models

from hygie.errors import InputError

_R4_MODEL: dict[str, Any] = models["r4"]
# fhirpathpy's string functions and quantity class carry no annotations.
fhirpath_strings: Any = strings
make_quantity: Any = FP_Quantity

Evaluator = Callable[..., list[Any]]


class FHIRPathError(InputError):
    """A FHIRPath expression is invalid, or failed on the resource it was evaluated on."""


@lru_cache(maxsize=4096)
def compile_expression(expression: str) -> Evaluator:
    """Parse ``expression`` once; the result evaluates it on any resource.

    Raises :class:`FHIRPathError` when the expression does not parse.
    """
    try:
        compiled: Evaluator = fhirpathpy.compile(
            expression,
            model=_R4_MODEL,
            options={"userInvocationTable": EXTRA_FUNCTIONS, "traceFn": _quiet_trace},
        )
    except Exception as error:  # fhirpathpy raises bare exceptions of its parser
        raise FHIRPathError(f"invalid FHIRPath {expression!r}: {error}") from error
    return compiled


def evaluate(
    resource: Mapping[str, Any] | list[Any],
    expression: str,
    variables: Mapping[str, Any] | None = None,
) -> list[Any]:
    """Evaluate ``expression`` on ``resource`` and return the resulting collection.

    ``variables`` are the ``%name`` values the expression may use. The resource is not
    modified. Raises :class:`FHIRPathError` for an invalid expression or a failed evaluation.

    >>> evaluate({"resourceType": "Observation", "valueQuantity": {"value": 72}},
    ...          "Observation.value.ofType(Quantity).value > %limit", {"limit": 60})
    [True]
    """
    compiled = compile_expression(expression)
    # fhirpathpy annotates the data it walks; keep the caller's resource untouched.
    data = copy.deepcopy(resource)
    try:
        result = compiled(data, {**environment(expression), **(variables or {})})
    except FHIRPathError:
        raise
    except Exception as error:
        raise FHIRPathError(f"FHIRPath {expression!r} failed: {error}") from error
    return [to_python(item) for item in result]


def to_python(item: Any) -> Any:
    """A fhirpathpy result item as a plain value (dates as text, quantities as dicts)."""
    if isinstance(item, FP_Quantity):
        value = item.value
        return {"value": value, "unit": str(item.unit).strip("'")}
    if isinstance(item, FP_TimeBase):
        return str(getattr(item, "asStr", item))
    if isinstance(item, Decimal) and item == item.to_integral_value() and "." not in str(item):
        return int(item)
    return item


def _quiet_trace(*_: Any) -> None:
    """trace() output is for debugging sessions, not for the logs of a pipeline."""


# Environment variables of FHIRPath in FHIR (FHIR R4 §2.25 "FHIRPath", "Variables").
_FIXED_VARIABLES = {
    "sct": "http://snomed.info/sct",
    "loinc": "http://loinc.org",
    "ucum": "http://unitsofmeasure.org",
}
_NAMED_VARIABLE = re.compile(r"%`?(vs|ext)-([A-Za-z0-9._-]+)`?")
_VARIABLE_PREFIX = {
    "vs": "http://hl7.org/fhir/ValueSet/",
    "ext": "http://hl7.org/fhir/StructureDefinition/",
}


def environment(expression: str) -> dict[str, str]:
    """The FHIR environment variables an expression uses (``%loinc``, ``%vs-name``, ...)."""
    variables = dict(_FIXED_VARIABLES)
    for kind, name in _NAMED_VARIABLE.findall(expression):
        variables[f"{kind}-{name}"] = _VARIABLE_PREFIX[kind] + name
    return variables


# --- functions fhirpathpy lacks (FHIRPath N2/N3), given to it as a user invocation table ---

_DATE_DIGITS = (4, 6, 8, 10, 12, 14, 17)
_TIME_DIGITS = (2, 4, 6, 9)
_TEMPORAL = re.compile(
    r"^(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2})(?::(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<ms>\d+))?)?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?T?$"
)
_TIME = re.compile(
    r"^T?(?P<hour>\d{2})(?::(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<ms>\d+))?)?)?$"
)


def _decimal_places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _decimal_boundary(value: Decimal, precision: int | None, low: bool) -> Decimal | None:
    target = 8 if precision is None else precision
    if target < 0 or target > 28:
        return None
    half = Decimal(5).scaleb(-_decimal_places(value) - 1)
    bound = value - half if low else value + half
    rounding = ROUND_FLOOR if low else ROUND_CEILING
    return bound.quantize(Decimal(1).scaleb(-target), rounding=rounding)


def _last_day(year: int, month: int) -> int:
    if month == 12:
        return 31
    import datetime

    return (datetime.date(year, month + 1, 1) - datetime.timedelta(days=1)).day


def _date_boundary(text: str, precision: int | None, low: bool) -> str | None:
    match = _TEMPORAL.match(text)
    if match is None:
        return None
    parts = match.groupdict()
    target = 17 if precision is None else precision
    if target not in _DATE_DIGITS:
        return None
    month = parts["month"] or ("01" if low else "12")
    day = parts["day"] or ("01" if low else f"{_last_day(int(parts['year']), int(month)):02d}")
    result = parts["year"]
    if target >= 6:
        result += f"-{month}"
    if target >= 8:
        result += f"-{day}"
    if target >= 10:
        result += "T" + _time_fill(parts, low, target - 8)
        result += parts["zone"] or ("+14:00" if low else "-12:00")
    return result


def _time_fill(parts: dict[str, str | None], low: bool, digits: int) -> str:
    hour = parts["hour"] or ("00" if low else "23")
    minute = parts["minute"] or "00"
    second = parts["second"] or ("00" if low else "59")
    ms = (parts["ms"] or ("000" if low else "999"))[:3].ljust(3, "0" if low else "9")
    text = hour
    if digits >= 4:
        text += f":{minute}"
    if digits >= 6:
        text += f":{second}"
    if digits >= 9:
        text += f".{ms}"
    return text


def _time_boundary(text: str, precision: int | None, low: bool) -> str | None:
    match = _TIME.match(text)
    target = 9 if precision is None else precision
    if match is None or target not in _TIME_DIGITS:
        return None
    return _time_fill(match.groupdict(), low, target)


def _boundary(item: Any, precision: int | None, low: bool) -> Any:
    if isinstance(item, bool):
        return None
    if isinstance(item, int | float | Decimal):
        return _decimal_boundary(Decimal(str(item)), precision, low)
    if isinstance(item, FP_Quantity):
        bound = _decimal_boundary(Decimal(str(item.value)), precision, low)
        return None if bound is None else make_quantity(bound, item.unit)
    text = str(getattr(item, "asStr", item))
    if type(item).__name__ == "FP_Time" or (_TIME.match(text) and ":" in text):
        return _time_boundary(text, precision, low)
    return _date_boundary(text, precision, low)


def _boundary_function(low: bool) -> Callable[..., list[Any]]:
    def boundary(items: list[Any], precision: Any = None) -> list[Any]:
        if len(items) != 1 or precision == []:
            return []
        result = _boundary(items[0], None if precision is None else int(precision), low)
        return [] if result is None else [result]

    return boundary


def _precision(items: list[Any]) -> list[int]:
    if len(items) != 1:
        return []
    item = items[0]
    if isinstance(item, Decimal | int) and not isinstance(item, bool):
        return [_decimal_places(Decimal(str(item)))]
    text = str(getattr(item, "asStr", item))
    digits = len(
        re.sub(r"(Z|[+-]\d{2}:\d{2})$", "", text)
        .replace("T", "")
        .translate(str.maketrans("", "", "-:."))
    )
    return [digits]


def _has_value(items: list[Any]) -> list[bool]:
    return [len(items) == 1 and not isinstance(items[0], dict | list)]


def _matches_full(items: list[Any], pattern: Any) -> list[bool]:
    if len(items) != 1 or pattern == [] or not isinstance(items[0], str):
        return []
    return [re.fullmatch(str(pattern), items[0], flags=re.DOTALL) is not None]


def _escape(items: list[Any], target: Any) -> list[str]:
    if len(items) != 1 or not isinstance(items[0], str):
        return []
    if target == "html":
        return [html.escape(items[0], quote=True).replace("&#x27;", "&#39;")]
    if target == "json":
        return [json.dumps(items[0])[1:-1]]
    return []


def _unescape(items: list[Any], target: Any) -> list[str]:
    if len(items) != 1 or not isinstance(items[0], str):
        return []
    if target == "html":
        return [html.unescape(items[0])]
    if target == "json":
        return [re.sub(r"\\(u[0-9a-fA-F]{4}|.)", _json_escape, items[0])]
    return []


def _json_escape(match: re.Match[str]) -> str:
    code = match.group(1)
    if len(code) == 5:
        return chr(int(code[1:], 16))
    return {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}.get(code, code)


# Dimensions of common UCUM units, enough for comparable() on everyday clinical units
# (UCUM, "The Unified Code for Units of Measure", base units m, g, s, l).
_UCUM_DIMENSIONS = {
    **dict.fromkeys(["m", "cm", "mm", "km", "um", "[in_i]", "[ft_i]", "[yd_i]", "[mi_i]"], "L"),
    **dict.fromkeys(["g", "kg", "mg", "ug", "[lb_av]", "[oz_av]"], "M"),
    **dict.fromkeys(["s", "ms", "min", "h", "d", "wk", "mo", "a"], "T"),
    **dict.fromkeys(["l", "L", "dl", "dL", "ml", "mL", "ul", "uL"], "L3"),
}


def _comparable(items: list[Any], other: Any) -> list[bool]:
    if len(items) != 1 or not isinstance(items[0], FP_Quantity):
        return []
    if isinstance(other, list):
        other = other[0] if len(other) == 1 else None
    if not isinstance(other, FP_Quantity):
        return []
    first = _UCUM_DIMENSIONS.get(str(items[0].unit).strip("'"))
    second = _UCUM_DIMENSIONS.get(str(other.unit).strip("'"))
    return [first is not None and first == second]


def _conforms_to(items: list[Any], profile: Any) -> list[bool]:
    # Without profile validation, only the base StructureDefinition of the resource type is known.
    if len(items) != 1 or not isinstance(items[0], dict) or not isinstance(profile, str):
        return []
    if "/StructureDefinition/" not in profile:
        raise FHIRPathError(f"conformsTo(): {profile!r} is not a StructureDefinition URL")
    base = "http://hl7.org/fhir/StructureDefinition/" + str(items[0].get("resourceType"))
    return [profile == base]


_REFERENCE = re.compile(r"([A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(/_history/[^/]+)?$")


def _resource_key(items: list[Any]) -> list[str]:
    """SQL on FHIR ``getResourceKey()``: the resource id (as views compute it)."""
    return [str(i["id"]) for i in items if isinstance(i, dict) and "id" in i]


def _reference_key(items: list[Any], type_info: Any = None) -> list[str]:
    """SQL on FHIR ``getReferenceKey([Type])``: the id a Reference points to."""
    wanted = getattr(type_info, "name", None)
    keys = []
    for item in items:
        match = (
            _REFERENCE.search(str(item.get("reference", ""))) if isinstance(item, dict) else None
        )
        if match and wanted in (None, match.group(1)):
            keys.append(match.group(2))
    return keys


def _starts_with(items: list[Any], prefix: Any) -> Any:
    if len(items) == 1 and items[0] == "" and prefix == "":
        return [True]
    return fhirpath_strings.starts_with(None, items, prefix)


def _index_of(items: list[Any], substring: Any) -> Any:
    if isinstance(substring, list):
        return []
    return fhirpath_strings.index_of(None, items, substring)


def _replace(items: list[Any], pattern: Any, substitution: Any) -> Any:
    if isinstance(pattern, list) or isinstance(substitution, list):
        return []
    return fhirpath_strings.replace(None, items, pattern, substitution)


def _replace_matches(items: list[Any], regex: Any, substitution: Any) -> Any:
    if regex == "" and len(items) == 1:
        return items
    return fhirpath_strings.replace_matches(None, items, regex, substitution)


def _sort(items: list[Any], *keys: Callable[[Any], list[Any]]) -> list[Any]:
    def key(item: Any) -> tuple[Any, ...]:
        return tuple(tuple(k(item)) for k in keys) if keys else (item,)

    return sorted(items, key=key)


def _to_string(items: list[Any]) -> list[str]:
    if len(items) != 1:
        return []
    item = items[0]
    if isinstance(item, bool):
        return ["true" if item else "false"]
    if isinstance(item, FP_Quantity):
        return [f"{item.value} {item.unit}"]
    return [str(getattr(item, "asStr", item))]


def _round(items: list[Any], precision: Any = 0) -> list[Any]:
    if len(items) != 1 or precision == []:
        return []
    value = Decimal(str(items[0]))
    return [value.quantize(Decimal(1).scaleb(-int(precision)), rounding="ROUND_HALF_UP")]


EXTRA_FUNCTIONS: dict[str, dict[str, Any]] = {
    "lowBoundary": {"fn": _boundary_function(True), "arity": {0: [], 1: ["Integer"]}},
    "highBoundary": {"fn": _boundary_function(False), "arity": {0: [], 1: ["Integer"]}},
    "precision": {"fn": _precision, "arity": {0: []}},
    "hasValue": {"fn": _has_value, "arity": {0: []}},
    "matchesFull": {"fn": _matches_full, "arity": {1: ["String"]}},
    "escape": {"fn": _escape, "arity": {1: ["String"]}},
    "unescape": {"fn": _unescape, "arity": {1: ["String"]}},
    "sort": {"fn": _sort, "variadic": "Expr"},
    "toString": {"fn": _to_string, "arity": {0: []}},
    "round": {"fn": _round, "arity": {0: [], 1: ["Integer"]}},
    "getResourceKey": {"fn": _resource_key, "arity": {0: []}},
    "getReferenceKey": {"fn": _reference_key, "arity": {0: [], 1: ["TypeSpecifier"]}},
    "conformsTo": {"fn": _conforms_to, "arity": {1: ["String"]}},
    "comparable": {"fn": _comparable, "arity": {1: ["Any"]}},
    "startsWith": {"nullable_input": True, "fn": _starts_with, "arity": {1: ["String"]}},
    "indexOf": {"nullable_input": True, "fn": _index_of, "arity": {1: ["String"]}},
    "replace": {"nullable_input": True, "fn": _replace, "arity": {2: ["String", "String"]}},
    "replaceMatches": {
        "nullable_input": True,
        "fn": _replace_matches,
        "arity": {2: ["String", "String"]},
    },
}
"""FHIRPath functions added to fhirpathpy (name → fhirpathpy invocation entry)."""
