"""``lowBoundary()`` and ``highBoundary()`` in SQL, for decimals, dates, dateTimes and times.

FHIRPath (N2, §"lowBoundary") defines the boundaries of a value from its precision: a decimal
``1.0`` spans 0.95 to 1.05, a date ``1970-06`` spans 1970-06-01 to 1970-06-30, a dateTime
without a time zone spans the widest offsets (+14:00 to -12:00). Values stay strings so that the
output keeps the FHIR lexical form.
"""

from __future__ import annotations

from hygie.fhir.views.sql_values import NUMERIC_JSON_TYPES

_DECIMAL_TYPES = {"decimal", "integer", "positiveInt", "unsignedInt", "integer64"}
_DATETIME_TYPES = {"dateTime", "instant"}


def low_boundary(json_sql: str, fhir_type: str | None) -> str:
    """SQL (a JSON value) of the lowest value ``json_sql`` may stand for."""
    return _boundary(json_sql, fhir_type, low=True)


def high_boundary(json_sql: str, fhir_type: str | None) -> str:
    """SQL (a JSON value) of the highest value ``json_sql`` may stand for."""
    return _boundary(json_sql, fhir_type, low=False)


def _boundary(json_sql: str, fhir_type: str | None, *, low: bool) -> str:
    text = f"({json_sql} ->> '$')"
    branches = {
        "decimal": _decimal(json_sql, text, low),
        "date": f"to_json({_date(text, low)})",
        "dateTime": f"to_json({_date_time(text, low)})",
        "time": f"to_json({_time(text, low)})",
    }
    if fhir_type in _DECIMAL_TYPES:
        return branches["decimal"]
    if fhir_type in _DATETIME_TYPES:
        return branches["dateTime"]
    if fhir_type in ("date", "time"):
        return branches[fhir_type]
    return (
        f"CASE WHEN json_type({json_sql}) IN {NUMERIC_JSON_TYPES} THEN {branches['decimal']} "
        f"WHEN regexp_matches({text}, '^[0-9]{{2}}:') THEN {branches['time']} "
        f"WHEN regexp_matches({text}, '^[0-9]{{4}}(-[0-9]{{2}}(-[0-9]{{2}})?)?$') "
        f"THEN {branches['date']} "
        f"WHEN strpos({text}, 'T') > 0 THEN {branches['dateTime']} END"
    )


def _decimal(json_sql: str, text: str, low: bool) -> str:
    places = (
        f"(CASE WHEN strpos({text}, '.') > 0 THEN length({text}) - strpos({text}, '.') ELSE 0 END)"
    )
    sign = "-" if low else "+"
    return (
        f"to_json(round(CAST({json_sql} AS DOUBLE) {sign} 0.5 * pow(10, -{places}), "
        f"CAST({places} + 1 AS INTEGER)))"
    )


def _date(text: str, low: bool) -> str:
    if low:
        return (
            f"CASE length({text}) WHEN 4 THEN {text} || '-01-01' "
            f"WHEN 7 THEN {text} || '-01' ELSE {text} END"
        )
    return (
        f"CASE length({text}) WHEN 4 THEN {text} || '-12-31' "
        f"WHEN 7 THEN strftime(last_day(CAST({text} || '-01' AS DATE)), '%Y-%m-%d') "
        f"ELSE {text} END"
    )


def _time(text: str, low: bool) -> str:
    fill = ("00:00:00.000", ":00:00.000", ":00.000", ".000", "0")
    if not low:
        fill = ("23:59:59.999", ":59:59.999", ":59.999", ".999", "9")
    return (
        f"CASE length({text}) WHEN 0 THEN '{fill[0]}' WHEN 2 THEN {text} || '{fill[1]}' "
        f"WHEN 5 THEN {text} || '{fill[2]}' WHEN 8 THEN {text} || '{fill[3]}' "
        f"ELSE rpad({text}, 12, '{fill[4]}') END"
    )


def _date_time(text: str, low: bool) -> str:
    date_part = f"split_part({text}, 'T', 1)"
    time_part = f"regexp_extract({text}, 'T([0-9:.]+)', 1)"
    zone = f"nullif(regexp_extract({text}, 'T[0-9:.]+(Z|[+-][0-9]{{2}}:[0-9]{{2}})$', 1), '')"
    widest = "'+14:00'" if low else "'-12:00'"
    return (
        f"({_date(date_part, low)} || 'T' || {_time(time_part, low)} || coalesce({zone}, {widest}))"
    )
