"""Speed figures of the harness, each beside its goal and, where one is needed, its anchor
measured in the same run: CI prints them after the tests (``scripts/test``).

- the whole bundled suite, one env (staging of ``examples/complete``), process target: wall time
  of ``pytest --nself-env staging --nself-target process`` from the checkout's root, with the
  tests it ran (the number of checks per env must not go down);
- ``--nself-env dev,staging,prod`` (pytest-xdist) over that one-env run: the ratio, with ``-n 2``
  (a worker per core) on a first run, which knows only the one-env run's record of how long
  each suite module takes, then again with the record the first left; and with ``-n auto``
  (two workers per core on the bundled suites: they wait on servers a good part of the time);
- the same on the docker target, unless it would take longer than ``--docker-budget`` seconds
  (estimated from the process run; the output says when it was left out, and why);
- the latency sampler's PING p50 over ``redis-benchmark -c 1`` p50, the same server, alternating
  rounds in this run: the median of the per-round ratios;
- start to ready of a launched server, process and docker targets: medians;
- ``benchmarks/doctor_figures.py``'s rows, when that script exists.

The suites run as a user's do: bytecode written (a collect-only run writes it first, so no
measured run pays for compiling the package and pytest's assertion rewriting), and pytest's
cache kept from run to run (in a temporary folder), so ``-n`` hands out the longest work first.

A figure is informative: a slow one, or one that cannot be measured here, never makes this
script fail (it exits 0; CI must not fail on a loaded machine's numbers). Every step is
bounded in time. ``--json PATH`` writes the rows as JSON too.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from pytest_nself_redis.plugin import auto_workers

REPO = Path(__file__).resolve().parent.parent
# pytest's cache for every suite run of this script (its record of each suite module's seconds).
CACHE_DIR = Path(tempfile.gettempdir()) / f"nself-figures-cache-{os.getpid()}"
COMPLETE = REPO / "examples" / "complete"
ENV = "staging"
IMAGE = "redis:7-alpine"
LAUNCH_ROUNDS = {"process": 20, "docker": 8}
SAMPLER_ROUNDS = 9
# The docker suite took about twice the process suite's time, each time it was measured.
DOCKER_OVER_PROCESS = 2.0
DOCKER_BUDGET_S = 240.0
SUITE_TIMEOUT_S = 600.0
ALL_ENVS = "dev,staging,prod"
# -n, and whether the run has the record of a three-env run before it.
# -n auto: two workers per core on the bundled suites.
ENVS_RUNS = (("2", False), ("2", True), ("auto", True))
DOCTOR_FIGURES = REPO / "benchmarks" / "doctor_figures.py"
DOCTOR_TIMEOUT_S = 300.0
SUMMARY = re.compile(r"=* ?(?P<counts>(?:\d+ \w+(?:, )?)+) in [\d.]+s")


@dataclass
class Row:
    """One figure: what was measured, its anchor in the same run (or none), the goal."""

    figure: str
    measured: str
    anchor: str
    goal: str
    value: float | None = None
    met: bool | None = None

    def cells(self) -> list[str]:
        verdict = "" if self.met is None else ("met" if self.met else "not met")
        return [self.figure, self.measured, self.anchor, self.goal, verdict]


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def cpu_idle(window: float = 1.0) -> float | None:
    """The share of the machine's CPU time spent idle over ``window`` seconds, now (the load
    average lags by minutes: it still shows the tests that ended a moment ago); None where
    /proc/stat is not there."""

    def idle_and_total() -> tuple[int, int]:
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, all

    try:
        idle_before, total_before = idle_and_total()
        time.sleep(window)
        idle_after, total_after = idle_and_total()
    except (OSError, ValueError, IndexError):
        return None
    spent = total_after - total_before
    return (idle_after - idle_before) / spent if spent > 0 else None


def settle(limit: float, idle_enough: float = 0.9) -> str:
    """Wait, ``limit`` seconds at most, until the CPU is mostly idle (another job on the machine
    inflates every figure); say how idle it was when measuring began."""
    deadline = time.monotonic() + limit
    while True:
        idle = cpu_idle()
        if idle is None:
            return "CPU idle: unknown (no /proc/stat)"
        if idle >= idle_enough or time.monotonic() >= deadline:
            break
    verdict = "" if idle >= idle_enough else f", still busy after waiting {limit:.0f} s: figures inflated"
    return f"CPU {idle:.0%} idle over the last second{verdict}"


def child_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("NSELF_", "PYTEST_"))}
    env["TESTCONTAINERS_RYUK_DISABLED"] = "true"
    # As users run it: with it set, every run compiles the package (and pytest rewrites its
    # assertions) from source again.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["COLUMNS"] = "4000"  # -rf lines whole: pytest cuts them to the terminal's width
    return env


# -- the whole suite -------------------------------------------------------------------------
def run_suite(
    kind: str, timeout: float, envs: str = ENV, extra: tuple[str, ...] = ()
) -> tuple[float | None, str]:
    """Wall seconds of the whole bundled suite on ``kind`` (None when it did not finish) and the
    tests it ran, as pytest counted them. ``extra`` goes first (``--collect-only`` there makes
    the warm-up run)."""
    with tempfile.TemporaryDirectory(prefix="nself-figures-") as reports:
        command = [
            sys.executable,
            "-m",
            "pytest",
            *extra,
            "--nself-env",
            envs,
            "--nself-target",
            kind,
            "-q",
            "-rf",
            "-o",
            f"cache_dir={CACHE_DIR}",
            # One word: pytest would take a separate existing path for a rootdir candidate.
            f"--nself-reports={reports}",
        ]
        started = time.monotonic()
        try:
            done = subprocess.run(
                command,
                cwd=REPO,
                env=child_env(),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return None, f"stopped after {timeout:.0f} s"
        seconds = time.monotonic() - started
    lines = done.stdout.strip().splitlines()
    found = SUMMARY.search(lines[-1] if lines else "")
    counts = found["counts"] if found else f"exit status {done.returncode}"
    if done.returncode != 0:
        # pytest -rf: "FAILED <node id> - <its message's first line>"
        failed = [line.removeprefix("FAILED ")[:600] for line in lines if line.startswith("FAILED ")]
        return (
            seconds,
            f"{counts}; exit status {done.returncode}; failed: {', '.join(failed) or 'see a plain run'}",
        )
    return seconds, counts


def suite_row(kind: str, goal_s: float, timeout: float) -> Row:
    figure = f"whole bundled suite, one env ({ENV}), {kind} target"
    seconds, counts = run_suite(kind, timeout)
    if seconds is None:
        return Row(figure, f"not measured: {counts}", "", f"≤ {goal_s:.0f} s")
    measured = f"{seconds:.1f} s wall ({counts})"
    # A run with failures is no figure of the suite's time: shown, not judged.
    met = seconds <= goal_s if "exit status" not in counts else None
    return Row(figure, measured, "", f"≤ {goal_s:.0f} s", seconds, met)


def envs_rows(one_env_seconds: float | None, timeout: float) -> list[Row]:
    """Three envs at once (pytest-xdist) over one env without it, the process target, for each
    of ``ENVS_RUNS``: the anchor is this run's own one-env row."""
    rows = []
    for workers, again in ENVS_RUNS:
        record = "with the record of the run before" if again else "first run"
        count = f" ({auto_workers()} workers here)" if workers == "auto" else ""
        figure = f"--nself-env {ALL_ENVS} -n {workers}{count} ({record}) ÷ one env ({ENV}), process target"
        rows.append(measure(partial(envs_row, figure, one_env_seconds, workers, timeout), figure))
    return rows


