"""Research zone benchmark: the research build against the ingestion of the same data, and the
French text de-identification scored on a truth file from a seed not used while tuning.

In one run: generate a synthetic population, ingest it (reference: resources/s of `ingest`),
build the research zone (resources/s, target >= 30 % of ingestion), then score the letters of a
second population (seed 9999 by default: never used to tune the rules). Run:

    .venv/bin/python bench/research.py --patients 1000 --eval-patients 300
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hygie.config import Settings
from hygie.privacy.evaluation import evaluate_deid
from hygie.privacy.keys import init_key
from hygie.privacy.research import build_research_zone
from hygie.synth import SynthOptions, generate
from hygie.warehouse.ingest import ingest
from hygie.warehouse.warehouse import Warehouse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--eval-patients", type=int, default=300)
    parser.add_argument("--eval-seed", type=int, default=9999)
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        generate(SynthOptions(patients=args.patients, seed=args.seed, out_dir=root / "synth"))
        warehouse = Warehouse(Settings(warehouse=root / "warehouse"))
        ingested = ingest(warehouse, [str(root / "synth")]).summary()
        key = init_key("bench", warehouse.path, root / "keys" / "bench.key")
        built = build_research_zone(warehouse, "bench", key_path=key)
        generate(
            SynthOptions(patients=args.eval_patients, seed=args.eval_seed, out_dir=root / "eval")
        )
        scores = evaluate_deid(root / "eval")
        no_lexicon = evaluate_deid(root / "eval", use_lexicon=False)

    table = Table(title=f"Research zone build, {args.patients} patients (seed {args.seed})")
    for column in ("step", "resources", "seconds", "resources/s", "ratio"):
        table.add_column(column, justify="right")
    ingest_rate = ingested["resources_per_second"]
    table.add_row(
        "ingest (reference)",
        str(ingested["resources_read"]),
        f"{ingested['seconds']:.2f}",
        f"{ingest_rate:,.0f}",
        "1.00",
    )
    table.add_row(
        "research build",
        str(built.resources_read),
        f"{built.seconds:.2f}",
        f"{built.resources_per_second:,.0f}",
        f"{built.resources_per_second / ingest_rate:.2f}",
    )
    console.print(table)

    scored = Table(
        title=f"French text de-identification, {scores.notes} letters (seed {args.eval_seed})"
    )
    for column in ("label", "true spans", "recall", "precision", "recall, no lexicon"):
        scored.add_column(column, justify="right")
    for label, score in scores.labels.items():
        scored.add_row(
            label,
            str(score.true_spans),
            f"{score.recall:.4f}",
            f"{score.precision:.4f}",
            f"{no_lexicon.labels[label].recall:.4f}",
        )
    scored.add_row(
        "all",
        "",
        f"fully redacted {scores.fully_redacted_share:.4f}",
        f"{scores.precision:.4f}",
        f"fully redacted {no_lexicon.fully_redacted_share:.4f}",
    )
    console.print(scored)
    console.print(
        f"{platform.machine()} {platform.system()}, {os.cpu_count()} cores, "
        f"{datetime.now(UTC):%Y-%m-%d}"
    )


if __name__ == "__main__":
    main()
