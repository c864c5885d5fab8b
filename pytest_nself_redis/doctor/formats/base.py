"""What every format shares: what it returns, what it may know, and how it reads a report.

A format is a pure function of a ``DoctorReport`` (or of an ``Unavailable``: doctor could
not look) to a ``Rendered``; the CLI and ``serve`` decide where the text goes. Every format
scrubs with the report's Redactor *before* it escapes or serialises: a secret holding a
quote, a percent sign or a newline would no longer match once escaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_nself_redis.checks import CheckResult, Status
from pytest_nself_redis.errors import ExitStatus
from pytest_nself_redis.secrets import Redactor

if TYPE_CHECKING:
    from pytest_nself_redis.doctor.runner import DoctorReport

# A setting's location in a check's source ("REDIS_MAXMEMORY (.env.prod:7)", ".env.dev:6, ...").
_LOCATION = re.compile(r"(?P<file>[^\s,;:()]+):(?P<line>[0-9]+)")


@dataclass(frozen=True)
class Rendered:
    """A format's whole answer: ``stdout`` (or the ``--output`` file), ``stderr``, the exit
    status, and Markdown for ``$GITHUB_STEP_SUMMARY`` (the github format only)."""

    stdout: str = ""
    stderr: str = ""
    status: int = 0
    step_summary: str | None = None


@dataclass(frozen=True)
class Surroundings:
    """What a format may need to know about where its text goes."""

    # human: stdout is a terminal and NO_COLOR is unset.
    colour: bool = False
    # github: annotation paths are relative to it ($GITHUB_WORKSPACE, else the current directory).
    workspace: Path = field(default_factory=Path.cwd)


@dataclass(frozen=True)
class Unavailable:
    """Doctor could not look (unknown env, unreachable server, refused password, ...): the one
    message, and what is known of the run."""

    message: str
    redactor: Redactor
    env: str | None = None
    duration_ms: float = 0.0
    started_at: float = 0.0

    @property
    def shown(self) -> str:
        return self.redactor.scrub(self.message)


def exit_status(report: DoctorReport) -> int:
    """0 when no check errs (warnings never fail), 1 when one does: the human output's status."""
    return int(ExitStatus.CHECK_FAILED if report.status == "error" else ExitStatus.OK)


def on_stderr(problem: Unavailable) -> Rendered:
    """Nothing to show but the reason, exit 2: the human and JSON formats' answer to it."""
    return Rendered(stderr=f"nself-redis: {problem.shown}\n", status=int(ExitStatus.USAGE))


def location(result: CheckResult) -> tuple[str, int] | None:
    """The first ``file:line`` of a check's source, or None (a default, the environment)."""
    found = _LOCATION.search(result.source or "")
    return (found["file"], int(found["line"])) if found else None


def root_causes(report: DoctorReport, *statuses: Status) -> list[CheckResult]:
    """The results with these statuses that are not blocked by another (one cause, one line)."""
    shown = {result.id for result in report.results}
    return [r for r in report.results if r.status in statuses and r.blocked_by not in shown]


def blocked_by_each(report: DoctorReport) -> dict[str, list[str]]:
    """Root-cause id -> the ids of the checks its failure blocked."""
    shown = {result.id for result in report.results}
    found: dict[str, list[str]] = {}
    for result in report.results:
        if result.blocked_by in shown:
            found.setdefault(result.blocked_by, []).append(result.id)
    return found


def info_number(report: DoctorReport, name: str) -> float | None:
    """An INFO field as a number, or None when absent or not one (a proxy may rewrite INFO)."""
    value: Any = report.info.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def latency_percentiles(result: CheckResult) -> tuple[str, dict[str, float], dict[str, float]] | None:
    """(command, percentile -> ms, percentile -> budget ms) of a latency check that measured."""
    measured = result.measured
    if not result.id.startswith("latency.") or not isinstance(measured, dict):
        return None
    command, percentiles = measured.get("command"), measured.get("percentiles_ms")
    if not isinstance(command, str) or not isinstance(percentiles, dict):
        return None
    budgets = {
        name: float(budget["limit_ms"])
        for name, budget in (measured.get("budgets_ms") or {}).items()
        if isinstance(budget, dict) and isinstance(budget.get("limit_ms"), (int, float))
    }
    values = {name: float(value) for name, value in percentiles.items() if isinstance(value, (int, float))}
    return command, values, budgets


def rfc3339(seconds: float) -> str:
    """A UTC timestamp as RFC 3339 (``2026-05-01T12:00:00Z``)."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def summary_line(report: DoctorReport) -> str:
    """``54 ok, 3 warnings, 0 errors, 2 skipped in 840 ms``."""
    totals = report.totals
    return (
        f"{totals['ok']} ok, {totals['warning']} warnings, {totals['error']} errors, "
        f"{totals['skipped']} skipped in {report.duration_ms:.0f} ms"
    )
