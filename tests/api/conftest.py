"""Fixtures of the API tests: servers started from tests.api.support (one module instance, so
the prepared warehouse is made once per session)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.support import TEMPLATE, Api, start_api


@pytest.fixture(scope="session", autouse=True)
def api_template(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The prepared warehouse every server copies lives with pytest's temporary files."""
    TEMPLATE["root"] = tmp_path_factory.mktemp("template")


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One server for the read, search and authorization tests (they add no shared state)."""
    yield from start_api(tmp_path_factory.mktemp("api"))


@pytest.fixture
def fresh_api(tmp_path: Path) -> Iterator[Api]:
    """A server of its own, for tests that write or count audit records."""
    yield from start_api(tmp_path)


@pytest.fixture(scope="session")
def ops_token(api: Api) -> str:
    return api.token("ops", "system/*.cruds")
