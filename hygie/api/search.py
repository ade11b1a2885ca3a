"""FHIR search: query parameters → a SQL predicate with bound values, paging and includes.

Every value of the query ends up as a bound parameter; the only text placed in the SQL comes from
``search_parameters.toml`` (JSON paths checked at load). Semantics follow
https://hl7.org/fhir/R4/search.html: a repeated parameter is AND, a comma-separated list is OR.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hygie.api.outcome import FhirError
from hygie.api.search_parameters import SearchParameter, parameters_of, reference_parameter
from hygie.fhir.validation import ID_PATTERN, r4_resource_types

DEFAULT_COUNT = 50
MAX_COUNT = 1000
MAX_OFFSET = 1_000_000
MAX_VALUES = 100
"""Comma-separated values accepted in one parameter."""
CONTROL_PARAMETERS = frozenset(
    {"_count", "_offset", "_include", "_revinclude", "_summary", "_elements", "_format"}
)
DATE_VALUE = re.compile(
    r"(?P<prefix>eq|ne|gt|lt|ge|le)?(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,6})\d*)?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?"
)
ELEMENT_NAME = re.compile(r"[a-z][A-Za-z0-9]{0,63}")


@dataclass
class Include:
    """``_include=Source:param[:Target]`` or ``_revinclude=Source:param[:Target]``."""

    source_type: str
    parameter: SearchParameter
    target_types: tuple[str, ...]


@dataclass
class SearchRequest:
    """A parsed search on one resource type."""

    resource_type: str
    filters: list[tuple[SearchParameter, str | None, list[str]]] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    offset: int = 0
    includes: list[Include] = field(default_factory=list)
    revincludes: list[Include] = field(default_factory=list)
    summary_count: bool = False
    elements: list[str] | None = None
    ignored: list[str] = field(default_factory=list)
    references: dict[str, list[str]] = field(default_factory=dict)
    """Values of the reference filters (param name → Type/id), checked against compartments."""


def parse_search(
    resource_type: str, items: list[tuple[str, str]], *, strict: bool
) -> SearchRequest:
    """Parse the query of a search; unknown parameters raise (strict) or are listed as ignored."""
    request = SearchRequest(resource_type)
    known = parameters_of(resource_type)
    for raw_name, value in items:
        name, _, modifier = raw_name.partition(":")
        if name in CONTROL_PARAMETERS:
            _control(request, name, value, strict)
            continue
        parameter = known.get(name)
        if parameter is None or not _modifier_ok(parameter, modifier or None):
            if strict:
                raise FhirError(
                    400,
                    f"search parameter {raw_name[:80]!r} is not supported on {resource_type} "
                    f"(supported: {', '.join(sorted(known))}); see /metadata",
                    code="not-supported",
                )
            request.ignored.append(raw_name[:80])
            continue
        values = value.split(",")
        if len(values) > MAX_VALUES or not all(values):
            raise FhirError(400, f"{raw_name}: between 1 and {MAX_VALUES} non-empty values")
        if parameter.type == "reference":
            values = [_reference_value(parameter, modifier or None, v) for v in values]
            request.references.setdefault(name, []).extend(values)
            modifier = ""
        request.filters.append((parameter, modifier or None, values))
    return request


def _modifier_ok(parameter: SearchParameter, modifier: str | None) -> bool:
    if modifier is None or modifier == "missing":
        return parameter.type not in ("id", "last_updated") or modifier is None
    if parameter.type == "string":
        return modifier in ("exact", "contains")
    if parameter.type == "reference":
        return modifier in parameter.targets
    return False


def _control(request: SearchRequest, name: str, value: str, strict: bool) -> None:
    if name == "_count":
        request.count = _bounded_int(name, value, MAX_COUNT)
        if request.count == 0:
            request.summary_count = True
    elif name == "_offset":
        request.offset = _bounded_int(name, value, MAX_OFFSET)
    elif name == "_summary":
        if value == "count":
            request.summary_count = True
        elif value != "false":
            _unsupported(request, f"_summary={value[:20]}", strict)
    elif name == "_elements":
        names = [v.strip() for v in value.split(",") if v.strip()]
        if not names or not all(ELEMENT_NAME.fullmatch(n) for n in names):
            raise FhirError(400, "_elements takes a comma-separated list of element names")
        request.elements = names
    elif name == "_format":
        if value not in ("json", "application/json", "application/fhir+json"):
            raise FhirError(415, f"_format {value[:40]!r}: only FHIR JSON is served")
    else:
        include = _parse_include(request.resource_type, name, value)
        (request.includes if name == "_include" else request.revincludes).append(include)


def _unsupported(request: SearchRequest, what: str, strict: bool) -> None:
    if strict:
        raise FhirError(400, f"{what} is not supported", code="not-supported")
    request.ignored.append(what)


def _bounded_int(name: str, value: str, maximum: int) -> int:
    if not value.isdigit() or len(value) > 9 or int(value) > maximum:
        raise FhirError(400, f"{name} must be a whole number from 0 to {maximum}")
    return int(value)


def _parse_include(resource_type: str, name: str, value: str) -> Include:
    parts = value.split(":")
    if len(parts) not in (2, 3) or parts[0] not in r4_resource_types():
        raise FhirError(400, f"{name}={value[:80]!r}: expected SourceType:parameter[:TargetType]")
    source_type, parameter_name = parts[0], parts[1]
    if name == "_include" and source_type != resource_type:
        raise FhirError(400, f"_include must start with the searched type {resource_type}")
    parameter = reference_parameter(source_type, parameter_name)
    if parameter is None:
        raise FhirError(
            400,
            f"{name}={value[:80]!r}: {source_type} has no reference parameter "
            f"{parameter_name!r} that Hygie supports",
            code="not-supported",
        )
    targets = parameter.targets
    if len(parts) == 3:
        if parts[2] not in targets:
            raise FhirError(400, f"{name}: {parameter_name} does not point to {parts[2]!r}")
        targets = (parts[2],)
    if name == "_revinclude" and resource_type not in targets:
        raise FhirError(
            400, f"_revinclude={value[:80]}: {parameter_name} never points to {resource_type}"
        )
    return Include(source_type, parameter, targets)


def _reference_value(parameter: SearchParameter, modifier: str | None, value: str) -> str:
    tail = value.rstrip("/").split("/")
    if len(tail) >= 2 and tail[-2] in r4_resource_types():
        reference_type, reference_id = tail[-2], tail[-1]
    elif len(tail) == 1 and (modifier or len(parameter.targets) == 1):
        reference_type, reference_id = modifier or parameter.targets[0], tail[0]
    else:
        raise FhirError(400, f"{parameter.name}={value[:80]!r}: give Type/id")
    if ID_PATTERN.fullmatch(reference_id) is None:
        raise FhirError(400, f"{parameter.name}: {reference_id[:80]!r} is not a FHIR id")
    if parameter.targets and reference_type not in parameter.targets:
        raise FhirError(400, f"{parameter.name} points to {', '.join(parameter.targets)}")
    return f"{reference_type}/{reference_id}"


def values_list(paths: tuple[str, ...], suffix: str = "") -> str:
    """SQL list of the string values the paths select in column ``resource``."""
    lists = [
        f"json_extract_string(resource, '{p}{suffix}')"
        if "[*]" in p + suffix
        else f"list_value(json_extract_string(resource, '{p}{suffix}'))"
        for p in paths
    ]
    return lists[0] if len(lists) == 1 else f"flatten(list_value({', '.join(lists)}))"


def date_expression(paths: tuple[str, ...]) -> str:
    """SQL timestamp of the first date path present (partial dates padded to their start)."""
    value = "COALESCE(" + ", ".join(f"json_extract_string(resource, '{p}')" for p in paths) + ")"
    if len(paths) == 1:
        value = value[len("COALESCE(") : -1]
    return (
        f"TRY_CAST(CASE length({value}) WHEN 4 THEN {value} || '-01-01' "
        f"WHEN 7 THEN {value} || '-01' ELSE {value} END AS TIMESTAMPTZ)"
    )


def date_range(name: str, value: str) -> tuple[str, datetime, datetime]:
    """(prefix, start, end) of a date search value, end exclusive, at its precision."""
    match = DATE_VALUE.fullmatch(value)
    if match is None:
        raise FhirError(400, f"{name}={value[:40]!r}: expected [prefix]YYYY[-MM[-DD[Thh:mm:ss]]]")
    prefix = match["prefix"] or "eq"
    try:
        year, month, day = int(match["year"]), int(match["month"] or 1), int(match["day"] or 1)
        hour, minute = int(match["hour"] or 0), int(match["minute"] or 0)
        second = int(match["second"] or 0)
        tz = match["tz"]
        zone = UTC if tz in (None, "Z") else datetime.strptime(tz, "%z").tzinfo
        micro = int((match["fraction"] or "0").ljust(6, "0"))
        start = datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
    except ValueError as exc:
        raise FhirError(400, f"{name}={value[:40]!r}: not a date ({exc})") from exc
    if match["month"] is None:
        end = start.replace(year=start.year + 1)
    elif match["day"] is None:
        end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    elif match["hour"] is None:
        end = start + timedelta(days=1)
    elif match["second"] is None:
        end = start + timedelta(minutes=1)
    elif match["fraction"] is None:
        end = start + timedelta(seconds=1)
    else:
        end = start + timedelta(microseconds=1)
    return prefix, start, end


def date_clause(
    expression: str, prefix: str, start: datetime, end: datetime
) -> tuple[str, list[Any]]:
    """The comparison of a date prefix against [start, end)."""
    if prefix == "eq":
        return f"({expression} >= ? AND {expression} < ?)", [start, end]
    if prefix == "ne":
        return f"NOT ({expression} >= ? AND {expression} < ?)", [start, end]
    operator, bound = {
        "gt": (">=", end),
        "ge": (">=", start),
        "lt": ("<", start),
        "le": ("<", end),
    }[prefix]
    return f"{expression} {operator} ?", [bound]


def filter_clause(
    parameter: SearchParameter, modifier: str | None, values: list[str]
) -> tuple[str, list[Any]]:
    """SQL predicate and bound values for one parameter (its values OR-ed)."""
    if modifier == "missing":
        if values != ["true"] and values != ["false"]:
            raise FhirError(400, f"{parameter.name}:missing takes true or false")
        present = f"len(list_filter({values_list(parameter.paths)}, lambda v: v IS NOT NULL)) > 0"
        return (f"NOT {present}" if values == ["true"] else present), []
    if parameter.type == "id":
        return "list_contains(?, id)", [values]
    if parameter.type == "last_updated":
        return _or(date_clause("last_updated", *date_range(parameter.name, v)) for v in values)
    if parameter.type == "reference":
        return f"list_has_any({values_list(parameter.paths)}, ?)", [values]
    if parameter.type == "date":
        expression = date_expression(parameter.paths)
        return _or(date_clause(expression, *date_range(parameter.name, v)) for v in values)
    if parameter.type == "string":
        listed = values_list(parameter.paths)
        if modifier == "exact":
            return f"list_has_any({listed}, ?)", [values]
        test = "contains" if modifier == "contains" else "starts_with"
        return _or(
            (f"len(list_filter({listed}, lambda x: {test}(lower(x), ?))) > 0", [v.lower()])
            for v in values
        )
    return _or(_token_clause(parameter, v) for v in values)


def _token_clause(parameter: SearchParameter, value: str) -> tuple[str, list[Any]]:
    if parameter.kind == "code":
        return f"list_contains({values_list(parameter.paths)}, ?)", [value.rpartition("|")[2]]
    field_name = "value" if parameter.kind == "identifier" else "code"
    system, bar, code = value.partition("|")
    if not bar:
        return f"list_contains({values_list(parameter.paths, '.' + field_name)}, ?)", [value]
    if not code:
        return f"list_contains({values_list(parameter.paths, '.system')}, ?)", [system]
    pairs = [
        f"list_transform(json_extract(resource, '{p}'), lambda c: "
        f"coalesce(json_extract_string(c, '$.system'), '') || '|' || "
        f"coalesce(json_extract_string(c, '$.{field_name}'), ''))"
        for p in parameter.paths
    ]
    listed = pairs[0] if len(pairs) == 1 else f"flatten(list_value({', '.join(pairs)}))"
    return f"list_contains({listed}, ?)", [f"{system}|{code}"]


def _or(clauses: Any) -> tuple[str, list[Any]]:
    texts: list[str] = []
    params: list[Any] = []
    for text, values in clauses:
        texts.append(text)
        params.extend(values)
    return ("(" + " OR ".join(texts) + ")" if len(texts) > 1 else texts[0]), params


def where_clause(request: SearchRequest) -> tuple[str, list[Any]]:
    """The predicate of all filters (AND-ed), on columns id, last_updated and resource."""
    texts = ["resource_type = ?"]
    params: list[Any] = [request.resource_type]
    for parameter, modifier, values in request.filters:
        text, values_bound = filter_clause(parameter, modifier, values)
        texts.append(text)
        params.extend(values_bound)
    return " AND ".join(texts), params
