"""CSV extracts with a YAML mapping → FHIR: the shipped examples, bad rows, bad mappings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hygie.errors import ConfigError
from hygie.sources.csv import CsvMappingSource, load_mapping
from hygie.warehouse.warehouse import Warehouse
from tests.sources.conftest import (
    CONNECTORS,
    CSV,
    MAPPINGS,
    assert_valid_and_linked,
    ingest_with,
    matches_expected,
)

EXAMPLES = ["lab-results", "pharmacy-dispensing"]


class NoLookup:
    def find(self, query: object) -> None:
        return None


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_example_extract_gives_its_hand_written_expected_resources(name: str) -> None:
    expected = json.loads((CONNECTORS / "csv" / f"{name}.expected.json").read_text())
    source = CsvMappingSource(MAPPINGS / f"{name}.yaml")
    produced: dict[tuple[str, str], dict[str, object]] = {}
    for item in source.read(CSV / f"{name}.csv"):
        assert not hasattr(item, "reason"), item
        outcome = source.interpret(item, NoLookup())  # type: ignore[arg-type]
        assert outcome.rejections == []
        for resource in outcome.resources:
            produced[(resource.resource_type, resource.id)] = json.loads(resource.json or b"{}")
    counts: dict[str, int] = {}
    for resource_type, _id in produced:
        counts[resource_type] = counts.get(resource_type, 0) + 1
    assert counts == expected["counts"]
    for wanted in expected["resources"]:
        actual = produced[(wanted["resourceType"], wanted["id"])]
        matches_expected(actual, wanted)
        assert set(actual) == set(wanted), f"{wanted['id']}: unexpected elements"


def test_rows_are_raw_items_with_their_line_and_byte_offset() -> None:
    path = CSV / "lab-results.csv"
    content = path.read_bytes()
    items = list(CsvMappingSource(MAPPINGS / "lab-results.yaml").read(path))
    assert [i.line_no for i in items] == [2, 3, 4, 5, 6]  # type: ignore[union-attr]
    for item in items:
        start = item.byte_offset  # type: ignore[union-attr]
        assert content[start : start + len(item.content)] == item.content  # type: ignore[union-attr]


def test_both_extracts_ingest_into_one_warehouse_and_share_their_patients(
    warehouse: Warehouse,
) -> None:
    lab = ingest_with(warehouse, CsvMappingSource(MAPPINGS / "lab-results.yaml"),
                      [CSV / "lab-results.csv"]).summary()  # fmt: skip
    assert lab["quarantined"] == 0 and lab["formats"] == {"csv": 1}
    assert lab["by_type"]["Patient"]["created"] == 3
    assert lab["by_type"]["Observation"]["created"] == 5
    pharmacy = ingest_with(warehouse, CsvMappingSource(MAPPINGS / "pharmacy-dispensing.yaml"),
                           [CSV / "pharmacy-dispensing.csv"]).summary()  # fmt: skip
    assert pharmacy["quarantined"] == 0
    # 900001 and 900002 are found by identifier; only 900004 is new.
    assert pharmacy["by_type"]["Patient"]["created"] == 1
    assert pharmacy["by_type"]["MedicationDispense"]["created"] == 3
    resources = assert_valid_and_linked(warehouse)
    claire = next(r for r in resources if r["resourceType"] == "Patient"
                  and r["identifier"][0]["value"] == "900001")  # fmt: skip
    assert claire["birthDate"] == "1962-03-14"  # the lab extract's Patient was not overwritten
    with warehouse.reading() as engine:
        [(raw_rows,)] = engine.fetchall("SELECT COUNT(*) FROM raw_input")
    assert raw_rows == 8
    again = ingest_with(warehouse, CsvMappingSource(MAPPINGS / "lab-results.yaml"),
                        [CSV / "lab-results.csv"]).summary()  # fmt: skip
    assert again["created"] == 0 and again["updated"] == 0


BAD_ROWS = [
    # (row, reason, words the message must hold)
    ("900005;ROUX;Jean;01/01/1970;M;D24-0009;2951-2;Sodium;140;mmol/l;mmol/L;135;145;N",
     "wrong-column-count", ["line 3", "14 fields", "16"]),
    ("900005;ROUX;Jean;01/01/1970;M;D24-0010;2951-2;Sodium;140;mmol/l;mmol/L;135;145;N;"
     "31/02/2024 08:00;V", "invalid-date", ["line 4", "'date_prelevement'", "31/02/2024"]),
    ("900005;ROUX;Jean;01/01/1970;M;D24-0011;2951-2;Sodium;cent;mmol/l;mmol/L;135;145;N;"
     "05/03/2024 08:00;V", "invalid-number", ["line 5", "'resultat'", "cent"]),
    ("900005;ROUX;Jean;01/01/1970;M;D24-0012;;Sodium;140;mmol/l;mmol/L;135;145;N;"
     "05/03/2024 08:00;V", "missing-required-field", ["line 6", "'code_loinc'"]),
    ("900005;ROUX;Jean;01/01/1970;M;D24-0013;2951-2;Sodium;140;mmol/l;mmol/L;135;145;N;"
     "05/03/2024 08:00;X", "unmapped-value", ["line 7", "'statut'", "'X'"]),
    (";ROUX;Jean;01/01/1970;M;D24-0014;2951-2;Sodium;140;mmol/l;mmol/L;135;145;N;"
     "05/03/2024 08:00;V", "missing-patient-identifier", ["line 8", "'ipp'"]),
]  # fmt: skip


def test_bad_rows_are_quarantined_with_their_line_and_column_and_good_rows_kept(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    lines = (CSV / "lab-results.csv").read_text("utf-8").splitlines()
    good = lines[1]
    extract = tmp_path / "mixed.csv"
    extract.write_text("\n".join([lines[0], good, *(row for row, _r, _w in BAD_ROWS)]) + "\n")
    summary = ingest_with(warehouse, CsvMappingSource(MAPPINGS / "lab-results.yaml"),
                          [extract]).summary()  # fmt: skip
    assert summary["items_read"] == 1 + len(BAD_ROWS)
    assert summary["quarantined_by_reason"] == {reason: 1 for _row, reason, _w in BAD_ROWS}
    assert summary["by_type"]["Observation"]["created"] == 1
    with warehouse.reading() as engine:
        rows = {r[0]: (r[1], r[2]) for r in engine.fetchall(
            "SELECT reason, message, line_no FROM quarantine")}  # fmt: skip
    for row_number, (_row, reason, words) in enumerate(BAD_ROWS, start=3):
        message, line_no = rows[reason]
        assert line_no == row_number
        for word in words:
            assert word in message, (reason, message)


def test_a_header_missing_a_mapped_column_stops_the_file_with_a_clear_reason(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    extract = tmp_path / "wrong-delimiter.csv"
    extract.write_text((CSV / "lab-results.csv").read_text("utf-8").replace(";", ","))
    summary = ingest_with(warehouse, CsvMappingSource(MAPPINGS / "lab-results.yaml"),
                          [extract]).summary()  # fmt: skip
    assert summary["quarantined_by_reason"] == {"header-mismatch": 1}
    with warehouse.reading() as engine:
        [(message,)] = engine.fetchall("SELECT message FROM quarantine")
    assert "'ipp'" in message and "delimiter ';'" in message


def test_a_latin1_extract_read_as_utf8_is_refused_at_the_row(tmp_path: Path) -> None:
    mapping = tmp_path / "utf8.yaml"
    mapping.write_text((MAPPINGS / "pharmacy-dispensing.yaml").read_text("utf-8")
                       .replace("encoding: latin-1", "encoding: utf-8"))  # fmt: skip
    source = CsvMappingSource(mapping)
    items = list(source.read(CSV / "pharmacy-dispensing.csv"))
    reasons = [source.interpret(i, NoLookup()).rejections for i in items]  # type: ignore[arg-type]
    assert [r[0].reason for r in reasons] == ["invalid-encoding"] * 3


def test_a_quoted_value_may_hold_the_delimiter_and_a_line_break(tmp_path: Path) -> None:
    lines = (CSV / "lab-results.csv").read_text("utf-8").splitlines()
    extract = tmp_path / "quoted.csv"
    extract.write_text(lines[0] + "\n" + lines[1].replace(";Sodium;", ';"Sodium;\nsérique";')
                       + "\n" + lines[2] + "\n")  # fmt: skip
    source = CsvMappingSource(MAPPINGS / "lab-results.yaml")
    items = list(source.read(extract))
    assert [i.line_no for i in items] == [2, 4]  # type: ignore[union-attr]
    [_patient, observation] = source.interpret(items[0], NoLookup()).resources  # type: ignore[arg-type]
    assert json.loads(observation.json or b"")["code"]["text"] == "Sodium;\nsérique"


@pytest.mark.parametrize(("text", "words"), [
    ("name: x\nresourceType: Observation\nid: [a]\ncolumns: {a: code..text}", "element path"),
    ("name: x\nresourceType: Observation\ncolumns: {a: status}", "id must list"),
    ("name: x\nresourceType: Observation\nid: a\ncolumns: {a: {element: status, type: real}}",
     "type 'real'"),
    ("name: x\nresourceType: Observation\nid: a\ndelimiter: ':'\ncolumns: {a: status}",
     "delimiter"),
    ("name: x\nresourceType: Observation\nid: a\ncolums: {a: status}", "unknown key(s) colums"),
])  # fmt: skip
def test_a_wrong_mapping_is_a_config_error_naming_the_key(
    tmp_path: Path, text: str, words: str
) -> None:
    mapping = tmp_path / "bad.yaml"
    mapping.write_text(text)
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        load_mapping(mapping)
