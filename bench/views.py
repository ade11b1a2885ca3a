"""Benchmark: shipped views compiled to SQL versus row-by-row FHIRPath in Python.

Builds an in-memory DuckDB ``resource`` relation of about one million resources by replicating
the 20 Synthea bundles of the test data with fresh ids (every UUID gets a copy suffix, so ids and
references stay consistent), then times each shipped view:

- SQL: ``run_view`` (one SELECT run by DuckDB over every resource);
- Python: the same view evaluated resource by resource with fhirpathpy (``hygie.fhir.fhirpath``)
  on a sample of the view's resources, extrapolated to all of them (the Python side would take
  hours on the full table).

With ``--warehouse``, the same number of resources is also replicated as NDJSON
(``bench/replicate.py``), ingested into a fresh warehouse (``hygie.warehouse.ingest.ingest``) and
the views are timed again over its real ``resource`` view (catalog and Parquet files).

Run: ``.venv/bin/python bench/views.py [--copies 280] [--sample 300] [--warehouse]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
from rich.console import Console
from rich.table import Table

from hygie.config import Settings
from hygie.fhir.fhirpath import evaluate
from hygie.fhir.views import list_library_views, load_library_view, run_view
from hygie.warehouse.duckdb_engine import DuckDBEngine
from hygie.warehouse.engine import Engine
from hygie.warehouse.ingest import ingest
from hygie.warehouse.warehouse import Warehouse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from replicate import FALLBACK_SAMPLE, SAMPLE, replicate

BUNDLES = Path(
    os.environ.get(
        "HYGIE_SYNTHEA_DIR", "/work/shared/testdata/synthea-small/generated-sample-data-r4"
    )
)
UUID = r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"


def load_bundles() -> list[dict[str, Any]]:
    """The resources of the Synthea bundles, references rewritten from urn:uuid to Type/id."""
    resources = [
        entry["resource"]
        for path in sorted(BUNDLES.glob("*.json"))
        for entry in json.loads(path.read_text(encoding="utf-8"))["entry"]
    ]
    targets = {f"urn:uuid:{r['id']}": f"{r['resourceType']}/{r['id']}" for r in resources}
    text = re.sub(
        r'"reference": "(urn:uuid:[^"]+)"',
        lambda m: f'"reference": "{targets.get(m.group(1), m.group(1))}"',
        json.dumps(resources),
    )
    loaded: list[dict[str, Any]] = json.loads(text)
    return loaded


def build_warehouse(resources: list[dict[str, Any]], copies: int) -> DuckDBEngine:
    """A DuckDB ``resource`` relation holding ``copies`` copies of ``resources``."""
    engine = DuckDBEngine(None)
    engine.register_arrow(
        "base",
        pa.table(
            {
                "resource_type": [r["resourceType"] for r in resources],
                "text": [json.dumps(r) for r in resources],
            }
        ),
    )
    engine.execute(
        f"""
        CREATE TABLE resource AS
        SELECT b.resource_type,
               json_extract_string(CAST(t.copied AS JSON), '$.id') AS id,
               1 AS version_id,
               TIMESTAMPTZ '2024-01-01 00:00:00+00' AS last_updated,
               CAST(t.copied AS JSON) AS resource
        FROM base AS b, range({copies}) AS r(copy),
             LATERAL (SELECT regexp_replace(b.text, '{UUID}', '\\1-' || r.copy, 'g') AS copied) t
        """
    )
    engine.unregister("base")
    return engine


def python_rows(view: dict[str, Any], resource: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of ``view`` for one resource, evaluated with fhirpathpy (library views only)."""
    constants = {
        c["name"]: next(v for k, v in c.items() if k.startswith("value"))
        for c in view.get("constant", [])
    }
    for where in view.get("where", []):
        if evaluate(resource, where["path"], constants) != [True]:
            return []
    rows: list[dict[str, Any]] = [{}]
    for select in view["select"]:
        iteration = select.get("forEach") or select.get("forEachOrNull")
        items: list[Any] = [resource]
        if iteration:
            items = evaluate(resource, iteration, constants)
            if not items and "forEachOrNull" in select:
                items = [{}]
        produced = [
            {
                c["name"]: next(iter(evaluate(item, c["path"], constants)), None)
                for c in select["column"]
            }
            for item in items
        ]
        rows = [{**row, **extra} for row in rows for extra in produced]
    return rows


