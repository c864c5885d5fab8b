"""The latency suite is green on the complete example, and its report reads in a real browser."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_nself_redis.latency import COMMANDS
from tests.browser import browse, png_size
from tests.harness import COMPLETE, RunResult, assert_nothing_left, run_suites

ENVS = ("dev", "staging", "prod")
SUITE_TIMEOUT = 300
RUN_ID = "tlat" + secrets.token_hex(3)


@pytest.fixture(scope="module")
def green_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """One run of the latency suite on every env of the complete example (process target)."""
    workdir = tmp_path_factory.mktemp("latency-green")
    result = run_suites(
        COMPLETE,
        workdir,
        "-m",
        "latency",
        "--nself-env",
        ",".join(ENVS),
        "--nself-target",
        "process",
        env={"NSELF_RUN_ID": RUN_ID},
        timeout=SUITE_TIMEOUT,
    )
    assert_nothing_left(RUN_ID, docker=False)
    return result


def _numbers(result: RunResult, env: str) -> dict[str, object]:
    document = json.loads((result.reports / f"benchmark-{env}.json").read_text())
    return {
        "p50_ms": {
            entry["param"]: entry["extra_info"]["percentiles_ms"]["p50"] for entry in document["benchmarks"]
        },
        "p99_ms": {
            entry["param"]: entry["extra_info"]["percentiles_ms"]["p99"] for entry in document["benchmarks"]
        },
    }


def test_green_on_every_env_with_the_method_stated(green_run: RunResult) -> None:
    result = green_run
    assert result.status == 0, result.explain()
    for env in ENVS:
        outcomes = result.outcomes(env)
        assert len(outcomes) == len(COMMANDS) + 2
        assert set(outcomes.values()) == {"passed"}, outcomes
        numbers = _numbers(result, env)
        print(f"latency {env}: {json.dumps(numbers)}")  # the measured values, for the record
        report = (result.reports / f"report-{env}.html").read_text()
        assert report.count('class="nself-latency-chart"') == len(COMMANDS)
        assert "Sampler: one raw socket" in report
        assert "reading the clock twice costs" in report
        assert 'id="nself-suite-summary"' in report


def test_two_runs_compare_with_pytest_benchmark(green_run: RunResult) -> None:
    files = [str(green_run.reports / f"benchmark-{env}.json") for env in ("staging", "prod")]
    compared = subprocess.run(
        [sys.executable, "-m", "pytest_benchmark", "compare", *files],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert compared.returncode == 0, compared.stdout + compared.stderr
    for command in COMMANDS:
        assert f"latency[{command}]" in compared.stdout


def test_the_report_shows_the_charts_in_headless_chromium(green_run: RunResult, tmp_path: Path) -> None:
    page = green_run.reports / "report-prod.html"
    html = page.read_text()
    # Self-contained: nothing is fetched (links to pytest-html's site are not fetched).
    assert "<script src=" not in html
    assert '<link rel="stylesheet" href="http' not in html
    assert '<img src="http' not in html

    dumped = browse(page, "--dump-dom")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    assert '<section id="nself-latency"' in dom
    for command in COMMANDS:
        assert f'data-command="{command}"' in dom
    assert dom.count("<svg") >= len(COMMANDS)
    assert dom.count('class="nself-budget"') >= 3 * len(COMMANDS)
    assert "Sampler: one raw socket" in dom
    assert 'id="nself-suite-summary"' in dom
    # pytest-html's script ran: the results table was filled in.
    assert "test_round_trips_within_budget" in dom

    screenshot = tmp_path / "report-prod.png"
    shot = browse(page, f"--screenshot={screenshot}", "--window-size=1280,2600", "--hide-scrollbars")
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.is_file()
    assert png_size(screenshot) == (1280, 2600)
    assert screenshot.stat().st_size > 50_000  # a rendered page, not a blank one
    keep = os.environ.get("NSELF_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(screenshot, keep)


@pytest.mark.docker
def test_green_on_docker_once(docker_engine: None, tmp_path: Path) -> None:
    run_id = "tlat" + secrets.token_hex(3)
    result = run_suites(
        COMPLETE,
        tmp_path,
        "-m",
        "latency",
        "--nself-env",
        "staging",
        "--nself-target",
        "docker",
        env={"NSELF_RUN_ID": run_id},
        timeout=SUITE_TIMEOUT,
    )
    assert_nothing_left(run_id, docker=True)
    assert result.status == 0, result.explain()
    outcomes = result.outcomes("staging")
    assert set(outcomes.values()) == {"passed"}, outcomes
    print(f"latency staging (docker): {json.dumps(_numbers(result, 'staging'))}")
