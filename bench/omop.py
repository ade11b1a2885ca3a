"""OMOP benchmark: FHIR resources of a warehouse -> OMOP CDM 5.4, full and incremental builds.

Generates a synthetic French population with `hygie synth` (about 110 resources per patient:
9,000 patients give about one million resources), ingests it once into a temporary warehouse
(timed apart, not part of the OMOP figure), then, each in a fresh process so peak memory is its
own:

  (a) load the vocabulary shard tests/data/omop-vocab-synthea27nj and time
      `build_omop(full=True)` end to end (staging, vocabulary joins, eras, lineage);
  (b) after ingesting 1 % new patients (another seed), time an incremental `build_omop()`;
  (c) time `build_omop()` once more with nothing changed (it must touch nothing).

Prints per-step timings, resources/s (FHIR resources in the warehouse / build seconds), peak
RSS, and the target (>= 20,000 resources/s for the full build). Run:

    .venv/bin/python bench/omop.py --patients 9000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
VOCAB = ROOT / "tests" / "data" / "omop-vocab-synthea27nj"
TARGET = 20_000

BUILD = """
import json, resource, sys, time
from pathlib import Path
from hygie.config import Settings
from hygie.omop import build_omop, coverage, load_vocabulary
from hygie.warehouse.warehouse import Warehouse
warehouse, vocab, full = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "full"
with Warehouse(Settings(warehouse=warehouse)).writing() as engine:
    if vocab:
        load_vocabulary(engine, Path(vocab))
    resources = engine.fetchall("SELECT count(*) FROM resource")[0][0]
    started = time.perf_counter()
    summary = build_omop(engine, full=full)
    seconds = time.perf_counter() - started
    report = coverage(engine)
print(json.dumps({
    "seconds": seconds, "resources": resources, "staged": summary.resources_read,
    "full": summary.full, "persons": summary.persons_rebuilt,
    "steps": [[t.table, t.rows, t.seconds] for t in summary.tables],
    "mapped": report.mapped_records, "records": report.records,
    "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}))
"""


def measure(*args: str) -> dict[str, object]:
    """Run one build in a fresh process and read its figures."""
    result = subprocess.run(
        [sys.executable, "-c", BUILD, *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    figures: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def prepare(workdir: Path, patients: int, seed: int) -> tuple[Path, float, int]:
    """Generate and ingest the population, then generate the 1 % increment (not ingested)."""
    from hygie.config import Settings
    from hygie.synth import generate
    from hygie.synth.options import SynthOptions
    from hygie.warehouse.ingest import ingest
    from hygie.warehouse.warehouse import Warehouse

    generate(SynthOptions(patients=patients, seed=seed, out_dir=workdir / "synth"))
    extra = max(patients // 100, 1)
    generate(SynthOptions(patients=extra, seed=seed + 1, out_dir=workdir / "increment"))
    warehouse = workdir / "warehouse"
    started = time.perf_counter()
    ingest(Warehouse(Settings(warehouse=warehouse)), [str(workdir / "synth")])
    return warehouse, time.perf_counter() - started, extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=9_000)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    from hygie.config import Settings
    from hygie.warehouse.ingest import ingest
    from hygie.warehouse.warehouse import Warehouse

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="hygie-bench-omop-"))
    try:
        warehouse, ingest_seconds, extra = prepare(workdir, args.patients, args.seed)
        full = measure(str(warehouse), str(VOCAB), "full")
        ingest(Warehouse(Settings(warehouse=warehouse)), [str(workdir / "increment")])
        incremental = measure(str(warehouse), "", "incremental")
        unchanged = measure(str(warehouse), "", "incremental")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    console = Console()
    steps = Table(title="build_omop(full=True): steps")
    for column in ("step", "rows", "seconds"):
        steps.add_column(column, justify="left" if column == "step" else "right")
    for name, rows, seconds in full["steps"]:  # type: ignore[attr-defined]
        steps.add_row(name, f"{rows:,}", f"{seconds:.2f}")
    console.print(steps)

    resources = int(full["resources"])  # type: ignore[call-overload]
    table = Table(
        title=f"FHIR -> OMOP CDM 5.4, {args.patients:,} synthetic patients, "
        f"{resources:,} FHIR resources — {datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, "
        f"{len(os.sched_getaffinity(0))} cores"
    )
    for column in ("run", "persons", "seconds", "resources/s", "peak RSS MiB"):
        table.add_column(column, justify="left" if column == "run" else "right")
    table.add_row("ingest (not part of OMOP)", "", f"{ingest_seconds:.1f}",
                  f"{resources / ingest_seconds:,.0f}", "")  # fmt: skip
    for name, figures in (
        ("build_omop full", full),
        (f"build_omop incremental (+{extra} patients)", incremental),
        ("build_omop again, nothing changed", unchanged),
    ):
        seconds = float(figures["seconds"])  # type: ignore[arg-type]
        table.add_row(
            name,
            f"{figures['persons']:,}",
            f"{seconds:.1f}",
            f"{int(figures['resources']) / seconds:,.0f}",  # type: ignore[call-overload]
            f"{int(figures['rss_kib']) / 1024:,.0f}",  # type: ignore[call-overload]
        )
    console.print(table)
    rate = resources / float(full["seconds"])  # type: ignore[arg-type]
    verdict = "met" if rate >= TARGET else "NOT met"
    print(f"full build: {rate:,.0f} resources/s (target >= {TARGET:,}: {verdict})")
    print(f"incremental build full fallback: {incremental['full']}")
    share_unchanged = float(unchanged["seconds"]) / float(full["seconds"])  # type: ignore[arg-type]
    verdict_unchanged = "met" if share_unchanged < 0.10 else "NOT met"
    print(
        f"rebuild with no change: {share_unchanged:.1%} of a full build "
        f"(target < 10 %: {verdict_unchanged})"
    )
    share = int(full["mapped"]) / max(int(full["records"]), 1)  # type: ignore[call-overload]
    print(f"event rows mapped to a standard concept with the shard: {share:.0%}")


if __name__ == "__main__":
    main()
