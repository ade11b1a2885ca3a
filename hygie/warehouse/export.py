"""Writing query results to files: CSV, JSON and Parquet."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from hygie.errors import InputError

FORMATS = ("csv", "json", "parquet")


def write_result(result: pa.Table, format: str, output: Path | None) -> None:
    """Write ``result`` as ``format`` to ``output`` (stdout when None, except Parquet)."""
    if format not in FORMATS:
        raise InputError(f"unknown output format {format!r} (known: {', '.join(FORMATS)})")
    if format == "parquet":
        if output is None:
            raise InputError("Parquet output needs a file: add --output FILE.parquet")
        pq.write_table(result, output)
        return
    if format == "csv":
        sink = pa.BufferOutputStream()
        pacsv.write_csv(_plain(result), sink)
        data = sink.getvalue().to_pybytes()
    else:
        data = orjson.dumps(result.to_pylist(), option=orjson.OPT_INDENT_2, default=str) + b"\n"
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)


def _plain(result: pa.Table) -> pa.Table:
    """CSV cannot hold nested values: lists and structs are written as JSON text."""
    columns = []
    for column in result.columns:
        if pa.types.is_nested(column.type) or pa.types.is_binary(column.type):
            values = [
                None if v is None else orjson.dumps(v, default=str).decode()
                for v in column.to_pylist()
            ]
            columns.append(pa.array(values, pa.string()))
        else:
            columns.append(column)
    return pa.table(columns, names=result.column_names)
