"""Small counts leaving the research zone, and the k-anonymity export guard."""

from __future__ import annotations

import pytest

from hygie.errors import AuthError
from hygie.privacy.risk import guard_export, k_anonymity
from hygie.privacy.small_counts import suppress_counts, suppress_table
from hygie.warehouse.duckdb_engine import DuckDBEngine


def shown(counts: dict[str, int]) -> dict[str, str]:
    return {name: cell.shown for name, cell in suppress_counts(counts).items()}


def test_counts_below_the_threshold_are_shown_as_less_than_ten() -> None:
    assert shown({"a": 12, "b": 40, "c": 0}) == {"a": "12", "b": "40", "c": "0", "total": "52"}
    assert shown({"a": 9, "b": 3, "c": 40})["a"] == "<10"


def test_a_total_cannot_reveal_a_single_suppressed_cell() -> None:
    # With 3 shown as <10 and the others shown, total - others = 3: a second cell must go.
    result = shown({"a": 3, "b": 25, "c": 40})
    assert result == {"a": "<10", "b": "*", "c": "40", "total": "68"}


def test_a_complementary_cell_at_the_threshold_is_not_enough_when_it_pins_the_value() -> None:
    # a=1 and b=10 hidden, total known: b >= 10 forces a = 1 and b = 10; a third cell goes.
    assert shown({"a": 1, "b": 10, "c": 40}) == {"a": "<10", "b": "*", "c": "*", "total": "51"}


def test_rows_columns_and_margins_are_protected_together() -> None:
    table = suppress_table([[3, 20, 30], [15, 12, 40], [22, 25, 33]]).shown()
    assert table[0][:2] == ["<10", "*"]
    hidden_in_column_0 = sum(1 for row in table[:3] if row[0] in ("<10", "*"))
    hidden_in_row_0 = sum(1 for cell in table[0][:3] if cell in ("<10", "*"))
    assert hidden_in_column_0 >= 2 and hidden_in_row_0 >= 2
    assert table[3][3] == "200"


def test_a_small_margin_is_suppressed_with_its_partner() -> None:
    table = suppress_table([[2, 3], [40, 50]]).shown()
    assert table[0][2] == "<10"  # row total 5
    assert table[1][2] == "*"  # else 95 - 90 = 5 is computed back


@pytest.fixture
def engine() -> DuckDBEngine:
    engine = DuckDBEngine(None)
    engine.execute(
        "CREATE TABLE cohort AS SELECT * FROM (VALUES "
        "('40', 'F', '35'), ('40', 'F', '35'), ('40', 'F', '35'), ('50', 'M', '35'), "
        "('50', 'M', '35'), ('50', 'M', '35'), ('90', 'M', '22')) AS t(age_band, sex, place)"
    )
    return engine


def test_k_anonymity_reports_the_smallest_class_and_the_records_at_risk(
    engine: DuckDBEngine,
) -> None:
    report = k_anonymity(engine, "cohort", ["age_band", "sex", "place"], k=3)
    assert (report.records, report.classes, report.smallest_class) == (7, 3, 1)
    assert report.records_below_k == 1 and round(report.share_below_k, 3) == 0.143
    assert k_anonymity(engine, "cohort", ["sex"], k=3).k_anonymous


def test_the_export_guard_refuses_below_k_unless_a_reason_is_recorded(engine: DuckDBEngine) -> None:
    with pytest.raises(AuthError, match="smallest class: 1"):
        guard_export(engine, "cohort", ["age_band", "sex", "place"], k=3)
    guard_export(
        engine,
        "cohort",
        ["age_band", "sex", "place"],
        k=3,
        override_reason="aggregated before publication",
        recorded_by="dpo",
    )
    rows = engine.fetchall(
        "SELECT recorded_by, relation, k, smallest_class, reason FROM privacy.export_override"
    )
    assert rows == [("dpo", "cohort", 3, 1, "aggregated before publication")]
    assert guard_export(engine, "cohort", ["sex"], k=3).k_anonymous


def test_the_research_patients_quasi_identifiers_can_be_measured(zone) -> None:  # type: ignore[no-untyped-def]
    with zone.warehouse.reading() as engine:
        report = k_anonymity(engine, k=5)
        coarse = k_anonymity(engine, quasi_identifiers=["sex"], k=5)
    assert report.records == 120 and report.smallest_class >= 1
    assert coarse.k_anonymous and coarse.classes == 2
