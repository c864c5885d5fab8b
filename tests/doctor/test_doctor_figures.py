"""benchmarks/doctor_figures.py, which CI runs after the tests, measures what its rows say: each
run ends with the exit status its row expects (a doctor that cannot reach the server is no
figure of doctor). Its times are printed, never judged here."""

from __future__ import annotations

import subprocess
import sys

from tests.harness import REPO, base_env

ROWS = (
    "doctor, healthy local server",
    "same, plaintext",
    "doctor, server without the promised password",
    "nself-redis --version",
)


def test_every_row_is_measured() -> None:
    completed = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "doctor_figures.py"), "--runs", "1"],
        cwd=REPO,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "expected one of" not in completed.stdout
    for row in ROWS:
        assert f"| {row} |" in completed.stdout, completed.stdout