def envs_row(figure: str, one_env_seconds: float | None, workers: str, timeout: float) -> Row:
    if one_env_seconds is None:
        return Row(figure, "not measured: no one-env run to divide by (ask for the suite row)", "", "≤ 1.3")
    seconds, counts = run_suite("process", timeout, ALL_ENVS, ("-n", workers))
    if seconds is None:
        return Row(figure, f"not measured: {counts}", "", "≤ 1.3")
    ratio = seconds / one_env_seconds
    anchor = f"{seconds:.1f} s ({counts}) ÷ {one_env_seconds:.1f} s"
    met = ratio <= 1.3 if "exit status" not in counts else None
    return Row(figure, f"{ratio:.2f}", anchor, "≤ 1.3", ratio, met)


def docker_left_out(process_seconds: float | None, budget: float) -> str:
    """Why the docker suite is not run ('' when it is): the process run predicts more than the
    budget (or there was none to predict from)."""
    if process_seconds is None:
        return "left out: no process run to predict its time from (ask for the suite row too)"
    expected = process_seconds * DOCKER_OVER_PROCESS
    if expected <= budget:
        return ""
    return (
        f"left out: expected about {expected:.0f} s ({DOCKER_OVER_PROCESS:g} × the process run), "
        f"over this run's budget of {budget:.0f} s (--docker-budget)"
    )


