"""`hygie synth --patients 1000 --seed 1 --out d && hygie ingest d` stores everything, rejects
nothing, and the same seed gives the same bytes."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from hygie.config import Settings
from hygie.warehouse.ingest import ingest
from hygie.warehouse.warehouse import Warehouse


def synth(out: Path) -> None:
    command = [sys.executable, "-m", "hygie", "synth", "--patients", "1000", "--seed", "1"]
    result = subprocess.run([*command, "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def digest(directory: Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.iterdir())
    }


def test_a_thousand_patients_ingest_with_nothing_quarantined(tmp_path: Path) -> None:
    data = tmp_path / "d"
    synth(data)
    summary = ingest(Warehouse(Settings(warehouse=tmp_path / "wh")), [str(data)]).summary()

    written = sum(
        sum(1 for _ in path.open("rb")) for path in data.glob("*.ndjson")
    )  # lines in the NDJSON files, counted without Hygie
    assert summary["quarantined"] == 0, summary["quarantined_by_reason"]
    assert summary["resources_read"] == summary["created"] == written
    assert summary["by_type"]["Patient"]["created"] == 1000
    assert summary["dangling_references"] == 0

    again = tmp_path / "again"
    synth(again)
    assert digest(again) == digest(data)
