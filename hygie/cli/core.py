"""Warehouse commands: init, status, sql, ingest, runs, quarantine, demo, synth."""

from __future__ import annotations

import tempfile
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from hygie.cli.app import JsonOption, app, open_warehouse, state
from hygie.errors import InputError, QuarantineError
from hygie.terminal import console, errors, print_json, progress_bar, table
from hygie.warehouse.sql import load_statements
from hygie.warehouse.warehouse import describe

QUERIES = load_statements("hygie.warehouse", "queries.sql")


@app.command()
def init() -> None:
    """Create an empty warehouse (a directory with a DuckDB database)."""
    warehouse = open_warehouse()
    existed = warehouse.exists()
    with warehouse.writing():
        pass
    verb = "already exists at" if existed else "created at"
    console.print(f"Warehouse {verb} [bold]{warehouse.path}[/bold]")


@app.command()
def status(as_json: JsonOption = False) -> None:
    """Show the warehouse: tables and row counts, size on disk, and the last runs."""
    warehouse = open_warehouse()
    with warehouse.reading() as engine:
        tables = warehouse.tables(engine)
        types = engine.fetchall(QUERIES["resources_by_type"])
        runs = engine.fetchall(QUERIES["list_runs"], {"limit": 5})
    size = warehouse.size_bytes()
    if as_json:
        print_json(
            {
                "warehouse": str(warehouse.path),
                "size_bytes": size,
                "tables": [t.__dict__ for t in tables],
                "resources_by_type": dict(types),
                "last_runs": [dict(zip(RUN_COLUMNS, r, strict=True)) for r in runs],
            }
        )
        return
    console.print(f"Warehouse [bold]{warehouse.path}[/bold] — {describe(size)} on disk")
    console.print(
        table(None, ["table", "kind", "rows"], [(t.name, t.kind, t.rows) for t in tables])
    )
    if types:
        console.print(table("Current resources by type", ["resourceType", "count"], types))
    if runs:
        console.print(table("Last runs", RUN_COLUMNS, runs))


RUN_COLUMNS = [
    "run",
    "command",
    "status",
    "started",
    "created",
    "updated",
    "unchanged",
    "quarantined",
]


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="A SQL query in the DuckDB dialect.")],
    format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Output format.")
    ] = OutputFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
    limit: Annotated[
        int, typer.Option(help="Rows shown in table format (files get every row).")
    ] = 50,
    write: Annotated[
        bool,
        typer.Option(
            "--write", help="Allow statements that change the warehouse (takes the lock)."
        ),
    ] = False,
) -> None:
    """Run SQL on the warehouse and print the result.

    Tables: [bold]resource[/bold] (current FHIR resources: resource_type, id, version_id,
    last_updated, resource JSON), resource_version (all versions), raw_input, runs, quarantine.

    Example: hygie sql "SELECT resource_type, COUNT(*) FROM resource GROUP BY 1"
    """
    from hygie.warehouse.export import write_result

    warehouse = open_warehouse()
    opener = warehouse.writing(create=False) if write else warehouse.reading()
    with opener as engine:
        result = engine.fetch_arrow(query)
    if format is OutputFormat.parquet and output is None:
        raise InputError("--format parquet needs --output FILE")
    if format is OutputFormat.table and output is None:
        shown = result.slice(0, limit)
        rows = [tuple(row.values()) for row in shown.to_pylist()]
        console.print(table(None, result.column_names, rows))
        if result.num_rows > limit:
            console.print(f"[dim]{limit} of {result.num_rows:,} rows shown (--limit)[/dim]")
        return
    write_result(result, format.value if format is not OutputFormat.table else "csv", output)
    if output is not None:
        errors.print(f"{result.num_rows:,} rows written to {output}")


