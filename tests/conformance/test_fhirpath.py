"""The official FHIRPath R4 suite on Hygie's evaluator, one pytest case per suite test."""

from __future__ import annotations

import pytest
from fhirpath_known_failures import KNOWN_FAILURES
from fhirpath_suite import FhirPathCase, load_cases, run_case

CASES = load_cases()


def _params() -> list[object]:
    return [
        pytest.param(
            case,
            id=f"{case.group}::{case.name}",
            marks=[pytest.mark.xfail(reason=KNOWN_FAILURES[case.name], strict=True)]
            if case.name in KNOWN_FAILURES
            else [],
        )
        for case in CASES
    ]


def test_suite_is_complete() -> None:
    # tests-fhir-r4.xml has 937 <test> elements, two of them inside XML comments.
    assert len(CASES) == 935


def test_pass_rate_of_valid_expressions_is_at_least_95_percent() -> None:
    valid = [c for c in CASES if not c.invalid]
    failing = [c for c in valid if c.name in KNOWN_FAILURES]
    assert (len(valid) - len(failing)) / len(valid) >= 0.95


@pytest.mark.parametrize("case", _params())
def test_case(case: FhirPathCase) -> None:
    run_case(case)
