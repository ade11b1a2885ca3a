"""The secret key of a research project, kept outside the warehouse.

Every pseudonym and every date shift of the research zone is derived from this key with
HMAC-SHA256: whoever holds the warehouse without the key cannot link a pseudonym back to a
patient, and two projects with different keys (or names) get unlinkable pseudonyms.

The key file holds 32 random bytes written as 64 hexadecimal characters. Its default place is
``~/.config/hygie/keys/<project>.key``; ``HYGIE_KEYS_DIR`` moves the directory and
``HYGIE_KEY_FILE`` names the file itself. The file must be readable by its owner only (mode
0600) and must not lie inside the warehouse directory: a key stored next to the data it protects
protects nothing.

Rotation: a new key gives new pseudonyms and new date shifts. Rotate with ``hygie keys init
--project NAME --force`` (after archiving the old key if the previous extracts must stay
linkable), then rebuild the research zone (``hygie research build``) and everything built from
it (OMOP, views, exports).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from hygie.errors import ConfigError

DEFAULT_PROJECT = "default"
KEY_BYTES = 32
PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class ProjectKey:
    """A project's name, its secret and where the secret was read from."""

    project: str
    path: Path
    secret: bytes = field(repr=False)

    @property
    def fingerprint(self) -> str:
        """A short keyed value naming the key in logs and build records (not the key)."""
        return hmac.new(self.secret, b"hygie key fingerprint", hashlib.sha256).hexdigest()[:16]


def check_project_name(project: str) -> str:
    """Return ``project`` if it is a valid project name, else raise :class:`ConfigError`."""
    if not PROJECT_NAME.match(project):
        raise ConfigError(
            f"project name {project!r} is not valid: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return project


def default_key_path(project: str, environ: dict[str, str] | None = None) -> Path:
    """Where the key of ``project`` lives: ``HYGIE_KEY_FILE``, else ``HYGIE_KEYS_DIR/<project>.key``.

    >>> default_key_path("study", {"HYGIE_KEYS_DIR": "/secure/keys"})
    PosixPath('/secure/keys/study.key')
    """
    env = os.environ if environ is None else environ
    check_project_name(project)
    if env.get("HYGIE_KEY_FILE"):
        return Path(env["HYGIE_KEY_FILE"]).expanduser()
    if env.get("HYGIE_KEYS_DIR"):
        return Path(env["HYGIE_KEYS_DIR"]).expanduser() / f"{project}.key"
    return Path("~/.config/hygie/keys").expanduser() / f"{project}.key"


def _refuse_inside_warehouse(key_path: Path, warehouse: Path) -> None:
    resolved_key = key_path.expanduser().resolve()
    resolved_warehouse = warehouse.expanduser().resolve()
    if resolved_key.is_relative_to(resolved_warehouse):
        raise ConfigError(
            f"the key file {key_path} is inside the warehouse directory {warehouse}: keep the "
            "key outside the warehouse (default ~/.config/hygie/keys/, or HYGIE_KEYS_DIR)"
        )


def init_key(
    project: str, warehouse: Path, key_path: Path | None = None, *, force: bool = False
) -> Path:
    """Create the secret key file of ``project`` (mode 0600) and return its path.

    Refuses a path inside ``warehouse`` and an existing file unless ``force`` (rotation: the
    research zone must then be rebuilt, see the module documentation).
    """
    path = key_path if key_path is not None else default_key_path(check_project_name(project))
    _refuse_inside_warehouse(path, warehouse)
    if path.exists() and not force:
        raise ConfigError(
            f"a key already exists at {path}; keep it, or rotate it with --force and rebuild "
            "the research zone"
        )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(descriptor, (secrets.token_hex(KEY_BYTES) + "\n").encode("ascii"))
    finally:
        os.close(descriptor)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return path


def load_key(project: str, warehouse: Path, key_path: Path | None = None) -> ProjectKey:
    """Read and check the key of ``project``.

    Raises :class:`ConfigError` when the file is missing, inside the warehouse, readable or
    writable by others than its owner, or not 64 hexadecimal characters.
    """
    check_project_name(project)
    path = key_path if key_path is not None else default_key_path(project)
    _refuse_inside_warehouse(path, warehouse)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise ConfigError(
            f"no key for project {project!r} at {path}: create it with "
            f"`hygie keys init --project {project}` (the research zone cannot be built without it)"
        ) from exc
    if stat.S_IMODE(mode) & 0o077:
        raise ConfigError(
            f"the key file {path} has mode {stat.S_IMODE(mode):04o}: it must be readable by its "
            f"owner only; run `chmod 600 {path}`"
        )
    text = path.read_text("ascii", errors="replace").strip()
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise ConfigError(
            f"the key file {path} does not hold a key (64 hexadecimal characters); "
            "create a new one with `hygie keys init --force` and rebuild the research zone"
        )
    return ProjectKey(project=project, path=path, secret=bytes.fromhex(text))
