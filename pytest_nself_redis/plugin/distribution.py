"""Under pytest-xdist (``pytest -n``): workers run the tests, the controller writes the reports.

xdist hands the controller every test report and every warning. The rest of what the reports
need is known only where the tests ran: each test's env and suite (tagged onto its reports, so
they cross with them), each env's server (target, version, container health), the tables and
charts tests attach and the latency runs. That travels as plain data in ``config.workeroutput``
when a worker ends, scrubbed of the worker's secrets, and is merged into the controller's run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from pytest_nself_redis.errors import HarnessError
from pytest_nself_redis.plugin.benchmark_json import BenchmarkRecord
from pytest_nself_redis.plugin.run import LaunchRecord, NselfRun
from pytest_nself_redis.reporting.environment import EnvReport

# The key of a worker's findings in ``config.workeroutput``.
WIRE_KEY = "nself_redis"
# The attribute of a TestReport naming its env and suite: {"env": ..., "suite": ...}. pytest
# serialises a report's attributes, so xdist carries it to the controller with the report.
REPORT_TAG = "nself_redis"


def tag_of(report: pytest.TestReport) -> tuple[str, str] | None:
    """(env, suite) a worker (or this process) tagged the report with."""
    tag = getattr(report, REPORT_TAG, None)
    if isinstance(tag, dict) and isinstance(tag.get("env"), str):
        return tag["env"], str(tag.get("suite", "other"))
    return None


def tag(report: pytest.TestReport, env: str, suite: str) -> None:
    setattr(report, REPORT_TAG, {"env": env, "suite": suite})


def to_wire(run: NselfRun) -> dict[str, Any]:
    """What this worker knows and the controller's reports need, as plain, scrubbed data."""
    wire = {
        "envs": list(run.env_reports),
        "env_reports": [
            {**dataclasses.asdict(report), "project": str(report.project)}
            for report in run.env_reports.values()
        ],
        "launches": [dataclasses.asdict(launch) for launch in run.launches],
        "attachments": run.attachments,
        "benchmarks": {env: dataclasses.asdict(record) for env, record in run.benchmarks.items()},
    }
    scrubbed: dict[str, Any] = run.redactor.scrub_data(wire)
    return scrubbed


def merge_wire(run: NselfRun, wire: dict[str, Any], worker: str) -> None:
    """Add one worker's findings to the controller's run."""
    run.used = True
    for data in wire.get("env_reports", []):
        _merge_env_report(run, _env_report(data), worker)
    order = [env for env in wire.get("envs", []) if env in run.env_reports]
    run.env_reports = {env: run.env_reports[env] for env in [*order, *run.env_reports]}
    for launch in wire.get("launches", []):
        run.launches.append(LaunchRecord(**{**launch, "worker": worker}))
    for env, fragments in wire.get("attachments", {}).items():
        for fragment in fragments:
            run.add_html(env, fragment)
    for env, record in wire.get("benchmarks", {}).items():
        run.add_benchmark(env, BenchmarkRecord(**record))


def _env_report(data: dict[str, Any]) -> EnvReport:
    """An EnvReport back from plain data (the wire has lists where it had a path and a tuple)."""
    override = data.get("override")
    return EnvReport(
        **{
            **data,
            "project": Path(data["project"]),
            "override": (str(override[0]), str(override[1])) if override else None,
        }
    )


def _merge_env_report(run: NselfRun, incoming: EnvReport, worker: str) -> None:
    """The env's header comes from the first worker that launched (or attached to) its server;
    every worker that did is listed, and every worker's measured figures are kept."""
    launched = bool(incoming.target_kind)
    current = run.env_reports.get(incoming.env)
    if current is None or (launched and not current.target_kind):
        current, previous = incoming, current
        run.env_reports[incoming.env] = current
        if previous is not None:
            current.workers = previous.workers
            _keep_measured(current, previous)
    else:
        _keep_measured(current, incoming)
    if launched:
        current.workers = sorted([*current.workers, worker], key=lambda name: (len(name), name))


def _keep_measured(kept: EnvReport, other: EnvReport) -> None:
    """Figures a test measured (the OOM proof's) come from whichever worker ran that test."""
    kept.measured.extend(line for line in other.measured if line not in kept.measured)


def fill_in_unreported_envs(run: NselfRun, envs: Iterable[str]) -> None:
    """An env whose tests came in but whose workers all crashed before sending the rest still
    gets its reports: its header is read from the project, saying what is missing."""
    for env in envs:
        if env in run.env_reports:
            continue
        try:
            run.context(env)
        except HarnessError:
            continue  # the workers read the same project; they would have stopped the run
        run.env_reports[env].notes.append(
            "no pytest-xdist worker that ran this env reported its server (a worker crashed)"
        )
