"""The ``hygie`` Typer application, its shared options and the error-to-exit-code mapping."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

import hygie
from hygie.config import Settings, load_settings
from hygie.errors import HygieError
from hygie.terminal import console, errors
from hygie.warehouse.warehouse import Warehouse

app = typer.Typer(
    name="hygie",
    help=(
        "Hygie: a health-data platform for hospitals. Ingest FHIR (and more) into an embedded "
        "warehouse, keep every input traceable, and query it.\n\n"
        "Start with [bold]hygie demo[/bold], then [bold]hygie ingest PATH[/bold] and "
        "[bold]hygie status[/bold]."
    ),
    rich_markup_mode="rich",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class State:
    settings: Settings = Settings()
    debug: bool = False


state = State()

WarehouseOption = Annotated[
    Path | None,
    typer.Option(
        "--warehouse",
        "-w",
        help="Warehouse directory (default ./hygie-warehouse, or HYGIE_WAREHOUSE).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")]


def version_callback(value: bool) -> None:
    if value:
        console.print(f"hygie {hygie.__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    warehouse: WarehouseOption = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=version_callback, is_eager=True)
    ] = False,
) -> None:
    """Options shared by every command."""
    state.settings = load_settings().with_overrides(warehouse=warehouse)
    state.debug = debug


def open_warehouse() -> Warehouse:
    """The warehouse named by the options, environment and hygie.toml."""
    return Warehouse(state.settings)


def main() -> None:
    """Entry point of the ``hygie`` console script: errors become messages and exit codes."""
    try:
        app()
    except HygieError as exc:
        if state.debug or os.environ.get("HYGIE_DEBUG"):
            raise
        errors.print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
