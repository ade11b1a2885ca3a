"""OMOP CDM 5.4 commands: omop init/build/trace/coverage and vocab load."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hygie.cli.app import JsonOption, app, open_warehouse, state
from hygie.terminal import console, print_json, table

omop_app = typer.Typer(
    help="The OMOP CDM 5.4 research warehouse built from the FHIR store.", no_args_is_help=True
)
vocab_app = typer.Typer(
    help="OMOP standardized vocabularies (Athena downloads).", no_args_is_help=True
)
app.add_typer(omop_app, name="omop")
app.add_typer(vocab_app, name="vocab")


@omop_app.command("init")
def omop_init() -> None:
    """Create the 39 OMOP CDM 5.4 tables (schema omop) if they do not exist."""
    from hygie.omop import create_cdm_tables

    with open_warehouse().writing() as engine:
        created = create_cdm_tables(engine)
    console.print(f"OMOP CDM 5.4 ready: {len(created)} tables in schema omop")


@vocab_app.command("load")
def vocab_load(
    directory: Annotated[Path, typer.Argument(help="An Athena download (CONCEPT.csv, …).")],
    as_json: JsonOption = False,
) -> None:
    """Load an Athena vocabulary download (tab- or comma-separated); reloading replaces it."""
    from hygie.omop import create_cdm_tables, load_vocabulary

    with open_warehouse().writing() as engine:
        create_cdm_tables(engine)
        summary = load_vocabulary(engine, directory, progress=None if as_json else _print_step)
    if as_json:
        print_json(summary)
        return
    console.print(
        table(
            f"Vocabulary loaded from {directory}",
            ["table", "file", "delimiter", "rows", "seconds"],
            [
                (f.table, f.path or "(missing)", repr(f.delimiter), f.rows, f.seconds)
                for f in summary.files
            ],
        )
    )


@omop_app.command("build")
def omop_build(
    source: Annotated[
        str, typer.Option(help="Relation holding the FHIR resources (care or research zone).")
    ] = "resource",
    full: Annotated[bool, typer.Option("--full", help="Rebuild everything.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Build OMOP tables from FHIR with set-based SQL (incremental unless --full)."""
    from hygie.omop import build_omop, create_cdm_tables

    with open_warehouse().writing() as engine:
        create_cdm_tables(engine)
        summary = build_omop(
            engine, source=source, full=full, progress=None if as_json else _print_step
        )
    if as_json:
        print_json(summary)
        return
    console.print(
        table(
            f"OMOP build from {summary.source} ({'full' if summary.full else 'incremental'})",
            ["table", "rows", "seconds"],
            [(t.table, t.rows, t.seconds) for t in summary.tables],
        )
    )
    rate = summary.resources_read / summary.seconds if summary.seconds else 0.0
    console.print(
        f"{summary.resources_read:,} resources, {summary.persons_rebuilt:,} persons rebuilt in "
        f"{summary.seconds:.1f} s ({rate:,.0f} resources/s)"
    )


@omop_app.command("trace")
def omop_trace(
    table_name: Annotated[
        str, typer.Argument(metavar="TABLE", help="An OMOP table, e.g. measurement.")
    ],
    row_id: Annotated[int, typer.Argument(metavar="ID", help="The row's primary key.")],
) -> None:
    """Show the FHIR resource an OMOP row came from."""
    from hygie.omop import trace

    with open_warehouse().reading() as engine:
        found = trace(engine, table_name, row_id)
    print_json(found)


@omop_app.command("coverage")
def omop_coverage(
    top: Annotated[int, typer.Option(help="How many unmapped codes to list.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Share of records and codes mapped to standard concepts, and the top unmapped codes."""
    from hygie.omop import coverage

    with open_warehouse().reading() as engine:
        report = coverage(engine, top=top)
        last = engine.fetchall(
            "SELECT source_relation FROM omop.hygie_build_log ORDER BY build_id DESC LIMIT 1"
        )
    research = bool(last) and str(last[0][0]).startswith("research.")
    rows: list[tuple[object, ...]] = []
    unmapped: list[tuple[object, ...]] = []
    if research:
        # Counts leaving the research zone: small ones are suppressed (see docs/privacy.md).
        from hygie.privacy.small_counts import suppress_counts, suppress_mapped_counts

        threshold = state.settings.small_count_threshold
        for r in report.rows:
            mapped, records = suppress_mapped_counts(r.mapped_records, r.records, threshold)
            rows.append((r.vocabulary, r.table, records, mapped, r.codes, r.mapped_codes))
        cells = suppress_counts(
            {str(i): u.records for i, u in enumerate(report.top_unmapped)}, threshold
        )
        unmapped = [
            (u.system, u.code, u.table, cells[str(i)].shown)
            for i, u in enumerate(report.top_unmapped)
        ]
    else:
        rows = [
            (r.vocabulary, r.table, r.records, r.mapped_records, r.codes, r.mapped_codes)
            for r in report.rows
        ]
        unmapped = [(u.system, u.code, u.table, u.records) for u in report.top_unmapped]
    columns = ["vocabulary", "table", "records", "mapped", "codes", "mapped codes"]
    if as_json:
        print_json(
            {
                "suppressed": research,
                "rows": [dict(zip(columns, r, strict=True)) for r in rows],
                "top_unmapped": [
                    dict(zip(["system", "code", "table", "records"], u, strict=True))
                    for u in unmapped
                ],
            }
        )
        return
    title = "Mapping coverage" + (" (research zone: small counts suppressed)" if research else "")
    console.print(table(title, columns, rows))
    console.print(table("Top unmapped codes", ["system", "code", "table", "records"], unmapped))


def _print_step(step: str, rows: int) -> None:
    console.print(f"[dim]{step}: {rows:,} rows[/dim]")
