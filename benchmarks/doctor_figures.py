"""The doctor and CLI figures of issue 14, each the median of whole-process runs.

    python benchmarks/doctor_figures.py [--runs 7] [--before DIR]

Rows: ``nself-redis doctor`` against a healthy local server (the complete example's prod env
on a launched redis-server); doctor against a server without the password the env promises
(it must fail fast, exit 2); ``nself-redis --version``. Each run is a fresh interpreter, timed
from spawn to exit. ``--before DIR`` also times the package found in DIR (a checkout's
``pytest_nself_redis``, put first on PYTHONPATH) run by run beside this one, so both see the
same load; the load average is printed with the figures, as the machine is shared. Nothing
here passes or fails on a time: it prints figures (CI may run it and keep them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pytest_nself_redis.context import load_env_context
from pytest_nself_redis.project.model import NselfProject
from pytest_nself_redis.targets.base import Target, TargetOptions
from pytest_nself_redis.targets.select import make_target

REPO = Path(__file__).resolve().parent.parent
PROJECT = REPO / "examples" / "complete"
ENV = "prod"
VERSION_GOAL_MS = 100


@dataclass(frozen=True)
class Row:
    name: str
    argv: tuple[str, ...]
    environ: dict[str, str]
    # The exit statuses that mean the run measured what the row says; a healthy server's doctor
    # may still exit 1 when a loaded machine breaks a latency budget (noted under the table).
    exit_statuses: tuple[int, ...]
    goal_ms: int
    failed: list[str] = field(default_factory=list)


@contextmanager
def server(**overrides: str) -> Iterator[Target]:
    """A redis-server launched from the example's prod env (with ``overrides``), stopped after."""
    context = load_env_context(NselfProject.open(PROJECT), ENV, overrides=overrides or None)
    target = make_target("process", context, TargetOptions(run_id="doctor-figures"))
    target.start()
    try:
        yield target
    finally:
        target.stop()


def doctor_argv(port: int) -> tuple[str, ...]:
    return ("doctor", "--project", str(PROJECT), "--env", ENV, "--redis-url", f"redis://127.0.0.1:{port}")


def once(row: Row, pythonpath: str | None) -> float:
    """One whole process, spawn to exit, in ms; its exit status must be the row's."""
    environ = {**os.environ, **row.environ}
    if pythonpath is not None:
        environ["PYTHONPATH"] = os.pathsep.join(filter(None, (pythonpath, environ.get("PYTHONPATH"))))
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "pytest_nself_redis.cli", *row.argv],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    elapsed = (time.perf_counter() - started) * 1000
    if completed.returncode not in row.exit_statuses:
        raise SystemExit(
            f"{row.name}: exit {completed.returncode}, expected one of {row.exit_statuses}\n"
            + completed.stderr[-2000:]
        )
    row.failed.extend(line.strip() for line in completed.stdout.splitlines() if line.startswith("  ✗"))
    return elapsed


def measure(rows: list[Row], runs: int, before: str | None) -> dict[tuple[str, str], list[float]]:
    """Each row ``runs`` times, after one warm-up each (compiled bytecode, page cache); with
    ``before``, its run and this tree's alternate."""
    trees = {"after": None, "before": before} if before else {"now": None}
    times: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        for pythonpath in trees.values():
            once(row, pythonpath)
        for _ in range(runs):
            for label, pythonpath in trees.items():
                times.setdefault((row.name, label), []).append(once(row, pythonpath))
    return times


def report(rows: list[Row], times: dict[tuple[str, str], list[float]], runs: int) -> str:
    labels = sorted({label for _, label in times}, key=("before", "after", "now").index)
    lines = [
        f"doctor figures: median of {runs} whole-process runs, ms; "
        f"load average {' '.join(f'{load:.2f}' for load in os.getloadavg())}, {os.cpu_count()} CPUs",
        "| figure | " + " | ".join(labels) + " | goal |",
        "|---|" + "---|" * len(labels) + "---|",
    ]
    for row in rows:
        medians = [f"{statistics.median(times[row.name, label]):.0f}" for label in labels]
        lines.append(f"| {row.name} | " + " | ".join(medians) + f" | ≤ {row.goal_ms} |")
    for row in rows:
        if row.failed:
            lines.append(
                f"{row.name}: {len(row.failed)} failed checks over the runs, e.g. {row.failed[0][:200]}"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per row (median; default 7)")
    parser.add_argument("--before", help="a directory holding another pytest_nself_redis to time beside")
    options = parser.parse_args()
    if options.before and not (Path(options.before) / "pytest_nself_redis").is_dir():
        parser.error(f"--before {options.before}: no pytest_nself_redis directory there")
    with server() as healthy, server(REDIS_PASSWORD="") as open_server:
        password = healthy.endpoint.password.reveal()
        promised = {"NSELF_REDIS_PASSWORD": password}
        rows = [
            Row("doctor, healthy local server", doctor_argv(healthy.endpoint.port), promised, (0, 1), 300),
            Row(
                "doctor, server without the promised password",
                doctor_argv(open_server.endpoint.port),
                promised,
                (2,),
                500,
            ),
            Row("nself-redis --version", ("--version",), {}, (0,), VERSION_GOAL_MS),
        ]
        times = measure(rows, options.runs, options.before)
    print(report(rows, times, options.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
