"""Two writers on one warehouse: the second waits (or refuses clearly); nothing is corrupted.
Interrupting a run leaves whole batches; running it again completes the work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from hygie.config import Settings
from hygie.warehouse.warehouse import Warehouse


def make_input(path: Path, patients: int) -> None:
    with path.open("w") as handle:
        for i in range(patients):
            handle.write(json.dumps({"resourceType": "Patient", "id": f"p{i}", "gender": "male"}))
            handle.write("\n")


def hygie(warehouse: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "hygie", "--warehouse", str(warehouse), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def counts(warehouse: Path) -> tuple[int, int, int]:
    with Warehouse(Settings(warehouse=warehouse)).reading() as engine:
        return (
            engine.fetchall("SELECT COUNT(*) FROM raw_input")[0][0],
            engine.fetchall("SELECT COUNT(*) FROM resource_version")[0][0],
            engine.fetchall("SELECT COUNT(DISTINCT id) FROM resource")[0][0],
        )


def test_two_ingests_at_once_end_with_a_correct_warehouse(tmp_path: Path) -> None:
    data = tmp_path / "patients.ndjson"
    make_input(data, 20_000)
    warehouse = tmp_path / "warehouse"
    first = hygie(warehouse, "ingest", str(data), HYGIE_BATCH_SIZE="2000")
    second = hygie(warehouse, "ingest", str(data), HYGIE_BATCH_SIZE="2000")
    results = [p.communicate(timeout=240) for p in (first, second)]
    codes = [first.returncode, second.returncode]

    # Both succeed (one waited for the other), or one refuses with the "busy" exit code.
    assert sorted(codes) in ([0, 0], [0, 5]), results
    for code, (_out, err) in zip(codes, results, strict=True):
        if code == 5:
            assert "is being written by" in err or "in use by another process" in err
    assert counts(warehouse) == (20_000, 20_000, 20_000)


def test_a_writer_that_cannot_get_the_lock_fails_clearly(tmp_path: Path) -> None:
    data = tmp_path / "patients.ndjson"
    make_input(data, 60_000)
    warehouse = tmp_path / "warehouse"
    with Warehouse(Settings(warehouse=warehouse)).writing():  # this process holds the lock
        blocked = hygie(warehouse, "ingest", str(data), HYGIE_LOCK_TIMEOUT="0.5")
        _out, err = blocked.communicate(timeout=60)
    assert blocked.returncode == 5
    assert "is being written by pid" in err


def test_a_killed_run_leaves_whole_batches_and_a_rerun_completes_it(tmp_path: Path) -> None:
    data = tmp_path / "patients.ndjson"
    make_input(data, 60_000)
    warehouse = tmp_path / "warehouse"
    run = hygie(warehouse, "ingest", str(data), HYGIE_BATCH_SIZE="1000")
    deadline = time.monotonic() + 120
    care = warehouse / "care"
    while time.monotonic() < deadline and len(list(care.glob("*/*.parquet"))) < 3:
        time.sleep(0.02)
    run.send_signal(signal.SIGKILL)
    run.communicate(timeout=60)

    raw, versions, current = counts(warehouse)
    assert 0 < raw < 60_000  # cut in the middle
    assert raw == versions == current  # whole batches: every raw item has its version

    rerun = hygie(warehouse, "ingest", str(data))
    _out, err = rerun.communicate(timeout=240)
    assert rerun.returncode == 0, err
    assert counts(warehouse) == (60_000, 60_000, 60_000)
    # Files are written under tmp/, renamed into place when whole; the rerun emptied tmp/.
    assert not [p for p in (warehouse / "tmp").rglob("*") if p.is_file()]
    assert all(p.stat().st_size > 0 for p in warehouse.glob("*/*/*.parquet"))
    with Warehouse(Settings(warehouse=warehouse)).reading() as engine:
        statuses = [r[0] for r in engine.fetchall("SELECT status FROM runs ORDER BY started_at")]
    assert statuses == ["interrupted", "completed"]
