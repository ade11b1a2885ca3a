"""A synthetic care zone, ingested once, and its research zone, shared by the privacy tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import orjson
import pytest

from hygie.config import Settings
from hygie.privacy.keys import init_key
from hygie.privacy.research import ResearchBuildSummary, build_research_zone
from hygie.synth import SynthOptions, generate
from hygie.warehouse.ingest import ingest
from hygie.warehouse.warehouse import Warehouse

PATIENTS = 120
SEED = 20260
TODAY = date(2026, 6, 1)


@dataclass
class Zone:
    """A warehouse with a care zone and its research zone."""

    synth_dir: Path
    warehouse: Warehouse
    key_path: Path
    summary: ResearchBuildSummary

    def research(self) -> list[dict[str, object]]:
        with self.warehouse.reading() as engine:
            return [
                orjson.loads(text)
                for (text,) in engine.fetchall(
                    "SELECT CAST(resource AS VARCHAR) FROM research.resource"
                )
            ]

    def care(self, resource_type: str) -> list[dict[str, object]]:
        path = self.synth_dir / f"{resource_type}.ndjson"
        return [orjson.loads(line) for line in path.read_bytes().splitlines() if line]


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "out"
    generate(SynthOptions(patients=PATIENTS, seed=SEED, out_dir=out))
    return out


@pytest.fixture(scope="session")
def care_warehouse(synth_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    root = tmp_path_factory.mktemp("care")
    warehouse = Warehouse(Settings(warehouse=root / "warehouse", lock_timeout=60, batch_size=5000))
    ingest(warehouse, [str(synth_dir)])
    return warehouse


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="session")
def zone(synth_dir: Path, care_warehouse: Warehouse, keys_dir: Path) -> Zone:
    """The research zone of project "study" (read-only for the tests that share it)."""
    key_path = init_key("study", care_warehouse.path, keys_dir / "study.key")
    summary = build_research_zone(care_warehouse, "study", key_path=key_path, today=TODAY)
    return Zone(synth_dir, care_warehouse, key_path, summary)


@pytest.fixture
def own_zone(zone: Zone, tmp_path: Path) -> Iterator[Zone]:
    """A private copy of the warehouse, for tests that change it."""
    copy = tmp_path / "warehouse"
    shutil.copytree(zone.warehouse.path, copy)
    warehouse = Warehouse(Settings(warehouse=copy, lock_timeout=60, batch_size=5000))
    yield Zone(zone.synth_dir, warehouse, zone.key_path, zone.summary)