def python_seconds_per_resource(
    resources: list[dict[str, Any]], sample: int
) -> dict[str, tuple[float, int]]:
    """Per shipped view: seconds per resource of the row-by-row evaluation, and the sample size."""
    rates: dict[str, tuple[float, int]] = {}
    for name in list_library_views():
        view = load_library_view(name)
        chosen = [r for r in resources if r["resourceType"] == view["resource"]][:sample]
        started = time.perf_counter()
        for resource in chosen:
            python_rows(view, resource)
        rates[name] = ((time.perf_counter() - started) / max(len(chosen), 1), len(chosen))
    return rates


def time_views(engine: Engine, rates: dict[str, tuple[float, int]], title: str) -> Table:
    """Run every shipped view over ``engine``'s ``resource`` relation; the table of timings."""
    table = Table(title=title)
    for header in ("view", "resources", "rows", "SQL s", "Python s (extrapolated)", "ratio"):
        table.add_column(header, justify="right" if header != "view" else "left")
    for name in list_library_views():
        view = load_library_view(name)
        count = engine.fetchall(
            "SELECT count(*) FROM resource WHERE resource_type = ?", [view["resource"]]
        )[0][0]
        started = time.perf_counter()
        rows = run_view(engine, view).num_rows
        sql_seconds = time.perf_counter() - started
        per_resource, sampled = rates[name]
        python_seconds = per_resource * count
        table.add_row(
            name,
            f"{count:,}",
            f"{rows:,}",
            f"{sql_seconds:.2f}",
            f"{python_seconds:,.0f} (sample {sampled})",
            f"{python_seconds / sql_seconds:,.0f}×",
        )
    return table


def time_warehouse_views(
    console: Console, resources: int, rates: dict[str, tuple[float, int]]
) -> None:
    """Ingest ``resources`` replicated resources into a fresh warehouse and time the views."""
    with tempfile.TemporaryDirectory(prefix="hygie-bench-views-") as scratch:
        ndjson = Path(scratch) / "ndjson"
        started = time.perf_counter()
        sample = SAMPLE if SAMPLE.is_dir() else FALLBACK_SAMPLE
        count, size = replicate(ndjson, resources, sample)
        replicated = time.perf_counter() - started
        warehouse = Warehouse(Settings(warehouse=Path(scratch) / "warehouse"))
        started = time.perf_counter()
        summary = ingest(warehouse, [str(ndjson)]).summary()
        console.print(
            f"warehouse: {count:,} resources ({size / 1e9:.2f} GB NDJSON, {replicated:.1f} s) "
            f"ingested in {time.perf_counter() - started:.1f} s, "
            f"{summary['quarantined']:,} quarantined"
        )
        with warehouse.reading() as engine:
            title = "Shipped views over a warehouse's resource view (Parquet) vs fhirpathpy"
            console.print(time_views(engine, rates, title))


def main() -> None:
    """Time every shipped view both ways and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=280)
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument(
        "--warehouse",
        action="store_true",
        help="also ingest as many resources into a warehouse and time the views over it",
    )
    args = parser.parse_args()
    console = Console()
    resources = load_bundles()
    started = time.perf_counter()
    engine = build_warehouse(resources, args.copies)
    total = engine.fetchall("SELECT count(*) FROM resource")[0][0]
    console.print(
        f"{total:,} resources ({len(resources):,} × {args.copies}) built in "
        f"{time.perf_counter() - started:.1f} s on {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs"
    )
    rates = python_seconds_per_resource(resources, args.sample)
    title = "Shipped views: SQL (DuckDB, in-memory table) vs row-by-row FHIRPath (fhirpathpy)"
    console.print(time_views(engine, rates, title))
    engine.close()
    if args.warehouse:
        time_warehouse_views(console, total, rates)


if __name__ == "__main__":
    main()