def docker_suite_row(process_seconds: float | None, budget: float) -> Row:
    figure = f"whole bundled suite, one env ({ENV}), docker target"
    left_out = docker_left_out(process_seconds, budget)
    if left_out:
        return Row(figure, left_out, "", "≤ 45 s")
    why_not = docker_missing()
    if why_not:
        return Row(figure, f"not measured: {why_not}", "", "≤ 45 s")
    return suite_row("docker", 45.0, budget)


def docker_missing() -> str:
    from pytest_nself_redis.targets.select import docker_ready_for

    usable, why_not = docker_ready_for(IMAGE)
    return "" if usable else why_not


# -- launches and the sampler ------------------------------------------------------------------
def launch_times(kind: str, rounds: int) -> list[float]:
    """Seconds from ``start()`` to ready, per launch (stopping is not timed)."""
    from pytest_nself_redis.context import load_env_context
    from pytest_nself_redis.project.model import NselfProject
    from pytest_nself_redis.targets.base import TargetOptions
    from pytest_nself_redis.targets.select import make_target

    context = load_env_context(NselfProject.open(COMPLETE), ENV)
    run_id = "fig" + secrets.token_hex(3)
    times = []
    for _ in range(rounds):
        target = make_target(kind, context, TargetOptions(run_id=run_id))
        try:
            started = time.perf_counter()
            target.start()
            times.append(time.perf_counter() - started)
        finally:
            target.stop()
    return times


def launch_row(kind: str, goal_ms: float) -> Row:
    figure = f"{kind} target start → ready (median)"
    why_not = docker_missing() if kind == "docker" else ""
    if why_not:
        return Row(figure, f"not measured: {why_not}", "", f"≤ {goal_ms:.0f} ms")
    times = sorted(launch_times(kind, LAUNCH_ROUNDS[kind]))
    median = statistics.median(times) * 1000
    spread = f"min {times[0] * 1000:.1f}, max {times[-1] * 1000:.1f} ms over {len(times)} launches"
    return Row(figure, f"{median:.1f} ms ({spread})", "", f"≤ {goal_ms:.0f} ms", median, median <= goal_ms)


def sampler_row(rounds: int) -> Row:
    from pytest_nself_redis.context import load_env_context
    from pytest_nself_redis.latency import redis_benchmark
    from pytest_nself_redis.project.model import NselfProject
    from pytest_nself_redis.targets.base import TargetOptions
    from pytest_nself_redis.targets.select import make_target

    figure = "latency sampler PING p50 ÷ redis-benchmark -c 1 p50 (median per-round ratio)"
    if redis_benchmark.find_binary() is None:
        return Row(figure, "not measured: redis-benchmark is not installed", "", "≤ 1.10")
    context = load_env_context(NselfProject.open(COMPLETE), ENV)
    run_id = "fig" + secrets.token_hex(3)
    target = make_target("process", context, TargetOptions(run_id=run_id))
    try:
        target.start()
        compared = redis_benchmark.compare(
            target.client(), f"nself-harness:{run_id}:figures:", run_id, launched=True, rounds=rounds
        )
    finally:
        target.stop()
    ratios = sorted(r.sampler_p50_ms / r.benchmark_p50_ms for r in compared.rounds)
    anchor = (
        f"same server, {len(compared.rounds)} alternating rounds: sampler best p50 "
        f"{compared.sampler_p50_ms * 1000:.1f} µs, redis-benchmark best p50 "
        f"{compared.benchmark_p50_ms * 1000:.1f} µs; per-round ratios {ratios[0]:.2f}–{ratios[-1]:.2f}"
    )
    ratio = compared.ratio
    return Row(figure, f"{ratio:.2f}", anchor, "≤ 1.10", ratio, ratio <= 1.10)


