"""The official SQL on FHIR v2 suite, one pytest case per suite case (``file::title``)."""

from __future__ import annotations

import pytest
from sql_on_fhir_suite import XFAIL, Case, compiled_sql, load_cases, run_case

from hygie.warehouse.engine import transpile

CASES = load_cases()


def _params() -> list[object]:
    return [
        pytest.param(
            case,
            id=case.case_id,
            marks=[pytest.mark.xfail(reason=XFAIL[case.case_id], strict=True)]
            if case.case_id in XFAIL
            else [],
        )
        for case in CASES
    ]


def test_suite_has_every_case() -> None:
    assert len(CASES) == 134


@pytest.mark.parametrize("case", _params())
def test_case(case: Case) -> None:
    run_case(case)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.case_id) for c in CASES])
def test_view_sql_transpiles_to_spark(case: Case) -> None:
    sql = compiled_sql(case)
    if sql is None:
        pytest.skip("the suite expects this view to be rejected")
    assert transpile(sql, "spark")