@app.command()
def ingest(
    paths: Annotated[
        list[str], typer.Argument(help="Files, directories (searched recursively) or globs.")
    ],
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="Force the input format (hl7v2, cda, dicom, fhir-ndjson, fhir-json, csv).",
        ),
    ] = None,
    mapping: Annotated[
        str | None,
        typer.Option(
            "--mapping",
            help="CSV only: a YAML mapping file, or a shipped one (lab-results, "
            "pharmacy-dispensing).",
        ),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit with an error if anything was quarantined.")
    ] = False,
    batch_size: Annotated[
        int | None, typer.Option(help="Items per transaction (default 10000).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Ingest FHIR R4 (NDJSON, Bundles, resources), HL7 v2, CDA R2, DICOM headers, CSV extracts.

    Formats are recognised by content; directories are searched for .ndjson[.gz], .json[.gz],
    .hl7, .er7, .xml and .dcm files. CSV extracts need --mapping (a YAML file that says how
    columns become FHIR; see docs/connectors.md).

    Every item is kept as received in the raw zone; valid resources enter the care zone with
    version history; invalid ones go to quarantine with the reason (see [bold]hygie quarantine[/bold]).
    Re-ingesting the same input adds nothing.
    """
    from hygie.warehouse.ingest import expand_paths
    from hygie.warehouse.ingest import ingest as run_ingest

    if batch_size is not None:
        state.settings = state.settings.with_overrides(batch_size=batch_size)
    source = None
    if mapping is not None or format == "csv":
        from hygie.sources.csv import CsvMappingSource
        from hygie.sources.mappings import shipped_mapping

        if mapping is None:
            raise InputError("CSV extracts need a mapping: add --mapping FILE.yaml")
        if format not in (None, "csv"):
            raise InputError(f"--mapping is for CSV extracts, not --format {format}")
        mapping_path = Path(mapping) if Path(mapping).is_file() else shipped_mapping(mapping)
        source = CsvMappingSource(mapping_path)
        format = None
    warehouse = open_warehouse()
    total = sum(p.stat().st_size for p in expand_paths(paths))
    with progress_bar("ingesting", total, in_bytes=True, enabled=not as_json) as progress:
        task = progress.task_ids[0]

        def advance(done: int, items: int) -> None:
            progress.update(task, completed=min(done, total), items=f"{items:,}")

        report = run_ingest(warehouse, paths, format=format, source=source, progress=advance)
        progress.update(task, completed=total)
    summary = report.summary()
    if as_json:
        print_json(summary)
    else:
        show_ingest_report(summary)
    if strict and summary["quarantined"]:
        raise QuarantineError(
            f"{summary['quarantined']} item(s) quarantined (--strict); see `hygie quarantine "
            f"--run {report.run_id}`"
        )


def show_ingest_report(summary: dict[str, Any]) -> None:
    rows = [
        (t, c["read"], c["created"], c["updated"], c["deleted"], c["unchanged"])
        for t, c in summary["by_type"].items()
    ]
    rows.append(
        (
            "total",
            summary["resources_read"],
            summary["created"],
            summary["updated"],
            summary["deleted"],
            summary["unchanged"],
        )
    )
    console.print(
        table(
            f"Run {summary['run_id']} — {summary['status']}",
            ["resourceType", "read", "created", "updated", "deleted", "unchanged"],
            rows,
        )
    )
    if summary["quarantined_by_reason"]:
        console.print(
            table(
                "Quarantined",
                ["reason", "items"],
                list(summary["quarantined_by_reason"].items()),
            )
        )
    console.print(
        f"{summary['files']} file(s), {summary['items_read']:,} items, "
        f"{summary['resources_read']:,} resources in {summary['seconds']:.1f} s "
        f"({summary['resources_per_second']:,.0f} resources/s, "
        f"{summary['megabytes_per_second']:.1f} MB/s); "
        f"quarantined: {summary['quarantined']}; "
        f"dangling references: {summary['dangling_references']}"
    )


@app.command()
def runs(
    limit: Annotated[int, typer.Option(help="How many runs to show.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """List ingestion runs, newest first, with their counts."""
    with open_warehouse().reading() as engine:
        rows = engine.fetchall(QUERIES["list_runs"], {"limit": limit})
    if as_json:
        print_json([dict(zip(RUN_COLUMNS, r, strict=True)) for r in rows])
    else:
        console.print(table("Runs", RUN_COLUMNS, rows))


@app.command()
def quarantine(
    run: Annotated[str | None, typer.Option(help="Only this run.")] = None,
    reason: Annotated[str | None, typer.Option(help="Only this reason.")] = None,
    limit: Annotated[int, typer.Option(help="How many entries to show.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Show what was rejected, why, and where (file, line, byte offset, bundle entry)."""
    columns = ["run_id", "source", "line_no", "entry_index", "reason", "message"]
    with open_warehouse().reading() as engine:
        rows = engine.fetchall(
            QUERIES["list_quarantine"], {"run_id": run, "reason": reason, "limit": limit}
        )
    if as_json:
        print_json([dict(zip(columns, r, strict=True)) for r in rows])
        return
    console.print(
        table("Quarantine", ["run", "source", "line", "entry", "reason", "message"], rows)
    )
    if not rows:
        console.print("Nothing quarantined.")


@app.command()
def demo(
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Where to build the demo warehouse (default: a temp dir)."),
    ] = None,
    patients: Annotated[int, typer.Option(help="Synthetic patients to generate.")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic population.")] = 1,
) -> None:
    """Generate a synthetic population, build a warehouse from it and show what it holds."""
    from hygie.demo import run_demo

    target = directory or Path(tempfile.mkdtemp(prefix="hygie-demo-"))
    run_demo(target, patients=patients, seed=seed)


@app.command()
def synth(
    out: Annotated[Path, typer.Option("--out", help="Output directory.")],
    patients: Annotated[int, typer.Option(help="Number of patients.")] = 100,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same bytes.")] = 1,
    format: Annotated[
        str, typer.Option("--format", help="ndjson, ndjson.gz or bundles.")
    ] = "ndjson",
    start: Annotated[str, typer.Option(help="First date of care (YYYY-MM-DD).")] = "2015-01-01",
    end: Annotated[str, typer.Option(help="Last date of care (YYYY-MM-DD).")] = "2026-06-30",
    messiness: Annotated[
        float, typer.Option(help="0..1: share of realistic data-quality problems to inject.")
    ] = 0.0,
    as_json: JsonOption = False,
) -> None:
    """Generate a synthetic French hospital population as FHIR R4 (bulk-export layout)."""
    from hygie.synth import SynthOptions, generate

    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError as exc:
        raise InputError(f"--start/--end must be dates like 2015-01-01: {exc}") from exc
    options = SynthOptions(
        patients=patients,
        seed=seed,
        out_dir=out,
        format=format,
        start=first,
        end=last,
        messiness=messiness,
    )
    with progress_bar("generating", patients, enabled=not as_json) as progress:
        task = progress.task_ids[0]
        done = 0

        def advance(count: int) -> None:
            nonlocal done
            done += count
            progress.update(task, completed=done, items=f"{done:,}")

        summary = generate(options, progress=advance)
    result = {
        "patients": summary.patients,
        "resources": sum(summary.resources_by_type.values()),
        "resources_by_type": summary.resources_by_type,
        "files": [str(f) for f in summary.files],
        "truth_notes": summary.truth_notes,
        "seconds": round(summary.seconds, 2),
    }
    if as_json:
        print_json(result)
        return
    console.print(
        table(
            f"{summary.patients:,} patients written to {out}",
            ["resourceType", "resources"],
            sorted(summary.resources_by_type.items()),
        )
    )
    console.print(
        f"{result['resources']:,} resources in {summary.seconds:.1f} s; "
        f"next: [bold]hygie ingest {out}[/bold]"
    )
