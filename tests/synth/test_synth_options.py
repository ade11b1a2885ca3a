"""Bad options are refused with the error family the CLI maps to an exit code."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from hygie.errors import ConfigError, InputError
from hygie.synth import SynthOptions, generate


@pytest.mark.parametrize(
    ("changes", "error", "words"),
    [
        ({"patients": 0}, InputError, "at least 1"),
        ({"messiness": 1.5}, InputError, "between 0 and 1"),
        ({"messiness": -0.1}, InputError, "between 0 and 1"),
        ({"start": date(2020, 1, 1), "end": date(2020, 1, 1)}, InputError, "not before"),
        ({"start": date(2021, 1, 1), "end": date(2020, 1, 1)}, InputError, "not before"),
        ({"format": "csv"}, ConfigError, "unknown format"),
        ({"part_size": 0}, ConfigError, "part_size"),
    ],
)
def test_bad_options_raise(
    tmp_path: Path, changes: dict[str, object], error: type[Exception], words: str
) -> None:
    options = SynthOptions(patients=5, seed=1, out_dir=tmp_path / "out")
    options = SynthOptions(**{**options.__dict__, **changes})  # type: ignore[arg-type]
    with pytest.raises(error, match=words):
        generate(options)
    assert not (tmp_path / "out").exists()


def test_non_empty_output_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        generate(SynthOptions(patients=5, seed=1, out_dir=tmp_path))


def test_progress_reports_every_patient(tmp_path: Path) -> None:
    done: list[int] = []
    summary = generate(
        SynthOptions(patients=120, seed=2, out_dir=tmp_path / "p"), progress=done.append
    )
    assert sum(done) == 120 == summary.patients
    assert summary.seconds > 0
