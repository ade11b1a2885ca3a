"""``build_omop``: FHIR R4 resources -> OMOP CDM 5.4 tables, by the SQL files in ``sql/build``.

The files run in name order inside one transaction. The source relation is read once into a
temporary table (``stage_source.sql``, or ``scope_incremental.sql`` for the persons in scope),
``01``-``03`` stage the facts of those persons and map their codes, and each following file fills
one OMOP table and its lineage. A full build puts every Patient in scope; an incremental build
only the persons whose resources changed since the last build (``omop.hygie_build_state``),
after deleting their rows. Every row
of a person depends only on that person's resources and on the vocabulary, so both give the
same tables. Location, care site, provider and cdm_source are small and always rebuilt whole.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from hygie.errors import InputError
from hygie.omop.ddl import create_cdm_tables
from hygie.omop.sql_files import SQL_DIR, read_statements
from hygie.omop.vocabulary import Progress
from hygie.warehouse.engine import Engine

BUILD_DIR = SQL_DIR / "build"

PERSON_TABLES = (
    "person",
    "observation_period",
    "visit_occurrence",
    "visit_detail",
    "condition_occurrence",
    "drug_exposure",
    "procedure_occurrence",
    "device_exposure",
    "measurement",
    "observation",
    "death",
    "note",
    "specimen",
    "condition_era",
    "drug_era",
)
REFERENCE_TABLES = ("location", "care_site", "provider", "cdm_source")

# Resources whose content person rows read (a medication's code, a device's type): when one
# that belongs to no patient changes, an incremental build falls back to a full one (a Device
# with a ``patient`` puts that patient in scope instead).
SHARED_INPUT_TYPES = ("Medication", "Device")

_RELATION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


@dataclass
class TableBuild:
    """One build step: the table it filled, its rows after the build, and its duration."""

    table: str
    rows: int
    seconds: float


@dataclass
class OmopBuildSummary:
    """What ``build_omop`` did."""

    source: str
    full: bool
    persons_rebuilt: int
    resources_read: int
    """Resources staged from the source: those of the persons in scope, and shared ones."""
    seconds: float = 0.0
    tables: list[TableBuild] = field(default_factory=list)
    unchanged: bool = False
    """True when the source had not changed since the last build: nothing was touched."""

    def rows(self, table: str) -> int:
        """Rows of ``table`` after the build."""
        return next(item.rows for item in self.tables if item.table == table)


def build_files() -> list[tuple[str, str]]:
    """The build's SQL files in run order, each as (step name, file name).

    The step name is the OMOP table a file fills (``10_person.sql`` -> ``person``), or the
    stage it prepares (``02_stage_events.sql`` -> ``stage_events``).
    """
    files = sorted(path.name for path in BUILD_DIR.glob("*.sql"))
    return [(name.split("_", 1)[1].removesuffix(".sql"), name) for name in files]


def _source_view_sql(source: str) -> str:
    if not _RELATION_NAME.match(source):
        raise InputError(
            f"{source!r} is not a relation name; give a table or view such as 'resource'"
        )
    return (
        "CREATE OR REPLACE TEMP VIEW omop_input AS "
        f"SELECT resource_type, id, version_id, last_updated, resource FROM {source}"
    )


def _run_file(engine: Engine, name: str) -> None:
    for statement in read_statements(SQL_DIR / name):
        engine.execute(statement)


def _has_previous_build(engine: Engine) -> bool:
    return bool(engine.fetchall("SELECT count(*) FROM omop.hygie_build_state")[0][0])


def _shared_input_changed(engine: Engine) -> bool:
    """True when a resource read by the rows of many persons changed since the last build."""
    types = ", ".join(f"'{name}'" for name in SHARED_INPUT_TYPES)
    return bool(
        engine.fetchall(
            "SELECT count(*) FROM omop_changed "
            f"WHERE resource_type IN ({types}) AND person_ref IS NULL"
        )[0][0]
    )


def _stage_source(engine: Engine, full: bool) -> bool:
    """Read the source once into ``omop_source`` and choose the persons in scope.

    Returns whether the build is full (asked for, first build, or a shared resource changed).
    """
    full = full or not _has_previous_build(engine)
    if not full:
        statements = read_statements(SQL_DIR / "stage_source.sql")
        engine.execute(statements[0])  # omop_input_type
        _run_file(engine, "scope_incremental.sql")
        full = _shared_input_changed(engine)
    if full:
        _run_file(engine, "stage_source.sql")
    return full


def _clear(engine: Engine, full: bool) -> None:
    """Delete the rows the build will write again: all of them, or the persons in scope."""
    for table in PERSON_TABLES:
        if full:
            engine.execute(f"DELETE FROM omop.{table}")
        else:
            engine.execute(
                f"DELETE FROM omop.{table} WHERE person_id IN (SELECT person_id FROM omop_scope)"
            )
    for side in ("hygie_lineage", "hygie_source_code"):
        if full:
            engine.execute(f"DELETE FROM omop.{side}")
        else:
            engine.execute(
                f"DELETE FROM omop.{side} "
                "WHERE person_id IN (SELECT person_id FROM omop_scope) OR person_id IS NULL"
            )
    for table in REFERENCE_TABLES:
        engine.execute(f"DELETE FROM omop.{table}")
    if not full:
        tables = ", ".join(f"'{table}'" for table in REFERENCE_TABLES)
        engine.execute(f"DELETE FROM omop.hygie_lineage WHERE table_name IN ({tables})")


def build_omop(
    engine: Engine, source: str = "resource", full: bool = False, progress: Progress | None = None
) -> OmopBuildSummary:
    """Build the OMOP tables from the FHIR resources of ``source``.

    ``source`` is a relation with the columns of the care zone's ``resource`` view
    (resource_type, id, version_id, last_updated, resource JSON); it is read once per build. With ``full=False`` only the
    persons whose resources changed since the last build are rebuilt (the first build is
    always full). ``progress`` is called after each step with its name and the table's rows.

    >>> # summary = build_omop(engine)  # doctest: +SKIP
    >>> # summary.rows("person")
    """
    started = time.perf_counter()
    create_cdm_tables(engine)
    engine.execute("BEGIN TRANSACTION")
    try:
        _run_file(engine, "build/00_functions.sql")
        engine.execute(_source_view_sql(source))
        fingerprint = _source_fingerprint(engine)
        if not full and fingerprint == _last_fingerprint(engine, source):
            # Nothing was added, changed or removed since the last build of this source.
            engine.execute("COMMIT")
            return OmopBuildSummary(
                source, False, 0, 0, seconds=time.perf_counter() - started, unchanged=True
            )
        full = _stage_source(engine, full)
        resources = int(engine.fetchall("SELECT count(*) FROM omop_source")[0][0])
        staged = TableBuild("stage_source", resources, time.perf_counter() - started)
        if progress is not None:
            progress(staged.table, staged.rows)
        _clear(engine, full)
        persons = int(engine.fetchall("SELECT count(*) FROM omop_scope")[0][0])
        summary = OmopBuildSummary(source, full, persons, resources, tables=[staged])
        for step, name in build_files():
            if name.startswith("00_"):
                continue
            step_started = time.perf_counter()
            _run_file(engine, f"build/{name}")
            rows = _table_rows(engine, step)
            summary.tables.append(TableBuild(step, rows, time.perf_counter() - step_started))
            if progress is not None:
                progress(step, rows)
        engine.execute("DELETE FROM omop.hygie_build_state")
        engine.execute("INSERT INTO omop.hygie_build_state SELECT * FROM stg_source_state")
        engine.execute(
            "INSERT INTO omop.hygie_build_log "
            "SELECT coalesce(max(build_id), 0) + 1, now()::TIMESTAMP, ?, ?, ?, ? "
            "FROM omop.hygie_build_log",
            [source, full, persons, fingerprint],
        )
        engine.execute("COMMIT")
    except Exception:
        engine.execute("ROLLBACK")
        raise
    summary.seconds = time.perf_counter() - started
    return summary


def _source_fingerprint(engine: Engine) -> str:
    statements = read_statements(SQL_DIR / "source_fingerprint.sql")
    return str(engine.fetchall(statements[0])[0][0])


def _last_fingerprint(engine: Engine, source: str) -> str | None:
    rows = engine.fetchall(
        "SELECT source_fingerprint FROM omop.hygie_build_log WHERE source_relation = ? "
        "ORDER BY build_id DESC LIMIT 1",
        [source],
    )
    return str(rows[0][0]) if rows and rows[0][0] is not None else None


def _table_rows(engine: Engine, step: str) -> int:
    if step in PERSON_TABLES or step in REFERENCE_TABLES:
        return int(engine.fetchall(f"SELECT count(*) FROM omop.{step}")[0][0])
    staged = {"stage_resources": "stg_resource", "stage_events": "stg_event"}
    if step in staged:
        return int(engine.fetchall(f"SELECT count(*) FROM {staged[step]}")[0][0])
    if step == "map_concepts":
        return int(engine.fetchall("SELECT count(*) FROM stg_event_mapped")[0][0])
    if step == "source_code":
        return int(engine.fetchall("SELECT count(*) FROM omop.hygie_source_code")[0][0])
    return 0
