"""Fixtures shared by the whole test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from hygie.config import Settings
from hygie.warehouse.warehouse import Warehouse

DATA = Path(__file__).parent / "data"
SYNTHEA = DATA / "synthea-small"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(warehouse=tmp_path / "warehouse", lock_timeout=60.0, batch_size=500)


@pytest.fixture
def warehouse(settings: Settings) -> Warehouse:
    return Warehouse(settings)
