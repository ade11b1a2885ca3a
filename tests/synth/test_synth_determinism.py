"""Same options give byte-identical files, whatever the number of worker processes."""

from __future__ import annotations

import gzip
from pathlib import Path

from hygie.synth import SynthOptions, SynthSummary, generate
from hygie.synth.generator import run

from .conftest import PATIENTS, SEED
from .helpers import file_hashes


def test_same_seed_gives_identical_files_with_two_workers(
    clean_run: tuple[SynthSummary, Path], tmp_path: Path
) -> None:
    again = run(SynthOptions(patients=PATIENTS, seed=SEED, out_dir=tmp_path / "again"), workers=2)
    assert file_hashes(tmp_path / "again") == file_hashes(clean_run[1])
    assert again.resources_by_type == clean_run[0].resources_by_type


def test_different_seed_gives_different_population(
    clean_run: tuple[SynthSummary, Path], tmp_path: Path
) -> None:
    generate(SynthOptions(patients=PATIENTS, seed=SEED + 1, out_dir=tmp_path / "other"))
    ours, theirs = file_hashes(clean_run[1]), file_hashes(tmp_path / "other")
    assert ours["Patient.ndjson"] != theirs["Patient.ndjson"]
    assert ours["Observation.ndjson"] != theirs["Observation.ndjson"]


def test_gzip_output_is_deterministic_and_holds_the_same_lines(
    clean_run: tuple[SynthSummary, Path], tmp_path: Path
) -> None:
    for name in ("a", "b"):
        generate(SynthOptions(patients=40, seed=SEED, out_dir=tmp_path / name, format="ndjson.gz"))
    assert file_hashes(tmp_path / "a") == file_hashes(tmp_path / "b")
    generate(SynthOptions(patients=40, seed=SEED, out_dir=tmp_path / "plain"))
    packed = gzip.decompress((tmp_path / "a" / "Patient.ndjson.gz").read_bytes())
    assert packed == (tmp_path / "plain" / "Patient.ndjson").read_bytes()


def test_patients_do_not_depend_on_population_size(
    clean_run: tuple[SynthSummary, Path], tmp_path: Path
) -> None:
    generate(SynthOptions(patients=10, seed=SEED, out_dir=tmp_path / "small"))
    small = (tmp_path / "small" / "Patient.ndjson").read_bytes().splitlines()
    large = (clean_run[1] / "Patient.ndjson").read_bytes().splitlines()
    assert small == large[:10]


def test_summary_counts_match_files(clean_run: tuple[SynthSummary, Path]) -> None:
    summary, out = clean_run
    for kind, count in summary.resources_by_type.items():
        lines = (out / f"{kind}.ndjson").read_bytes().count(b"\n")
        assert lines == count, kind
    assert summary.patients == PATIENTS
    assert summary.resources_by_type["Patient"] == PATIENTS
    assert summary.truth_notes == summary.resources_by_type["DocumentReference"]
    assert all(path.exists() for path in summary.files)
