"""Counts that leave the research zone through Hygie are published with small cells hidden."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def hygie(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HYGIE_KEYS_DIR": str(tmp_path / "keys")}
    command = [sys.executable, "-m", "hygie", "--warehouse", str(tmp_path / "wh"), *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def published_numbers(report: dict[str, list[dict[str, object]]]) -> list[object]:
    values: list[object] = []
    for row in report["rows"]:
        values += [row["records"], row["mapped"]]
    values += [row["records"] for row in report["top_unmapped"]]
    return values


def test_the_coverage_of_an_omop_built_from_the_research_zone_hides_small_counts(
    tmp_path: Path,
) -> None:
    data = tmp_path / "synthetic"
    hygie(tmp_path, "synth", "--patients", "40", "--seed", "5", "--out", str(data))
    hygie(tmp_path, "ingest", str(data))
    hygie(tmp_path, "omop", "build")
    care = json.loads(hygie(tmp_path, "omop", "coverage", "--top", "50", "--json").stdout)
    assert care["suppressed"] is False
    assert any(isinstance(v, int) and 0 < v < 10 for v in published_numbers(care))

    hygie(tmp_path, "keys", "init")
    hygie(tmp_path, "research", "build")
    hygie(tmp_path, "omop", "build", "--source", "research.resource", "--full")
    research = json.loads(hygie(tmp_path, "omop", "coverage", "--top", "50", "--json").stdout)

    assert research["suppressed"] is True
    shown = published_numbers(research)
    assert "<10" in shown
    for value in shown:
        assert value in ("<10", "*", "0") or int(str(value)) >= 10, value
