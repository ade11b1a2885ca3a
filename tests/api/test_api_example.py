"""The documented client example works against a real server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.api.support import start_api

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "get_token.py"


def run_example(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_make_key_then_get_a_token_and_read(tmp_path: Path) -> None:
    made = run_example("make-key", "--out", "lab-app", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "lab-app.private.pem").stat().st_mode & 0o777 == 0o600
    for api in start_api(tmp_path, register={"lab-app": tmp_path / "lab-app.jwks.json"}):
        used = run_example(
            "token",
            "--base-url",
            api.base_url,
            "--client-id",
            "lab-app",
            "--key",
            "lab-app.private.pem",
            "--scope",
            "system/Observation.rs",
            "--get",
            "/Observation?_count=1",
            cwd=tmp_path,
        )
        assert used.returncode == 0, used.stderr
        assert "granted: system/Observation.rs" in used.stdout
        assert '"resourceType": "Bundle"' in used.stdout
        refused = run_example(
            "token",
            "--base-url",
            api.base_url,
            "--client-id",
            "lab-app",
            "--key",
            "lab-app.private.pem",
            "--scope",
            "system/Patient.rs",
            cwd=tmp_path,
        )
        assert refused.returncode != 0
        assert "invalid_scope" in refused.stderr
