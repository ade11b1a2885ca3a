"""Row-level FHIRPath evaluation (hygie.fhir.fhirpath)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hygie.errors import InputError
from hygie.fhir.fhirpath import FHIRPathError, evaluate

PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "birthDate": "1970-06",
    "name": [{"family": "Martin", "given": ["Anne"]}],
}


def test_evaluate_returns_plain_values() -> None:
    assert evaluate(PATIENT, "Patient.name.given") == ["Anne"]
    assert evaluate(PATIENT, "@2014-01-01T08") == ["2014-01-01T08"]
    assert evaluate(PATIENT, "5 'mg'") == [{"value": Decimal(5), "unit": "mg"}]


def test_evaluate_leaves_the_resource_untouched() -> None:
    resource = {"resourceType": "Patient", "name": [{"given": ["A"]}]}
    before = repr(resource)
    evaluate(resource, "name.given")
    assert repr(resource) == before


def test_variables_and_environment() -> None:
    assert evaluate(PATIENT, "%limit + 1", {"limit": 2}) == [3]
    assert evaluate(PATIENT, "%loinc") == ["http://loinc.org"]
    assert evaluate(PATIENT, "%`vs-administrative-gender`") == [
        "http://hl7.org/fhir/ValueSet/administrative-gender"
    ]


def test_added_functions() -> None:
    assert evaluate(PATIENT, "birthDate.lowBoundary()") == ["1970-06-01T00:00:00.000+14:00"]
    assert evaluate(PATIENT, "1.587.highBoundary(2)") == [Decimal("1.59")]
    assert evaluate(PATIENT, "true.toString()") == ["true"]
    assert evaluate(PATIENT, "(3 | 1 | 2).sort()") == [1, 2, 3]


def test_errors_are_input_errors() -> None:
    with pytest.raises(FHIRPathError) as caught:
        evaluate(PATIENT, "2 + 2 /")
    assert isinstance(caught.value, InputError)
    with pytest.raises(FHIRPathError):
        evaluate(PATIENT, "name.nosuchfunction()")
