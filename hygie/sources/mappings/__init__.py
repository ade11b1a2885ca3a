"""Example CSV mappings shipped with Hygie (``lab-results``, ``pharmacy-dispensing``).

Copy one next to your extract and adapt the column names; ``docs/connectors.md`` explains each key.
"""

from __future__ import annotations

from pathlib import Path

from hygie.errors import ConfigError

FOLDER = Path(__file__).parent


def shipped_mapping(name: str) -> Path:
    """The path of the shipped mapping ``name`` (e.g. ``lab-results``).

    >>> shipped_mapping("lab-results").name
    'lab-results.yaml'
    """
    path = FOLDER / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in FOLDER.glob("*.yaml")))
        raise ConfigError(f"no shipped CSV mapping called {name!r} (shipped: {known})")
    return path
