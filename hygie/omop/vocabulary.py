"""Loading the OMOP standardized vocabularies from an Athena download directory.

Athena (https://athena.ohdsi.org) delivers one file per vocabulary table (``CONCEPT.csv``,
``CONCEPT_RELATIONSHIP.csv``, ...), tab-separated, unquoted, with dates as ``YYYYMMDD``. Extracts
made by other tools are often comma-separated and quoted with ISO dates: both are read, the
delimiter is taken from the header line. Rows are streamed by DuckDB's CSV reader straight into
the ``omop`` tables; a reload replaces a table's rows, it never appends to them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hygie.errors import InputError
from hygie.omop.ddl import CdmField, cdm_tables, create_cdm_tables
from hygie.warehouse.engine import Engine

# Vocabulary tables in load order, each read from <TABLE>.csv in the download directory.
VOCABULARY_FILES = (
    "concept",
    "vocabulary",
    "domain",
    "concept_class",
    "relationship",
    "concept_relationship",
    "concept_synonym",
    "concept_ancestor",
    "drug_strength",
)
REQUIRED_FILES = ("concept", "concept_relationship")

Progress = Callable[[str, int], None]
"""Called after each step with its name and the number of rows it wrote."""


@dataclass
class VocabFileLoad:
    """What the load did with one vocabulary file."""

    table: str
    path: str | None
    delimiter: str | None
    rows: int
    seconds: float


@dataclass
class VocabLoadSummary:
    """Per-file rows and timings of one vocabulary load."""

    directory: str
    files: list[VocabFileLoad] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        """Rows loaded over all files."""
        return sum(item.rows for item in self.files)

    @property
    def missing(self) -> list[str]:
        """Vocabulary tables with no file in the directory (their rows were left as they were)."""
        return [item.table for item in self.files if item.path is None]


def find_vocabulary_file(directory: Path, table: str) -> Path | None:
    """The file of ``table`` in ``directory`` (``CONCEPT.csv``, any case, ``.csv`` or ``.tsv``)."""
    wanted = {f"{table}.csv", f"{table}.tsv", f"{table}.txt"}
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.name.lower() in wanted:
            return path
    return None


def detect_delimiter(path: Path) -> str:
    """Tab for Athena downloads, else comma: decided on the header line alone."""
    with path.open(encoding="utf-8-sig") as handle:
        header = handle.readline()
    if "\t" in header:
        return "\t"
    if "," in header:
        return ","
    raise InputError(
        f"{path}: the header line has neither tabs nor commas; "
        "expected an Athena vocabulary file (tab-separated) or a CSV with a header row"
    )


def _column_expression(column: CdmField) -> str:
    """Cast one text column of the file to its CDM type; dates as YYYYMMDD or ISO."""
    name = column.name
    if column.sql_type == "DATE":
        return (
            f"CAST(coalesce(try_strptime({name}, '%Y%m%d'), TRY_CAST({name} AS TIMESTAMP)) "
            f"AS DATE) AS {name}"
        )
    if column.sql_type == "VARCHAR":
        return f"nullif({name}, '') AS {name}"
    return f"CAST(nullif({name}, '') AS {column.sql_type}) AS {name}"


def vocabulary_insert_sql(table: str, delimiter: str) -> str:
    """The ``INSERT ... SELECT FROM read_csv(?)`` statement that loads one vocabulary file."""
    columns = cdm_tables()[table]
    names = ", ".join(column.name for column in columns)
    expressions = ",\n    ".join(_column_expression(column) for column in columns)
    # Athena files are unquoted (concept names may hold a lone '"'); CSV extracts are quoted.
    quoting = "quote = '', escape = ''" if delimiter == "\t" else "quote = '\"'"
    return (
        f"INSERT INTO omop.{table} ({names})\nSELECT\n    {expressions}\n"
        f"FROM read_csv(?, delim = ?, header = true, {quoting}, all_varchar = true)"
    )


def load_vocabulary(
    engine: Engine, directory: Path, progress: Progress | None = None
) -> VocabLoadSummary:
    """Load an Athena vocabulary download into the ``omop`` vocabulary tables.

    Each file found replaces the rows of its table (a reload never duplicates). ``CONCEPT`` and
    ``CONCEPT_RELATIONSHIP`` are required; other missing files are reported and skipped.

    >>> # load_vocabulary(engine, Path("athena-download"))  # doctest: +SKIP
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"{directory} is not a directory; give the unzipped Athena download")
    create_cdm_tables(engine)
    found = {table: find_vocabulary_file(directory, table) for table in VOCABULARY_FILES}
    absent = [table.upper() for table in REQUIRED_FILES if found[table] is None]
    if absent:
        raise InputError(
            f"{directory} has no {', '.join(f'{name}.csv' for name in absent)}; "
            "download the vocabularies from athena.ohdsi.org and unzip them there"
        )
    summary = VocabLoadSummary(directory=str(directory))
    for table in VOCABULARY_FILES:
        path = found[table]
        if path is None:
            summary.files.append(VocabFileLoad(table, None, None, 0, 0.0))
            continue
        started = time.perf_counter()
        delimiter = detect_delimiter(path)
        engine.execute("BEGIN TRANSACTION")
        try:
            engine.execute(f"DELETE FROM omop.{table}")
            engine.execute(vocabulary_insert_sql(table, delimiter), [str(path), delimiter])
            engine.execute("COMMIT")
        except Exception:
            engine.execute("ROLLBACK")
            raise
        rows = int(engine.fetchall(f"SELECT count(*) FROM omop.{table}")[0][0])
        summary.files.append(
            VocabFileLoad(table, str(path), delimiter, rows, time.perf_counter() - started)
        )
        if progress is not None:
            progress(table, rows)
    return summary
