"""How doctor speaks: nself-doctor-style lines, one JSON document, or one Nagios line."""

from __future__ import annotations

import json
import os
from typing import TextIO

from pytest_nself_redis.checks import Status
from pytest_nself_redis.doctor.runner import DoctorReport
from pytest_nself_redis.secrets import Redactor
from pytest_nself_redis.targets.base import INSECURE_NOTE

MARKS = {Status.OK: "✓", Status.WARNING: "⚠", Status.ERROR: "✗", Status.SKIPPED: "○"}
COLOURS = {Status.OK: "32", Status.WARNING: "33", Status.ERROR: "31", Status.SKIPPED: "2"}
TITLES = {
    "health": "Health",
    "config": "Configuration",
    "auth": "Authentication",
    "monitoring": "Monitoring",
    "queue": "Queue readiness (BullMQ)",
    "backup": "Persistence health (backups)",
    "sentinel": "Sentinel",
    "latency": "Latency",
}
NAGIOS_CODES = {"ok": 0, "warning": 1, "error": 2}
NAGIOS_UNKNOWN = 3


def use_colour(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ


def _paint(text: str, status: Status, colour: bool) -> str:
    return f"\033[{COLOURS[status]}m{text}\033[0m" if colour else text


def write_human(report: DoctorReport, stream: TextIO, redactor: Redactor) -> None:
    colour = use_colour(stream)
    stream.write(
        f"nself-redis doctor · env {report.env} · {redactor.scrub(report.target)} · "
        f"Redis {report.server_version}\n"
    )
    if report.tls_unverified:
        stream.write(f"{_paint(MARKS[Status.ERROR] + ' ' + INSECURE_NOTE, Status.ERROR, colour)}\n")
    shown = {result.id for result in report.results}
    consequences: dict[str, list[str]] = {}
    for result in report.results:
        if result.blocked_by in shown:
            consequences.setdefault(result.blocked_by, []).append(result.id)
    suite = None
    for result in report.results:
        if result.suite != suite:
            suite = result.suite
            stream.write(f"\n{TITLES.get(suite, suite)}\n")
        mark = _paint(MARKS[result.status], result.status, colour)
        if result.blocked_by in shown:
            # One cause, one failure: the root's line says it all; this one only points there.
            stream.write(f"  {mark} {result.id}: blocked by {result.blocked_by}\n")
            continue
        stream.write(f"  {mark} {redactor.scrub(result.message)}\n")
        if result.id in consequences:
            names = consequences[result.id]
            stream.write(f"      blocked by it ({len(names)}): {', '.join(names)}\n")
    for warning in report.warnings:
        if warning == INSECURE_NOTE:
            continue  # already said, in red, at the top
        stream.write(
            f"\n  {_paint(MARKS[Status.WARNING], Status.WARNING, colour)} {redactor.scrub(warning)}\n"
        )
    if report.deadline_reached:
        stream.write(
            f"\n  {_paint(MARKS[Status.ERROR], Status.ERROR, colour)} the deadline was reached: the checks "
            "marked 'deadline reached' did not finish (raise --deadline, or see why the server is slow)\n"
        )
    totals = report.totals
    blocked = sum(1 for result in report.results if result.blocked_by is not None)
    roots = totals["error"] - blocked
    one = roots == 1
    causes = (
        f" ({roots} root cause{'' if one else 's'}, {blocked} blocked by {'it' if one else 'them'})"
        if blocked
        else ""
    )
    summary = (
        f"{totals['ok']} ok, {totals['warning']} warnings, {totals['error']} errors{causes}, "
        f"{totals['skipped']} skipped in {report.duration_ms:.0f} ms"
    )
    overall = {"ok": Status.OK, "warning": Status.WARNING, "error": Status.ERROR}[report.status]
    stream.write(f"\n{_paint(summary, overall, colour)}\n")


def write_json(report: DoctorReport, stream: TextIO, redactor: Redactor) -> None:
    text = json.dumps(redactor.scrub_data(report.to_json()), indent=2)
    stream.write(text + "\n")


def write_nagios(report: DoctorReport, stream: TextIO, redactor: Redactor) -> int:
    totals = report.totals
    perf = " ".join(f"{name}={count}" for name, count in totals.items())
    perf += f" duration_ms={report.duration_ms:.0f}"
    found = [r for r in report.results if r.status is Status.ERROR and not report.cut_short(r)]
    found.sort(key=lambda result: result.blocked_by is not None)  # a root cause first
    if report.deadline_reached and not found:
        # Nothing failed before the deadline stopped the run: doctor could not tell.
        stream.write(f"REDIS UNKNOWN - the deadline was reached before every check ran | {perf}\n")
        return NAGIOS_UNKNOWN
    state = {"ok": "OK", "warning": "WARNING", "error": "CRITICAL"}[report.status]
    worst = found[0] if found else next((r for r in report.results if r.status is Status.WARNING), None)
    detail = f" - {redactor.scrub(worst.message)}" if worst else ""
    stream.write(f"REDIS {state}{detail} | {perf}\n")
    return NAGIOS_CODES[report.status]
