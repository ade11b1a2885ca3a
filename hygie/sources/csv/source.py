"""CSV extracts as an input format: one raw item per data row, mapped by a YAML mapping.

The first line is the header; it must name every column the mapping reads (other columns are
ignored). Each data row is recorded in the raw zone as its bytes in the file (a quoted field may
span lines), with its line number and byte offset, and becomes one resource (plus its Patient
when the warehouse has none with that identifier). A row that cannot be mapped is quarantined
with its line and the column at fault; the other rows go on.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from hygie.fhir.references import ConditionalQuery
from hygie.sources.base import (
    Interpretation,
    RawItem,
    ReadFailure,
    ReferenceLookup,
    Rejection,
    package_mapped,
)
from hygie.sources.csv.mapping import (
    ColumnRule,
    CsvMapping,
    Json,
    RowError,
    convert,
    load_mapping,
    set_element,
)
from hygie.sources.hl7v2.datatypes import derived_id

UTF8_BOM = b"\xef\xbb\xbf"
MAX_ROW_BYTES = 1024 * 1024
"""A row longer than this (an unclosed quote, most likely) stops the file."""


class CsvMappingSource:
    """CSV files read with one YAML mapping (``hygie ingest x.csv --format csv --mapping m.yaml``).

    >>> from hygie.sources.mappings import shipped_mapping
    >>> source = CsvMappingSource(shipped_mapping("lab-results"))
    >>> source.mapping.resource_type
    'Observation'
    """

    name = "csv"

    def __init__(self, mapping: Path | str | CsvMapping) -> None:
        self.mapping = mapping if isinstance(mapping, CsvMapping) else load_mapping(mapping)
        self.headers: dict[str, list[str]] = {}
        """Header of each file read, by source name (rows are read by position)."""

    def sniff(self, path: Path, head: bytes) -> bool:
        """True for a file whose header line names every column of the mapping."""
        line = head.removeprefix(UTF8_BOM).split(b"\n", 1)[0].rstrip(b"\r")
        try:
            header = _split(line.decode(self.mapping.encoding), self.mapping.delimiter)
        except (UnicodeDecodeError, csv.Error):
            return False
        return set(self.mapping.columns) <= {c.strip() for c in header}

    def read(self, path: Path) -> Iterator[RawItem | ReadFailure]:
        source = str(path)
        try:
            with path.open("rb") as handle:
                yield from self.read_rows(handle, source)
        except OSError as exc:
            yield ReadFailure(source, None, None, "unreadable-file", f"cannot read: {exc}")

    def read_rows(self, handle: BinaryIO, source: str) -> Iterator[RawItem | ReadFailure]:
        """The header checked, then one item per data row of ``handle``."""
        records = _records(handle)
        first = next(records, None)
        if first is None:
            yield ReadFailure(source, None, 0, "empty-file", "the CSV file has no header line")
            return
        _line, _offset, raw = first
        try:
            header = [c.strip() for c in _split(
                raw.removeprefix(UTF8_BOM).decode(self.mapping.encoding), self.mapping.delimiter
            )]  # fmt: skip
        except UnicodeDecodeError as exc:
            yield ReadFailure(source, 1, 0, "invalid-encoding",
                              f"line 1 (header): not {self.mapping.encoding} ({exc.reason}); "
                              "declare the file's encoding in the mapping")  # fmt: skip
            return
        missing = [c for c in self.mapping.columns if c not in header]
        if missing:
            yield ReadFailure(
                source, 1, 0, "header-mismatch",
                f"line 1 (header): column(s) {', '.join(map(repr, missing))} named by the "
                f"mapping {self.mapping.path.name} are absent (the header has "
                f"{', '.join(map(repr, header))}; is the delimiter {self.mapping.delimiter!r}?)",
            )  # fmt: skip
            return
        self.headers[source] = header
        for line_no, offset, content in records:
            if len(content) > MAX_ROW_BYTES:
                yield ReadFailure(source, line_no, offset, "row-too-large",
                                  f"line {line_no}: a row over 1 MiB (an unclosed quote?)")  # fmt: skip
                return
            if content.strip():
                yield RawItem(source, line_no, offset, self.name, content)

    def interpret(self, item: RawItem, lookup: ReferenceLookup) -> Interpretation:
        header = self.headers.get(item.source)
        if header is None:
            return _rejected("missing-header", f"{item.source}: rows come after their header")
        try:
            resources = map_row(self.mapping, header, item, lookup)
        except RowError as exc:
            return _rejected(exc.reason, str(exc))
        return package_mapped(resources, f"line {item.line_no}: ")


def map_row(
    mapping: CsvMapping, header: list[str], item: RawItem, lookup: ReferenceLookup
) -> list[Json]:
    """The resources of one data row: its Patient when produced, then the mapped resource."""
    line = item.line_no
    try:
        text = item.content.decode(mapping.encoding)
    except UnicodeDecodeError as exc:
        raise RowError("invalid-encoding",
                       f"line {line}: byte {exc.start} is not {mapping.encoding}") from None  # fmt: skip
    try:
        cells = _split(text, mapping.delimiter)
    except csv.Error as exc:
        raise RowError("invalid-row", f"line {line}: {exc}") from None
    if len(cells) != len(header):
        raise RowError(
            "wrong-column-count",
            f"line {line}: {len(cells)} fields where the header has {len(header)} "
            f"(delimiter {mapping.delimiter!r}; quote values that contain it)",
        )
    row = {name: value.strip() for name, value in zip(header, cells, strict=True)}
    keys = []
    for column in mapping.id_columns:
        if not row[column]:
            raise RowError("missing-required-field",
                           f"line {line}, column {column!r}: the id key column is empty")  # fmt: skip
        keys.append(row[column])
    resource: Json = {"resourceType": mapping.resource_type,
                      "id": derived_id(mapping.resource_type, mapping.name, *keys)}  # fmt: skip
    for steps, value in mapping.fixed:
        set_element(resource, steps, value)
    _apply(resource, mapping.rules, row, mapping, line)
    produced: list[Json] = []
    if mapping.patient is not None:
        patient = _patient(mapping, row, line, lookup)
        if patient.get("resourceType") == "Patient":
            produced.append(patient)
        set_element(resource, mapping.patient.element,
                    {"reference": f"Patient/{patient['id']}"})  # fmt: skip
    produced.append(resource)
    return produced


def _patient(mapping: CsvMapping, row: dict[str, str], line: int | None,
             lookup: ReferenceLookup) -> Json:  # fmt: skip
    """The row's patient: ``{"id": ...}`` when found by identifier, else a new Patient."""
    key = mapping.patient
    assert key is not None
    value = row[key.column]
    if not value:
        raise RowError("missing-patient-identifier",
                       f"line {line}, column {key.column!r}: the patient identifier is empty")  # fmt: skip
    found = lookup.find(ConditionalQuery("Patient", ((key.system, value),)))
    if found is not None:
        return {"id": found}
    if key.when_missing == "quarantine":
        raise RowError("unknown-patient", f"line {line}, column {key.column!r}: no Patient has "
                       f"the identifier {key.system}|{value}; ingest the patients first")  # fmt: skip
    patient: Json = {
        "resourceType": "Patient",
        "id": derived_id("Patient", f"{key.system}|{value}"),
        "identifier": [{"system": key.system, "value": value}],
    }
    _apply(patient, key.rules, row, mapping, line)
    return patient


