"""benchmarks/figures.py: what it reads of a pytest run, when it leaves the docker suite out,
and that a figure it cannot measure says why instead of ending the script."""

from __future__ import annotations

import re

import pytest

from benchmarks import figures


@pytest.mark.parametrize(
    ("last_line", "counts"),
    [
        ("130 passed, 18 skipped, 2 warnings in 24.97s", "130 passed, 18 skipped, 2 warnings"),
        (
            "===== 1 failed, 136 passed, 12 skipped in 60.27s (0:01:00) =====",
            "1 failed, 136 passed, 12 skipped",
        ),
    ],
)
def test_the_counts_come_from_pytests_last_line(last_line: str, counts: str) -> None:
    found = figures.SUMMARY.search(last_line)
    assert found is not None
    assert found["counts"] == counts


def test_the_docker_suite_is_left_out_when_the_process_run_predicts_more_than_the_budget() -> None:
    assert figures.docker_left_out(25.0, 240.0) == ""
    reason = figures.docker_left_out(150.0, 240.0)
    assert reason.startswith("left out: expected about 300 s")
    assert "--docker-budget" in reason
    assert figures.docker_left_out(None, 240.0).startswith("left out: no process run")


def test_a_figure_that_breaks_says_why_in_its_row() -> None:
    def broken() -> figures.Row:
        raise OSError("no such file")

    row = figures.measure(broken, "a figure")
    assert row.figure == "a figure"
    assert row.measured == "not measured: OSError: no such file"
    assert row.met is None
    assert "| a figure | not measured: OSError: no such file |" in figures.table([row])


def test_the_three_envs_row_needs_its_one_env_anchor() -> None:
    row = figures.envs_row("three envs", None, "2", 1.0)
    assert row.measured.startswith("not measured: no one-env run to divide by")
    assert row.goal == "≤ 1.3"
    assert row.met is None


def test_settling_reports_how_idle_the_cpu_was_and_gives_up_when_busy() -> None:
    idle = figures.cpu_idle(0.2)
    assert idle is not None
    assert 0.0 <= idle <= 1.0
    # A share no CPU reaches: it waits its limit (here none), then says the figures are inflated.
    said = figures.settle(0.0, idle_enough=1.01)
    assert re.fullmatch(
        r"CPU \d+% idle over the last second, still busy after waiting 0 s: figures inflated", said
    )
    assert re.fullmatch(r"CPU \d+% idle over the last second", figures.settle(0.0, idle_enough=0.0))


def test_the_suites_run_as_a_users_do_bytecode_written_and_the_cache_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    assert "PYTHONDONTWRITEBYTECODE" not in figures.child_env()
    assert [workers for workers, _ in figures.ENVS_RUNS] == ["2", "2", "auto"]
