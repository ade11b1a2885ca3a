"""SQL-on-FHIR views and FHIRPath: view list/run/materialize, fhirpath."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from hygie.cli.app import app, open_warehouse
from hygie.errors import InputError
from hygie.terminal import console, errors, print_json, table

view_app = typer.Typer(
    help="SQL on FHIR v2 views: flat tables out of FHIR, compiled to SQL.", no_args_is_help=True
)
app.add_typer(view_app, name="view")


class ViewFormat(StrEnum):
    table = "table"
    csv = "csv"
    parquet = "parquet"
    ndjson = "ndjson"
    json = "json"


def load_view(view: str) -> dict[str, Any]:
    """A ViewDefinition from a JSON file, or a shipped view by name."""
    from hygie.fhir.views import list_library_views, load_library_view

    path = Path(view)
    if path.is_file():
        try:
            parsed = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise InputError(f"{path}: not valid JSON ({exc})") from exc
        if not isinstance(parsed, dict):
            raise InputError(f"{path}: a ViewDefinition is a JSON object")
        return parsed
    if view in list_library_views():
        return load_library_view(view)
    raise InputError(
        f"{view}: neither a ViewDefinition file nor a shipped view "
        f"(shipped: {', '.join(list_library_views())})"
    )


@view_app.command("list")
def view_list() -> None:
    """The views shipped with Hygie (use their name with `hygie view run`)."""
    from hygie.fhir.views import list_library_views, load_library_view

    rows = []
    for name in list_library_views():
        view = load_library_view(name)
        rows.append(
            (name, view.get("resource", ""), view.get("description", view.get("title", "")))
        )
    console.print(table("Shipped views", ["name", "resource", "description"], rows))


@view_app.command("run")
def view_run(
    view: Annotated[str, typer.Argument(help="A ViewDefinition JSON file or a shipped view name.")],
    format: Annotated[ViewFormat, typer.Option("--format", "-f")] = ViewFormat.table,
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
    source: Annotated[str, typer.Option(help="Relation of FHIR resources to read.")] = "resource",
    limit: Annotated[int, typer.Option(help="Rows shown in table format.")] = 50,
    show_sql: Annotated[bool, typer.Option("--sql", help="Print the compiled SQL.")] = False,
) -> None:
    """Run a view over the warehouse (one SQL query) and print or export the rows."""
    from hygie.fhir.views import compile_view, run_view
    from hygie.warehouse.export import write_result

    compiled = compile_view(load_view(view), source=source)
    if show_sql:
        errors.print(compiled.sql, highlight=False)
    with open_warehouse().reading() as engine:
        result = run_view(engine, compiled, source=source)
    if format is ViewFormat.table and output is None:
        rows = [tuple(r.values()) for r in result.slice(0, limit).to_pylist()]
        console.print(table(None, result.column_names, rows))
        if result.num_rows > limit:
            console.print(f"[dim]{limit} of {result.num_rows:,} rows shown[/dim]")
        return
    kind = "csv" if format is ViewFormat.table else format.value
    write_result(result, kind, output)
    if output is not None:
        errors.print(f"{result.num_rows:,} rows written to {output}")


@view_app.command("materialize")
def view_materialize(
    view: Annotated[str, typer.Argument(help="A ViewDefinition JSON file or a shipped view name.")],
    name: Annotated[str, typer.Option("--name", help="Table to create (or refresh).")],
    source: Annotated[str, typer.Option(help="Relation of FHIR resources to read.")] = "resource",
) -> None:
    """Create or refresh a warehouse table holding the view's rows."""
    from hygie.fhir.views import materialize_view

    with open_warehouse().writing(create=False) as engine:
        materialize_view(engine, load_view(view), name, source=source)
        rows = engine.fetchall(f'SELECT COUNT(*) FROM "{name}"')[0][0]
    console.print(f"Table [bold]{name}[/bold] refreshed: {rows:,} rows")


@app.command()
def fhirpath(
    expression: Annotated[str, typer.Argument(help="A FHIRPath expression.")],
    file: Annotated[Path, typer.Argument(help="A FHIR resource as JSON.")],
) -> None:
    """Evaluate a FHIRPath expression on one resource and print the result as JSON."""
    from hygie.fhir.fhirpath import evaluate

    try:
        resource = orjson.loads(file.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise InputError(f"{file}: cannot read a JSON resource ({exc})") from exc
    print_json(evaluate(resource, expression))