# -- doctor's rows and the table ----------------------------------------------------------------
def doctor_rows() -> list[str]:
    """What ``benchmarks/doctor_figures.py`` prints (its own rows), when it exists."""
    if not DOCTOR_FIGURES.exists():
        return []
    try:
        done = subprocess.run(
            [sys.executable, str(DOCTOR_FIGURES)],
            cwd=REPO,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=DOCTOR_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return [f"{DOCTOR_FIGURES.name}: stopped after {DOCTOR_TIMEOUT_S:.0f} s"]
    lines = done.stdout.rstrip().splitlines()
    if done.returncode != 0:
        lines.append(f"{DOCTOR_FIGURES.name}: exit status {done.returncode}")
    return lines


def table(rows: list[Row]) -> str:
    header = ["figure", "measured", "anchor (same run)", "goal", ""]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell or "—" for cell in row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def measure(step: Callable[[], Row], figure: str) -> Row:
    """One figure; a step that breaks says so in its row instead of ending the script."""
    try:
        return step()
    except Exception as problem:
        return Row(figure, f"not measured: {type(problem).__name__}: {problem}", "", "")


# Long enough for a job that is ending to end; the figures are printed either way.
SETTLE_S = 60.0
ROWS = ("suite", "envs", "docker-suite", "sampler", "launch-process", "launch-docker", "doctor")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--docker-budget", type=float, default=DOCKER_BUDGET_S, metavar="SECONDS")
    parser.add_argument(
        "--rows", default=",".join(ROWS), help=f"which figures, comma-separated (default: {','.join(ROWS)})"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the rows as JSON")
    parser.add_argument(
        "--settle",
        type=float,
        default=SETTLE_S,
        metavar="SECONDS",
        help=f"wait up to SECONDS for an idle CPU before measuring (default {SETTLE_S:g})",
    )
    options = parser.parse_args(argv)
    try:
        return measure_all(options)
    finally:
        shutil.rmtree(CACHE_DIR, ignore_errors=True)


def measure_all(options: argparse.Namespace) -> int:
    wanted = set(options.rows.split(","))
    started, idle = time.monotonic(), settle(options.settle)
    load_before = load()
    print(f"figures: {os.cpu_count()} cores, {idle}; load average {load_before} (1, 5, 15 min) at the start")
    rows: list[Row] = []
    process: Row | None = None
    if wanted & {"suite", "envs", "docker-suite"}:
        run_suite("process", SUITE_TIMEOUT_S, ALL_ENVS, ("--collect-only",))  # writes the bytecode
    if "suite" in wanted:
        process = measure(lambda: suite_row("process", 25.0, SUITE_TIMEOUT_S), "whole suite, process")
        rows.append(process)
    if "envs" in wanted:
        one_env = process.value if process else None
        rows += envs_rows(one_env, SUITE_TIMEOUT_S)
    if "docker-suite" in wanted:
        seconds, budget = process.value if process else None, options.docker_budget
        rows.append(measure(lambda: docker_suite_row(seconds, budget), "whole suite, docker"))
    if "sampler" in wanted:
        rows.append(measure(lambda: sampler_row(SAMPLER_ROUNDS), "sampler ÷ redis-benchmark"))
    if "launch-process" in wanted:
        rows.append(measure(lambda: launch_row("process", 15.0), "process start → ready"))
    if "launch-docker" in wanted:
        rows.append(measure(lambda: launch_row("docker", 300.0), "docker start → ready"))
    print(table(rows), flush=True)
    if "doctor" in wanted:
        # The rows above leave the machine busy (containers stopping, servers exiting); doctor's
        # whole-process figures are taken on a settled CPU, as the others began.
        print(f"doctor figures: {settle(options.settle)}", flush=True)
        for line in doctor_rows():
            print(line)
    print(f"figures: took {time.monotonic() - started:.0f} s; load average {load()} at the end")
    if options.json is not None:
        options.json.write_text(json.dumps({"load_before": load_before, "rows": [asdict(r) for r in rows]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
