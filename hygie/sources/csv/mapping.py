"""YAML mappings of CSV extracts: which column becomes which FHIR element, and how.

A mapping file names the resource type, the CSV dialect (delimiter, encoding, decimal mark),
the key columns the resource id derives from, the patient key, fixed values and one rule per
column. ``docs/connectors.md`` has a complete example; the shipped ones are in
``hygie/sources/mappings/``.

Element paths are FHIR element names separated by dots, with an index where the element
repeats: ``code.coding[0].code``, ``contained[0].batch.lotNumber``.

>>> set_element({}, parse_element("code.coding[0].code"), "2951-2")
{'code': {'coding': [{'code': '2951-2'}]}}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from hygie.errors import ConfigError

Json = dict[str, Any]
Step = tuple[str, int | None]
"""One element of a path: its name and, for a repeating element, the index."""

ELEMENT_STEP = re.compile(r"(?P<name>[a-z][A-Za-z0-9]*)(?:\[(?P<index>\d{1,3})\])?")
VALUE_TYPES = ("string", "code", "integer", "decimal", "boolean", "date", "dateTime")
"""Value types a column may declare: FHIR primitive type names."""
TRUE_WORDS = frozenset({"true", "1", "yes", "y", "oui", "o", "vrai"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "non", "faux"})
MAPPING_KEYS = frozenset({"name", "description", "resourceType", "delimiter", "encoding",
                          "decimal", "timezone", "id", "patient", "fixed", "columns"})  # fmt: skip
RULE_KEYS = frozenset({"element", "type", "format", "required", "values", "also"})
PATIENT_KEYS = frozenset({"column", "system", "element", "when_missing", "columns"})


class RowError(ValueError):
    """A value of a row that cannot be mapped, with a stable reason code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ColumnRule:
    """How one column's text becomes the value of one or more FHIR elements."""

    column: str
    elements: tuple[tuple[Step, ...], ...]
    type: str = "string"
    format: str | None = None
    required: bool = False
    values: dict[str, str] | None = None
    """Translation of source codes to FHIR codes; a value not listed is an error."""
    also: tuple[tuple[tuple[Step, ...], Any], ...] = ()
    """Fixed values set only when the column has a value (the code system of a code...)."""


@dataclass(frozen=True, slots=True)
class PatientKey:
    """The column holding the patient's identifier, and what to do with it."""

    column: str
    system: str
    element: tuple[Step, ...]
    when_missing: str = "create"
    """``create`` a Patient from the row when none has the identifier, or ``quarantine``."""
    rules: tuple[ColumnRule, ...] = ()
    """Columns that fill the Patient produced from the row."""


@dataclass(frozen=True, slots=True)
class CsvMapping:
    """A parsed, checked mapping file."""

    path: Path
    name: str
    resource_type: str
    delimiter: str
    encoding: str
    decimal: str
    zone: ZoneInfo
    id_columns: tuple[str, ...]
    patient: PatientKey | None
    fixed: tuple[tuple[tuple[Step, ...], Any], ...]
    rules: tuple[ColumnRule, ...]
    columns: tuple[str, ...] = field(default=())
    """Every column the mapping reads; the file's header must name them all."""


