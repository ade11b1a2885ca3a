"""Settings: where the warehouse is, which engine runs the SQL, and the thresholds.

Precedence, highest first: command-line options, environment variables (``HYGIE_*``), the TOML
file (``HYGIE_CONFIG``, else ``./hygie.toml``), built-in defaults.

Example ``hygie.toml``::

    warehouse = "/data/hygie-warehouse"
    engine = "duckdb"
    lock_timeout = 30          # seconds a writer waits for another one to finish
    batch_size = 10000         # items per ingestion transaction
    memory_limit = "1GB"       # DuckDB memory limit
    ingest_memory_limit = "512MB"  # DuckDB memory limit during ingestion runs
    small_count_threshold = 10 # aggregate counts below this are shown as "<10"
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from hygie.errors import ConfigError

DEFAULT_WAREHOUSE = Path("hygie-warehouse")
MEMORY_SIZE = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)
ENGINES = ("duckdb",)


@dataclass(frozen=True)
class Settings:
    """Everything Hygie reads from its configuration."""

    warehouse: Path = DEFAULT_WAREHOUSE
    engine: str = "duckdb"
    lock_timeout: float = 30.0
    batch_size: int = 10_000
    memory_limit: str = "1GB"
    ingest_memory_limit: str = "512MB"
    """Ingestion keeps little in the engine; a lower limit keeps a long run under 1 GiB."""
    threads: int = 0
    """Engine threads; 0 lets the engine choose (all cores)."""
    small_count_threshold: int = 10

    def with_overrides(self, **values: Any) -> Settings:
        """A copy with the given non-None values replaced."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})


_TYPES = {f.name: f.type for f in fields(Settings)}


def _coerce(name: str, value: Any, origin: str) -> Any:
    kind = _TYPES[name]
    try:
        if kind == "Path":
            return Path(str(value)).expanduser()
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{origin}: {name} = {value!r} is not a valid {kind}") from exc


def load_settings(environ: dict[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Read the TOML file and the environment into :class:`Settings`."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    config_path = Path(env["HYGIE_CONFIG"]) if "HYGIE_CONFIG" in env else None
    if config_path is None and (cwd or Path.cwd()).joinpath("hygie.toml").is_file():
        config_path = (cwd or Path.cwd()) / "hygie.toml"
    if config_path is not None:
        try:
            document = tomllib.loads(config_path.read_text("utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(
                f"HYGIE_CONFIG points to {config_path}, which does not exist"
            ) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path} is not valid TOML: {exc}") from exc
        for name, value in document.items():
            if name not in _TYPES:
                known = ", ".join(sorted(_TYPES))
                raise ConfigError(f"{config_path}: unknown setting {name!r} (known: {known})")
            values[name] = _coerce(name, value, str(config_path))
    for name in _TYPES:
        key = f"HYGIE_{name.upper()}"
        if key in env:
            values[name] = _coerce(name, env[key], f"environment variable {key}")
    settings = Settings(**values)
    if settings.engine not in ENGINES:
        raise ConfigError(
            f"engine {settings.engine!r} is not available (known: {', '.join(ENGINES)})"
        )
    if settings.batch_size < 1:
        raise ConfigError("batch_size must be at least 1")
    for name in ("memory_limit", "ingest_memory_limit"):
        if not MEMORY_SIZE.fullmatch(getattr(settings, name)):
            raise ConfigError(
                f"{name} = {getattr(settings, name)!r} is not a size like 512MB or 2GB"
            )
    return settings
