"""The official FHIRPath R4 suite (``tests-fhir-r4.xml``) as data, and how one test is judged.

Shared by ``test_fhirpath.py`` and ``report.py``. Inputs are read from their JSON form: the
suite's own JSON files, else the JSON version of the XML example in ``input-json/``. Two inputs
need care: the suite's observation XML carries a ``patient-age`` extension that the JSON
example lacks (added here as the XML states it), and ``parameters-example-types.xml`` has no JSON
version (converted here: it holds only primitive parameters).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from hygie.fhir.fhirpath import FHIRPathError, evaluate

SUITE = Path(__file__).resolve().parents[1] / "data" / "fhirpath-r4"
FHIR_NS = "{http://hl7.org/fhir}"

PATIENT_AGE = {
    "url": "http://example.com/fhir/StructureDefinition/patient-age",
    "valueAge": {"value": 41, "system": "http://unitsofmeasure.org", "code": "a"},
}


@dataclass(frozen=True)
class FhirPathCase:
    """One ``<test>`` of the suite."""

    group: str
    name: str
    expression: str
    input_file: str | None
    invalid: str | None
    outputs: tuple[tuple[str, str], ...]
    predicate: bool
    ordered: bool


def load_cases() -> list[FhirPathCase]:
    """Every ``<test>`` element of the suite, in document order."""
    root = ET.parse(SUITE / "tests-fhir-r4.xml").getroot()
    cases: list[FhirPathCase] = []
    seen: set[str] = set()
    for group in root.iter("group"):
        for test in group.findall("test"):
            expression = test.find("expression")
            assert expression is not None
            name = test.get("name", "")
            # The suite names two different tests testEquivalent23: the second becomes #2.
            name = f"{name}#2" if name in seen else name
            seen.add(name)
            cases.append(
                FhirPathCase(
                    group=group.get("name", ""),
                    name=name,
                    expression=expression.text or "",
                    input_file=test.get("inputfile"),
                    invalid=expression.get("invalid") or test.get("invalid"),
                    outputs=tuple(
                        (o.get("type", ""), o.text or "") for o in test.findall("output")
                    ),
                    predicate=test.get("predicate") == "true",
                    ordered=test.get("ordered") != "false",
                )
            )
    return cases


@cache
def _input_text(name: str) -> str:
    if name.endswith(".json"):
        return (SUITE / "input" / name).read_text(encoding="utf-8")
    if name == "parameters-example-types.xml":
        return json.dumps(_parameters_from_xml(SUITE / "input" / name))
    json_version = SUITE / "input-json" / name.replace(".xml", ".json")
    resource = json.loads(json_version.read_text(encoding="utf-8"))
    if name == "observation-example.xml":
        resource["extension"] = [PATIENT_AGE]
    return json.dumps(resource)


def load_input(name: str | None) -> dict[str, Any]:
    """A fresh copy of the input resource a test names (an empty object when none)."""
    if name is None:
        return {}
    resource: dict[str, Any] = json.loads(_input_text(name))
    return resource


def _parameters_from_xml(path: Path) -> dict[str, Any]:
    root = ET.parse(path).getroot()
    resource: dict[str, Any] = {"resourceType": "Parameters", "parameter": []}
    for child in root:
        tag = child.tag.removeprefix(FHIR_NS)
        if tag == "id":
            resource["id"] = child.get("value")
        if tag != "parameter":
            continue
        parameter: dict[str, Any] = {}
        for element in child:
            key, value = element.tag.removeprefix(FHIR_NS), element.get("value", "")
            if key == "valueInteger":
                parameter[key] = int(value)
            elif key == "valueDecimal":
                parameter[key] = float(value)
            else:
                parameter[key] = value
        resource["parameter"].append(parameter)
    return resource


def _kind_of(text: str) -> str:
    """The type of an output the suite gives without one, from its literal form."""
    if text in ("true", "false"):
        return "boolean"
    if text.startswith("@"):
        return "dateTime"
    if text.endswith("'") and " " in text:
        return "Quantity"
    try:
        Decimal(text)
    except InvalidOperation:
        return "string"
    return "decimal"


def _matches(item: Any, kind: str, text: str) -> bool:
    if not kind:
        kind = _kind_of(text)
    if kind == "boolean":
        return isinstance(item, bool) and str(item).lower() == text
    if isinstance(item, bool):
        return False
    if kind in ("integer", "decimal"):
        try:
            return Decimal(str(item)) == Decimal(text)
        except InvalidOperation:
            return False
    if kind in ("date", "dateTime", "time"):
        return _same_moment(str(item), text.removeprefix("@").removeprefix("T"))
    if kind == "Quantity":
        value, _, unit = text.partition(" ")
        return (
            isinstance(item, dict)
            and Decimal(str(item.get("value"))) == Decimal(value)
            and item.get("unit") == unit.strip("'")
        )
    return isinstance(item, str) and item == text


def _same_moment(actual: str, expected: str) -> bool:
    """Equal texts, or dateTimes with a time zone naming the same instant at the same precision.

    FHIRPath compares dateTimes as instants; fhirpathpy returns computed dateTimes in UTC
    (``1973-12-31T14:00:00.000+00:00`` for ``1974-01-01T00:00:00.000+10:00``).
    """
    if actual == expected:
        return True
    zone = re.compile(r"(Z|[+-]\d{2}:\d{2})$")
    if not (zone.search(actual) and zone.search(expected)):
        return False
    if len(zone.sub("", actual)) != len(zone.sub("", expected)):
        return False
    try:
        return datetime.fromisoformat(actual) == datetime.fromisoformat(expected)
    except ValueError:
        return False


def run_case(case: FhirPathCase) -> None:
    """Run one test; raises AssertionError when the result differs from the expected one."""
    resource = load_input(case.input_file)
    if case.invalid:
        try:
            evaluate(resource, case.expression)
        except FHIRPathError:
            return
        raise AssertionError(f"expected an error ({case.invalid}), the expression evaluated")
    result = evaluate(resource, case.expression)
    if case.predicate:
        result = [bool(result)]
    expected = list(case.outputs)
    assert len(result) == len(expected), f"got {result!r}, expected {expected!r}"
    if case.ordered:
        pairs = list(zip(result, expected, strict=True))
        bad = [(r, e) for r, e in pairs if not _matches(r, *e)]
        assert not bad, f"got {result!r}, expected {expected!r}"
        return
    remaining = list(expected)
    for item in result:
        match = next((e for e in remaining if _matches(item, *e)), None)
        assert match is not None, f"got {result!r}, expected {expected!r}"
        remaining.remove(match)
