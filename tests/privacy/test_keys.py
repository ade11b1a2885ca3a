"""The project key: outside the warehouse, owner-only, required by the research build."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hygie.errors import ConfigError
from hygie.privacy.keys import default_key_path, init_key, load_key


def test_a_new_key_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = init_key("study", tmp_path / "warehouse", tmp_path / "keys" / "study.key")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = load_key("study", tmp_path / "warehouse", path)
    assert len(key.secret) == 32 and key.secret.hex() not in repr(key)


def test_two_keys_differ_and_an_existing_key_is_kept_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    first = load_key("p", tmp_path / "w", init_key("p", tmp_path / "w", path)).secret
    with pytest.raises(ConfigError, match="already exists"):
        init_key("p", tmp_path / "w", path)
    second = load_key("p", tmp_path / "w", init_key("p", tmp_path / "w", path, force=True)).secret
    assert first != second


def test_a_key_inside_the_warehouse_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="inside the warehouse"):
        init_key("study", tmp_path, tmp_path / "keys" / "study.key")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_with_loose_permissions_is_refused(tmp_path: Path, mode: int) -> None:
    path = init_key("study", tmp_path / "w", tmp_path / "study.key")
    os.chmod(path, mode)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_key("study", tmp_path / "w", path)


def test_a_damaged_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.key"
    path.write_text("not a key\n")
    os.chmod(path, 0o600)
    with pytest.raises(ConfigError, match="does not hold a key"):
        load_key("study", tmp_path / "w", path)


def test_the_key_location_follows_the_environment() -> None:
    assert default_key_path("s", {}) == Path("~/.config/hygie/keys/s.key").expanduser()
    assert default_key_path("s", {"HYGIE_KEYS_DIR": "/k"}) == Path("/k/s.key")
    assert default_key_path("s", {"HYGIE_KEY_FILE": "/x.key", "HYGIE_KEYS_DIR": "/k"}) == Path(
        "/x.key"
    )
    with pytest.raises(ConfigError, match="project name"):
        default_key_path("../etc", {})