def _apply(resource: Json, rules: tuple[ColumnRule, ...], row: dict[str, str],
           mapping: CsvMapping, line: int | None) -> None:  # fmt: skip
    for rule in rules:
        text = row[rule.column]
        if not text:
            if rule.required:
                raise RowError("missing-required-field",
                               f"line {line}, column {rule.column!r}: a value is required")  # fmt: skip
            continue
        value = convert(text, rule, mapping, f"line {line}, column {rule.column!r}")
        for steps in rule.elements:
            set_element(resource, steps, value)
        for steps, fixed in rule.also:
            set_element(resource, steps, fixed)


def _split(text: str, delimiter: str) -> list[str]:
    return next(csv.reader([text], delimiter=delimiter, strict=True), [])


def _rejected(reason: str, message: str) -> Interpretation:
    return Interpretation(rejections=[Rejection(reason, message)])


def _records(handle: BinaryIO) -> Iterator[tuple[int, int, bytes]]:
    """(line number, byte offset, bytes) of each record; a quoted field may hold line breaks."""
    offset = 0
    pending = b""
    start_line = start_offset = 0
    for line_no, line in enumerate(handle, start=1):
        if not pending:
            start_line, start_offset = line_no, offset
        offset += len(line)
        pending += line
        if pending.count(b'"') % 2 == 0 or len(pending) > MAX_ROW_BYTES:
            yield start_line, start_offset, pending.rstrip(b"\r\n")
            pending = b""
    if pending:
        yield start_line, start_offset, pending.rstrip(b"\r\n")
