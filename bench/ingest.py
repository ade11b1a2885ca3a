"""Ingestion benchmark: `hygie ingest` against DuckDB's own `read_json` on the same NDJSON files.

Builds a large NDJSON input (the Synthea sample replicated with fresh ids, see replicate.py), then,
each in a fresh process so peak memory is its own:

  (a) reference: DuckDB `CREATE TABLE AS SELECT * FROM read_json(files)` into a database file;
  (b) Hygie: `ingest(...)` end to end (raw zone, validation, versions, quarantine, report).

Prints resources/s, MB/s, peak RSS and the ratio (b)/(a). Run:

    .venv/bin/python bench/ingest.py --resources 1000000
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent

REFERENCE = """
import json, resource, sys, time, duckdb
database, pattern = sys.argv[1], sys.argv[2]
started = time.perf_counter()
connection = duckdb.connect(database)
connection.execute(
    "CREATE TABLE resources AS SELECT * FROM read_json(?, format = 'newline_delimited', "
    "union_by_name = true)", [pattern]
)
rows = connection.execute("SELECT COUNT(*) FROM resources").fetchone()[0]
connection.close()
seconds = time.perf_counter() - started
print(json.dumps({"rows": rows, "seconds": seconds,
                  "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

HYGIE = """
import json, resource, sys, time
from pathlib import Path
from hygie.config import load_settings
from hygie.warehouse.ingest import ingest
from hygie.warehouse.warehouse import Warehouse
warehouse, data = sys.argv[1], sys.argv[2]
started = time.perf_counter()
report = ingest(Warehouse(load_settings().with_overrides(warehouse=Path(warehouse))), [data]).summary()
seconds = time.perf_counter() - started
print(json.dumps({"rows": report["resources_read"], "seconds": seconds,
                  "quarantined": report["quarantined"],
                  "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "parse_rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def measure(script: str, *args: str) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    measured: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--resources", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from replicate import FALLBACK_SAMPLE, SAMPLE, replicate

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="hygie-bench-ingest-"))
    data = workdir / "ndjson"
    try:
        sample = SAMPLE if SAMPLE.is_dir() else FALLBACK_SAMPLE
        count, size = replicate(data, args.resources, sample)
        # A kept --workdir is measured afresh: no database or warehouse from an earlier run.
        (workdir / "bare.duckdb").unlink(missing_ok=True)
        (workdir / "bare.duckdb.wal").unlink(missing_ok=True)
        shutil.rmtree(workdir / "warehouse", ignore_errors=True)
        bare = measure(REFERENCE, str(workdir / "bare.duckdb"), str(data / "*.ndjson"))
        ours = measure(HYGIE, str(workdir / "warehouse"), str(data))
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    assert bare["rows"] == count and ours["rows"] == count, (bare, ours, count)
    table = Table(
        title=f"Ingestion of {count:,} FHIR resources ({size / 1e9:.2f} GB NDJSON) — "
        f"{datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, "
        f"{len(__import__('os').sched_getaffinity(0))} cores"
    )
    for column in ("run", "seconds", "resources/s", "MB/s", "peak RSS MiB"):
        table.add_column(column, justify="right" if column != "run" else "left")
    for name, figures in (("DuckDB read_json (reference)", bare), ("hygie ingest", ours)):
        table.add_row(
            name,
            f"{figures['seconds']:.1f}",
            f"{count / figures['seconds']:,.0f}",
            f"{size / 1e6 / figures['seconds']:.1f}",
            f"{figures['rss_kib'] / 1024:,.0f}",
        )
    Console().print(table)
    ratio = bare["seconds"] / ours["seconds"]
    print(f"hygie ingest / DuckDB read_json throughput: {ratio:.0%} (target ≥ 50 %)")
    print(
        f"hygie ingest peak RSS: {ours['rss_kib'] / 1024:,.0f} MiB, its NDJSON parsing process "
        f"{ours['parse_rss_kib'] / 1024:,.0f} MiB, together at most "
        f"{(ours['rss_kib'] + ours['parse_rss_kib']) / 1024:,.0f} MiB (target < 1024 MiB)"
    )
    print(f"quarantined: {ours['quarantined']:.0f}")


if __name__ == "__main__":
    main()
