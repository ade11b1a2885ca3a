"""The `hygie` command as a user runs it: real processes, real warehouse directories."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from tests.conftest import SYNTHEA

ONE_BUNDLE = next((SYNTHEA / "generated-sample-data-r4").glob("*.json"))


def hygie(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hygie", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def test_help_teaches_the_commands() -> None:
    result = hygie("--help")
    assert result.returncode == 0
    for command in ("ingest", "status", "sql", "quarantine", "demo", "synth", "omop", "view"):
        assert command in result.stdout
    ingest_help = hygie("ingest", "--help")
    assert "Re-ingesting the same input adds nothing" in ingest_help.stdout


def test_ingest_status_sql_runs_quarantine_with_json_output(tmp_path: Path) -> None:
    warehouse = str(tmp_path / "wh")
    bad = tmp_path / "bad.ndjson"
    bad.write_text('{"resourceType": "Patient", "id": "ok"}\n{"resourceType": "Nope"}\n')

    ingested = hygie("-w", warehouse, "ingest", str(ONE_BUNDLE), str(bad), "--json")
    assert ingested.returncode == 0, ingested.stderr
    summary = json.loads(ingested.stdout)
    assert summary["quarantined_by_reason"] == {"unknown-resource-type": 1}
    assert summary["by_type"]["Patient"]["created"] == 2

    status = json.loads(hygie("-w", warehouse, "status", "--json").stdout)
    assert status["resources_by_type"]["Patient"] == 2
    assert status["last_runs"][0]["run"] == summary["run_id"]

    runs = json.loads(hygie("-w", warehouse, "runs", "--json").stdout)
    assert [r["status"] for r in runs] == ["completed"]

    quarantine = json.loads(hygie("-w", warehouse, "quarantine", "--json").stdout)
    assert [(q["source"], q["line_no"], q["reason"]) for q in quarantine] == [
        (str(bad), 2, "unknown-resource-type")
    ]

    query = "SELECT id FROM resource WHERE resource_type = 'Patient' ORDER BY id"
    csv_out = hygie("-w", warehouse, "sql", query, "--format", "csv")
    assert csv_out.stdout.splitlines()[0] == '"id"'
    assert len(csv_out.stdout.splitlines()) == 3
    as_json = json.loads(hygie("-w", warehouse, "sql", query, "--format", "json").stdout)
    assert as_json[1] == {"id": "ok"}
    parquet = tmp_path / "patients.parquet"
    written = hygie("-w", warehouse, "sql", query, "-f", "parquet", "-o", str(parquet))
    assert written.returncode == 0
    assert pq.read_table(parquet).column("id").to_pylist()[1] == "ok"


def test_errors_are_messages_with_exit_codes(tmp_path: Path) -> None:
    missing = hygie("-w", str(tmp_path / "none"), "status")
    assert missing.returncode == 4
    assert "no warehouse at" in missing.stderr
    assert "Traceback" not in missing.stderr

    warehouse = str(tmp_path / "wh")
    assert hygie("-w", warehouse, "init").returncode == 0
    bad_sql = hygie("-w", warehouse, "sql", "SELECT * FROM no_such_table")
    assert bad_sql.returncode == 6
    assert "no_such_table" in bad_sql.stderr

    read_only = hygie("-w", warehouse, "sql", "DELETE FROM runs")
    assert read_only.returncode == 6  # hygie sql is read-only unless --write

    no_input = hygie("-w", warehouse, "ingest", str(tmp_path / "nothing.ndjson"))
    assert no_input.returncode == 2
    assert "no such file" in no_input.stderr

    bad = tmp_path / "bad.ndjson"
    bad.write_text("{oops\n")
    strict = hygie("-w", warehouse, "ingest", "--strict", str(bad))
    assert strict.returncode == 8
    assert "quarantined (--strict)" in strict.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = hygie("-w", str(tmp_path / "none"), "--debug", "status")
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_settings_come_from_hygie_toml(tmp_path: Path) -> None:
    (tmp_path / "hygie.toml").write_text('warehouse = "from-toml"\n')
    assert hygie("init", cwd=tmp_path).returncode == 0
    assert (tmp_path / "from-toml" / "hygie.duckdb").is_file()
    (tmp_path / "hygie.toml").write_text("wherehouse = 1\n")
    typo = hygie("status", cwd=tmp_path)
    assert typo.returncode == 3
    assert "unknown setting 'wherehouse'" in typo.stderr


def test_demo_builds_a_warehouse_and_shows_it(tmp_path: Path) -> None:
    result = hygie("demo", "--dir", str(tmp_path), "--patients", "30")
    assert result.returncode == 0, result.stderr
    assert "Resources by type" in result.stdout
    assert "0 quarantined" in result.stdout
    assert (tmp_path / "warehouse" / "hygie.duckdb").is_file()


def test_csv_extracts_are_ingested_with_a_mapping(tmp_path: Path) -> None:
    warehouse = str(tmp_path / "wh")
    extract = Path(__file__).parent / "data" / "csv" / "lab-results.csv"
    refused = hygie("-w", warehouse, "ingest", str(extract))
    assert refused.returncode == 2
    assert "--mapping" in refused.stderr

    done = hygie("-w", warehouse, "ingest", str(extract), "--mapping", "lab-results", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["quarantined"] == 0
    assert summary["by_type"]["Observation"]["created"] > 0
