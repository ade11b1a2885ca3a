"""``hygie synth``: a synthetic French hospital population as FHIR R4 (NDJSON or bundles).

Patients are generated one by one from ``(seed, patient index)``, so the output is identical
for the same options and memory stays flat for any number of patients. Reference tables (names,
communes, prevalences, codes) are data files under ``hygie/synth/data/`` citing their sources;
see ``docs/synthetic-data.md``.

Example::

    from pathlib import Path
    from hygie.synth import SynthOptions, generate

    summary = generate(SynthOptions(patients=100, seed=42, out_dir=Path("out")))
    print(summary.resources_by_type["Patient"])  # 100
"""

from __future__ import annotations

from collections.abc import Callable

from hygie.synth.generator import run
from hygie.synth.options import FORMATS, SynthOptions, SynthSummary

__all__ = ["FORMATS", "SynthOptions", "SynthSummary", "generate"]


def generate(options: SynthOptions, progress: Callable[[int], None] | None = None) -> SynthSummary:
    """Generate the population described by ``options`` into ``options.out_dir``.

    ``progress(n)`` is called with the number of patients just completed (for a Rich progress
    bar). Raises :class:`hygie.errors.InputError` or :class:`hygie.errors.ConfigError` for
    options that cannot be used (no patients, messiness outside 0..1, empty period, unknown
    format, non-empty output directory).
    """
    return run(options, progress)
