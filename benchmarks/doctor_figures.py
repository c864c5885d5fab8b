"""The doctor and CLI figures of issue 14, each the median of whole-process runs.

    python benchmarks/doctor_figures.py [--runs 7] [--before DIR]

Rows: ``nself-redis doctor`` against a healthy local server (the complete example's prod env
on a launched redis-server, which serves TLS); the same in plaintext (a copy of the example
whose prod promises no TLS, as prod was when the issue took its figures); doctor against a
server without the password the env promises
(it must fail fast, exit 2); ``nself-redis --version``. Each run is a fresh interpreter, timed
from spawn to exit. ``--before DIR`` also times the package found in DIR (a checkout's
``pytest_nself_redis``, put first on PYTHONPATH) run by run beside this one, so both see the
same load; the load average is printed with the figures, as the machine is shared, and each
figure's CPU time beside it (a loaded machine inflates it far less than the wall time). The
package is timed as installed, from bytecode (written by a warm-up run). Nothing here passes or
fails on a time: it prints figures (CI may run it and keep them).
"""

from __future__ import annotations

import argparse
import os
import resource
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
sys.path.insert(0, str(REPO))  # the tests' helpers: the plaintext copy of the example

from tests.harness import COMPLETE, COMPLETE_WITHOUT_TLS  # noqa: E402

PROJECT = COMPLETE
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
def server(project: Path = PROJECT, **overrides: str) -> Iterator[Target]:
    """A redis-server launched from ``project``'s prod env (with ``overrides``), stopped after."""
    context = load_env_context(NselfProject.open(project), ENV, overrides=overrides or None)
    target = make_target("process", context, TargetOptions(run_id="doctor-figures"))
    target.start()
    try:
        yield target
    finally:
        target.stop()


def doctor_argv(target: Target, project: Path = PROJECT) -> tuple[str, ...]:
    """Doctor against the launched server as a user reaches it: ``rediss://`` verified with the
    run's CA when it serves TLS (prod does)."""
    endpoint = target.endpoint
    argv = ("doctor", "--project", str(project), "--env", ENV)
    if not endpoint.tls:
        return (*argv, "--redis-url", f"redis://127.0.0.1:{endpoint.port}")
    return (*argv, "--redis-url", f"rediss://127.0.0.1:{endpoint.port}", "--redis-ca", str(endpoint.ca_file))


@dataclass(frozen=True)
class Timing:
    """One run: wall time (what the figure is) and the process's CPU time (user + system), which
    a loaded machine inflates far less; both in ms."""

    wall: float
    cpu: float


def once(row: Row, pythonpath: str | None) -> Timing:
    """One whole process, spawn to exit; its exit status must be the row's."""
    environ = {**os.environ, **row.environ}
    # As installed: pip writes the bytecode, so the warm-up run may write it here too (with
    # PYTHONDONTWRITEBYTECODE set, every run would compile the package from source again).
    environ.pop("PYTHONDONTWRITEBYTECODE", None)
    if pythonpath is not None:
        environ["PYTHONPATH"] = os.pathsep.join(filter(None, (pythonpath, environ.get("PYTHONPATH"))))
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "pytest_nself_redis.cli", *row.argv],
        cwd=PROJECT,  # not the checkout: ``-m`` puts the working directory first on sys.path
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    wall = (time.perf_counter() - started) * 1000
    now = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (now.ru_utime - used.ru_utime + now.ru_stime - used.ru_stime) * 1000
    if completed.returncode not in row.exit_statuses:
        raise SystemExit(
            f"{row.name}: exit {completed.returncode}, expected one of {row.exit_statuses}\n"
            + completed.stderr[-2000:]
        )
    row.failed.extend(line.strip() for line in completed.stdout.splitlines() if line.startswith("  ✗"))
    return Timing(wall, cpu)


Timings = dict[tuple[str, str], list[Timing]]


def measure(rows: list[Row], runs: int, before: str | None) -> Timings:
    """Each row ``runs`` times, after one warm-up each (compiled bytecode, page cache); with
    ``before``, its run and this tree's alternate."""
    trees = {"after": None, "before": before} if before else {"now": None}
    times: Timings = {}
    for row in rows:
        for pythonpath in trees.values():
            once(row, pythonpath)
        for _ in range(runs):
            for label, pythonpath in trees.items():
                times.setdefault((row.name, label), []).append(once(row, pythonpath))
    return times


def _load() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def report(rows: list[Row], times: Timings, runs: int, load_before: str) -> str:
    labels = sorted({label for _, label in times}, key=("before", "after", "now").index)
    lines = [
        f"doctor figures: median of {runs} whole-process runs, wall ms (CPU ms); {os.cpu_count()} CPUs, "
        f"load average {load_before} before, {_load()} after",
        "| figure | " + " | ".join(labels) + " | goal |",
        "|---|" + "---|" * len(labels) + "---|",
    ]
    for row in rows:
        cells = []
        for label in labels:
            found = times[row.name, label]
            wall = statistics.median(timing.wall for timing in found)
            cpu = statistics.median(timing.cpu for timing in found)
            cells.append(f"{wall:.0f} ({cpu:.0f})")
        lines.append(f"| {row.name} | " + " | ".join(cells) + f" | ≤ {row.goal_ms} |")
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
    with (
        server() as healthy,
        server(COMPLETE_WITHOUT_TLS) as plaintext,
        server(REDIS_PASSWORD="") as open_server,
    ):
        password = healthy.endpoint.password.reveal()
        promised = {"NSELF_REDIS_PASSWORD": password}
        rows = [
            Row("doctor, healthy local server", doctor_argv(healthy), promised, (0, 1), 300),
            Row(
                "same, plaintext",
                doctor_argv(plaintext, COMPLETE_WITHOUT_TLS),
                {"NSELF_REDIS_PASSWORD": plaintext.endpoint.password.reveal()},
                (0, 1),
                300,
            ),
            Row(
                "doctor, server without the promised password",
                doctor_argv(open_server),
                promised,
                (2,),
                500,
            ),
            Row("nself-redis --version", ("--version",), {}, (0,), VERSION_GOAL_MS),
        ]
        load_before = _load()
        times = measure(rows, options.runs, options.before)
    print(report(rows, times, options.runs, load_before))
    return 0


if __name__ == "__main__":
    sys.exit(main())
