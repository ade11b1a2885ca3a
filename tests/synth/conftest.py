"""Session-wide generated populations shared by the synth tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hygie.synth import SynthOptions, SynthSummary
from hygie.synth.generator import run

from .helpers import read_ndjson

SEED = 20240501
PATIENTS = 300


@pytest.fixture(scope="session")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[SynthSummary, Path]:
    """300 patients, clean, NDJSON, generated in one process."""
    out = tmp_path_factory.mktemp("clean") / "out"
    summary = run(SynthOptions(patients=PATIENTS, seed=SEED, out_dir=out), workers=1)
    return summary, out


@pytest.fixture(scope="session")
def resources(clean_run: tuple[SynthSummary, Path]) -> dict[str, list[dict[str, Any]]]:
    """Resources of the clean run, by type."""
    return read_ndjson(clean_run[1])


@pytest.fixture(scope="session")
def patients(resources: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Patients of the clean run, by id."""
    return {p["id"]: p for p in resources["Patient"]}
