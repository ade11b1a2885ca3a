"""What people read in the terminal: Rich tables for reports, and the JSON twin for scripts."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

# Reports are wide tables: when the output is a file or a pipe, do not squeeze them to 80 columns.
_WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 160
console = Console(width=_WIDTH)
errors = Console(stderr=True, width=_WIDTH)


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout (for ``--json``)."""
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """A Rich table; numeric columns are right-aligned."""
    result = Table(title=title, title_justify="left", header_style="bold")
    for index, name in enumerate(columns):
        numeric = bool(rows) and all(
            isinstance(row[index], int | float) and not isinstance(row[index], bool)
            for row in rows
            if row[index] is not None
        )
        result.add_column(name, justify="right" if numeric else "left")
    for row in rows:
        result.add_row(*(format_cell(cell) for cell in row))
    return result


def format_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


@contextmanager
def progress_bar(
    description: str, total: int | None, *, in_bytes: bool = False, enabled: bool = True
) -> Iterator[Progress]:
    """A progress bar on stderr, over bytes or a count (hidden off a terminal or when disabled);
    ``total`` None when it is not known in advance."""
    amount = [DownloadColumn(), TransferSpeedColumn()] if in_bytes else [MofNCompleteColumn()]
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        *amount,
        TextColumn("{task.fields[items]} items"),
        TimeElapsedColumn(),
        console=errors,
        disable=not enabled or not errors.is_terminal,
        transient=False,
    )
    with progress:
        progress.add_task(description, total=total, items=0)
        yield progress