def load_mapping(path: Path | str) -> CsvMapping:
    """Read and check a YAML mapping file (raises ConfigError saying what and where)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the CSV mapping ({exc})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: the CSV mapping is not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a CSV mapping is a YAML mapping of keys (name, columns, ...)")
    where = str(path)
    _no_unknown(data, MAPPING_KEYS, where)
    name = _text(data, "name", where)
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        raise ConfigError(f"{where}: name {name!r} may only hold letters, digits, '.', '_', '-'")
    resource_type = _text(data, "resourceType", where)
    delimiter = str(data.get("delimiter", ","))
    if delimiter not in (",", ";", "\t", "|"):
        raise ConfigError(f"{where}: delimiter {delimiter!r} must be one of ',', ';', tab, '|'")
    encoding = str(data.get("encoding", "utf-8")).lower()
    if encoding not in ("utf-8", "utf8", "latin-1", "latin1", "iso-8859-1", "iso-8859-15",
                        "cp1252", "windows-1252"):  # fmt: skip
        raise ConfigError(f"{where}: encoding {encoding!r} is not supported (utf-8, latin-1...)")
    decimal = str(data.get("decimal", "."))
    if decimal not in (".", ","):
        raise ConfigError(f"{where}: decimal must be '.' or ','")
    try:
        zone = ZoneInfo(str(data.get("timezone", "Europe/Paris")))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}: unknown timezone {data.get('timezone')!r}") from None
    id_columns = data.get("id")
    if isinstance(id_columns, str):
        id_columns = [id_columns]
    if (
        not isinstance(id_columns, list)
        or not id_columns
        or not all(isinstance(c, str) for c in id_columns)
    ):
        raise ConfigError(
            f"{where}: id must list the key columns the resource id derives from "
            "(ingesting the file again must give the same ids)"
        )
    rules = _rules(data.get("columns"), f"{where}: columns")
    fixed = tuple(
        (parse_element(str(key), f"{where}: fixed"), value)
        for key, value in (data.get("fixed") or {}).items()
    )
    patient = _patient(data.get("patient"), f"{where}: patient")
    columns = [rule.column for rule in rules] + list(id_columns)
    if patient is not None:
        columns += [patient.column] + [rule.column for rule in patient.rules]
    return CsvMapping(
        path, name, resource_type, delimiter, "latin-1" if encoding == "latin1" else encoding,
        decimal, zone, tuple(id_columns), patient, fixed, rules, tuple(dict.fromkeys(columns)),
    )  # fmt: skip


def parse_element(text: str, where: str = "element") -> tuple[Step, ...]:
    """``code.coding[0].code`` → (('code', None), ('coding', 0), ('code', None))."""
    steps: list[Step] = []
    for part in text.split("."):
        match = ELEMENT_STEP.fullmatch(part)
        if match is None:
            raise ConfigError(
                f"{where}: {text!r} is not an element path (names separated by dots, "
                "an index in brackets for repeating elements: code.coding[0].code)"
            )
        index = match["index"]
        steps.append((match["name"], int(index) if index is not None else None))
    return tuple(steps)


def set_element(resource: Json, steps: tuple[Step, ...], value: Any) -> Json:
    """Put ``value`` at the element path ``steps`` of ``resource``, creating what is missing."""
    node: Any = resource
    last = len(steps) - 1
    for position, (name, index) in enumerate(steps):
        leaf = position == last
        if index is None:
            if leaf:
                node[name] = value
            else:
                node = node.setdefault(name, {})
            continue
        items = node.setdefault(name, [])
        while len(items) <= index:
            items.append({})
        if leaf:
            items[index] = value
        else:
            node = items[index]
    return resource


def convert(text: str, rule: ColumnRule, mapping: CsvMapping, where: str) -> Any:
    """The cell ``text`` as the JSON value of the rule's type (raises RowError)."""
    if rule.values is not None:
        if text not in rule.values:
            known = ", ".join(sorted(rule.values))
            raise RowError("unmapped-value", f"{where}: {text!r} is not one of {known}")
        text = rule.values[text]
    kind = rule.type
    if kind in ("string", "code"):
        return text
    if kind in ("integer", "decimal"):
        number = text.replace(" ", "").replace("\u00a0", "")
        if mapping.decimal == ",":
            number = number.replace(",", ".")
        try:
            if kind == "integer" or re.fullmatch(r"[+-]?\d+", number):
                return int(number)
            if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", number):
                raise ValueError(number)
            return float(number)
        except ValueError:
            raise RowError("invalid-number", f"{where}: {text!r} is not a {kind}") from None
    if kind == "boolean":
        word = text.lower()
        if word in TRUE_WORDS or word in FALSE_WORDS:
            return word in TRUE_WORDS
        raise RowError("invalid-boolean", f"{where}: {text!r} is not a yes/no value")
    return _date_value(text, rule, mapping, where)


def _date_value(text: str, rule: ColumnRule, mapping: CsvMapping, where: str) -> str:
    pattern = rule.format or ("%Y-%m-%d" if rule.type == "date" else "%Y-%m-%dT%H:%M:%S")
    try:
        parsed = datetime.strptime(text, pattern)
    except ValueError:
        raise RowError("invalid-date", f"{where}: {text!r} does not match {pattern}") from None
    has_time = any(code in pattern for code in ("%H", "%I", "%M", "%S"))
    if rule.type == "date" or not has_time:
        return parsed.date().isoformat()
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=mapping.zone)
    return parsed.isoformat(timespec="seconds")


def _rules(data: Any, where: str) -> tuple[ColumnRule, ...]:
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{where}: expected a mapping of column name → rule")
    rules = []
    for column, spec in data.items():
        at = f"{where}.{column}"
        if isinstance(spec, str):
            spec = {"element": spec}
        if not isinstance(spec, dict):
            raise ConfigError(f"{at}: a rule is an element path or a mapping with 'element'")
        _no_unknown(spec, RULE_KEYS, at)
        elements = spec.get("element")
        paths = [elements] if isinstance(elements, str) else elements
        if not isinstance(paths, list) or not paths:
            raise ConfigError(f"{at}: 'element' names the FHIR element(s) the column fills")
        kind = str(spec.get("type", "string"))
        if kind not in VALUE_TYPES:
            raise ConfigError(f"{at}: type {kind!r} is not one of {', '.join(VALUE_TYPES)}")
        values = spec.get("values")
        if values is not None and not isinstance(values, dict):
            raise ConfigError(f"{at}: 'values' maps source codes to FHIR codes")
        also = spec.get("also") or {}
        if not isinstance(also, dict):
            raise ConfigError(f"{at}: 'also' maps element paths to fixed values")
        rules.append(
            ColumnRule(
                str(column),
                tuple(parse_element(str(p), at) for p in paths),
                kind,
                str(spec["format"]) if "format" in spec else None,
                bool(spec.get("required", False)),
                {str(k): str(v) for k, v in values.items()} if values is not None else None,
                tuple((parse_element(str(k), at), v) for k, v in also.items()),
            )
        )
    return tuple(rules)


def _patient(data: Any, where: str) -> PatientKey | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected column, system (and element, columns)")
    _no_unknown(data, PATIENT_KEYS, where)
    when_missing = str(data.get("when_missing", "create"))
    if when_missing not in ("create", "quarantine"):
        raise ConfigError(f"{where}: when_missing is 'create' or 'quarantine'")
    columns = data.get("columns")
    return PatientKey(
        _text(data, "column", where),
        _text(data, "system", where),
        parse_element(str(data.get("element", "subject")), where),
        when_missing,
        _rules(columns, f"{where}.columns") if columns else (),
    )


def _text(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: '{key}' is required (a text value)")
    return value.strip()


def _no_unknown(data: dict[str, Any], known: frozenset[str], where: str) -> None:
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
