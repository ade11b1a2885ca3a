"""``coverage``: how much of the source reached standard concepts, per vocabulary and table."""

from __future__ import annotations

from dataclasses import dataclass, field

from hygie.warehouse.engine import Engine

COVERAGE_SQL = """
SELECT
    coalesce(
        source_vocabulary_id,
        (
            SELECT min(v.vocabulary_id) FROM omop.hygie_vocabulary_system AS v
            WHERE v.fhir_system = source_system AND v.priority = 1
        ),
        source_system,
        '(no coding)'
    ) AS vocabulary,
    table_name,
    count(*) AS records,
    count(*) FILTER (WHERE concept_id <> 0) AS mapped_records,
    count(DISTINCT source_value) AS codes,
    count(DISTINCT source_value) FILTER (WHERE concept_id <> 0) AS mapped_codes
FROM omop.hygie_source_code
GROUP BY ALL
ORDER BY records DESC, vocabulary, table_name
"""

UNMAPPED_SQL = """
SELECT
    coalesce(source_system, '(no coding)') AS system,
    source_value,
    table_name,
    count(*) AS records
FROM omop.hygie_source_code
WHERE concept_id = 0
GROUP BY ALL
ORDER BY records DESC, system, source_value
LIMIT ?
"""


@dataclass(frozen=True)
class CoverageRow:
    """Mapping coverage of one source vocabulary in one OMOP table."""

    vocabulary: str
    table: str
    records: int
    mapped_records: int
    codes: int
    mapped_codes: int

    @property
    def record_share(self) -> float:
        """Share of records mapped to a standard concept (0..1)."""
        return self.mapped_records / self.records if self.records else 0.0

    @property
    def code_share(self) -> float:
        """Share of distinct codes mapped to a standard concept (0..1)."""
        return self.mapped_codes / self.codes if self.codes else 0.0


@dataclass(frozen=True)
class UnmappedCode:
    """A source code that reached no standard concept, with how often it occurs."""

    system: str
    code: str | None
    table: str
    records: int


@dataclass
class CoverageReport:
    """Coverage per (vocabulary, table) and the most frequent unmapped codes."""

    rows: list[CoverageRow] = field(default_factory=list)
    top_unmapped: list[UnmappedCode] = field(default_factory=list)

    @property
    def records(self) -> int:
        """Event rows counted."""
        return sum(row.records for row in self.rows)

    @property
    def mapped_records(self) -> int:
        """Event rows with a standard concept."""
        return sum(row.mapped_records for row in self.rows)


def coverage(engine: Engine, top: int = 20) -> CoverageReport:
    """The mapping coverage of the last build (from ``omop.hygie_source_code``)."""
    rows = [CoverageRow(*row) for row in engine.fetchall(COVERAGE_SQL)]
    unmapped = [UnmappedCode(*row) for row in engine.fetchall(UNMAPPED_SQL, [top])]
    return CoverageReport(rows=rows, top_unmapped=unmapped)
