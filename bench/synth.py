"""Benchmark of ``hygie synth``: 1,000 and 10,000 patients, time and peak memory.

Run alone: ``.venv/bin/python bench/synth.py [--sizes 1000 10000] [--format ndjson]``.
Each size runs in its own subprocess so that peak RSS is measured per size (the generating
process and, separately, its worker processes). The target printed with the figures: 10,000
patients in under 120 s on a 2-core machine, with peak memory flat in the number of patients.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

TARGET_SECONDS_10K = 120.0


def child(patients: int, out_dir: Path, fmt: str) -> None:
    """Generate in this process and print the measures as JSON."""
    from hygie.synth import SynthOptions, generate

    began = time.perf_counter()
    summary = generate(SynthOptions(patients=patients, seed=42, out_dir=out_dir, format=fmt))
    seconds = time.perf_counter() - began
    size = sum(p.stat().st_size for p in out_dir.iterdir())
    print(
        json.dumps(
            {
                "patients": patients,
                "resources": sum(summary.resources_by_type.values()),
                "seconds": seconds,
                "bytes": size,
                "notes": summary.truth_notes,
                "rss_main_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "rss_workers_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
            }
        )
    )


def main() -> None:
    """Run every size in a subprocess and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--format", default="ndjson", choices=["ndjson", "ndjson.gz", "bundles"])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.out, args.format)
        return
    console = Console(width=160)
    rows = []
    with tempfile.TemporaryDirectory(prefix="hygie-synth-bench-") as tmp:
        for size in args.sizes:
            out = Path(tmp) / f"run-{size}"
            command = [
                sys.executable,
                __file__,
                "--child",
                str(size),
                "--out",
                str(out),
                "--format",
                args.format,
            ]
            console.print(f"generating {size:,} patients ({args.format})...")
            done = subprocess.run(command, check=True, capture_output=True, text=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    table = Table(
        title=f"hygie synth ({args.format}) on {os.cpu_count()} cores, {platform.python_version()}"
    )
    for column in ("patients", "resources", "notes", "seconds", "patients/s", "resources/s",
                   "MiB written", "peak RSS main MiB", "peak RSS worker MiB", "target"):  # fmt: skip
        table.add_column(column, justify="right")
    for row in rows:
        target = ""
        if row["patients"] == 10000:
            verdict = "met" if row["seconds"] < TARGET_SECONDS_10K else "MISSED"
            target = f"< {TARGET_SECONDS_10K:.0f} s: {verdict}"
        table.add_row(
            f"{row['patients']:,}",
            f"{row['resources']:,}",
            f"{row['notes']:,}",
            f"{row['seconds']:.1f}",
            f"{row['patients'] / row['seconds']:,.0f}",
            f"{row['resources'] / row['seconds']:,.0f}",
            f"{row['bytes'] / 2**20:,.0f}",
            f"{row['rss_main_kib'] / 1024:,.0f}",
            f"{row['rss_workers_kib'] / 1024:,.0f}",
            target,
        )
    console.print(table)
    if len(rows) > 1:
        growth = rows[-1]["rss_main_kib"] / rows[0]["rss_main_kib"]
        console.print(
            f"peak RSS of the main process grows ×{growth:.2f} for ×"
            f"{rows[-1]['patients'] / rows[0]['patients']:.0f} patients (flat means close to ×1)."
        )


if __name__ == "__main__":
    main()
