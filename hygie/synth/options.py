"""Options and summary of a generation run, and the checks on the options."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from hygie.errors import ConfigError, InputError

FORMATS = ("ndjson", "ndjson.gz", "bundles")


@dataclass(frozen=True)
class SynthOptions:
    """What to generate and where.

    ``format`` is ``ndjson`` (one file per resource type), ``ndjson.gz`` (the same, gzipped) or
    ``bundles`` (one transaction Bundle per patient). ``messiness`` (0..1) scales the rate of
    injected defects; 0 gives clean output. ``part_size`` caps the resources per NDJSON file.
    """

    patients: int
    seed: int
    out_dir: Path
    format: str = "ndjson"
    start: date = date(2015, 1, 1)
    end: date = date(2026, 6, 30)
    messiness: float = 0.0
    part_size: int = 500_000


@dataclass
class SynthSummary:
    """What a run wrote."""

    patients: int
    resources_by_type: dict[str, int]
    files: list[Path]
    truth_notes: int
    seconds: float


MIN_PERIOD_DAYS = 60


def validate_options(options: SynthOptions) -> None:
    """Raise :class:`InputError` or :class:`ConfigError` when the options cannot be used."""
    if options.patients < 1:
        raise InputError(f"--patients must be at least 1 (got {options.patients}).")
    if not 0.0 <= options.messiness <= 1.0:
        raise InputError(f"--messiness must be between 0 and 1 (got {options.messiness}).")
    if options.start >= options.end:
        raise InputError(
            f"the period is empty: start {options.start.isoformat()} is not before end "
            f"{options.end.isoformat()}; give a start date earlier than the end date."
        )
    if (options.end - options.start).days < MIN_PERIOD_DAYS:
        raise InputError(
            f"the period {options.start.isoformat()} to {options.end.isoformat()} is shorter than "
            f"{MIN_PERIOD_DAYS} days; give a longer period."
        )
    if options.format not in FORMATS:
        raise ConfigError(f"unknown format {options.format!r}; use one of: {', '.join(FORMATS)}.")
    if options.part_size < 1:
        raise ConfigError(f"part_size must be at least 1 (got {options.part_size}).")
    if options.out_dir.exists() and not options.out_dir.is_dir():
        raise InputError(f"{options.out_dir} exists and is not a directory; choose another --out.")
    if options.out_dir.is_dir() and any(options.out_dir.iterdir()):
        raise InputError(
            f"{options.out_dir} is not empty; choose a new directory or empty it first "
            "(files from an earlier run would mix with this one)."
        )
