"""``application/health+json`` (draft-inadarei-api-health-check): what health dashboards read.

Top level: ``status`` pass | warn | fail (doctor's ok | warning | error), ``version`` (the
server's), ``description``, ``output`` (the first root cause when not pass) and ``notes``
(project warnings, skipped checks). ``checks`` is keyed ``redis:<measurement>``: the server's
numbers (``redis:memory``, ``redis:connections``, ``redis:uptime``, ``redis:responseTime`` with
one entry per command timed), then every check by its id (``redis:health.memory``). A skipped
check has no verdict in the draft's terms, so it is a note, not a check.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pytest_nself_redis import __version__
from pytest_nself_redis.checks import CheckResult, Status
from pytest_nself_redis.doctor.formats.base import (
    Rendered,
    Surroundings,
    Unavailable,
    exit_status,
    info_number,
    latency_percentiles,
    rfc3339,
    root_causes,
)
from pytest_nself_redis.errors import ExitStatus

if TYPE_CHECKING:
    from pytest_nself_redis.doctor.runner import DoctorReport

MEDIA_TYPE = "application/health+json"
STATUS = {Status.OK: "pass", Status.WARNING: "warn", Status.ERROR: "fail"}
OVERALL = {"ok": "pass", "warning": "warn", "error": "fail"}
COMPONENT = "redis"
# (measurement, INFO field, unit, the check whose verdict it carries)
MEASUREMENTS = (
    ("memory", "used_memory", "bytes", "health.memory"),
    ("connections", "connected_clients", "connections", "health.clients"),
    ("uptime", "uptime_in_seconds", "s", "health.ping"),
)
# The percentile a response time is reported by.
RESPONSE_PERCENTILE = "p99"


def _entry(result: CheckResult | None, time: str, kind: str = "datastore", **fields: Any) -> dict[str, Any]:
    """One check entry; ``output`` only when it did not pass (as the draft asks)."""
    status = STATUS.get(result.status, "pass") if result is not None else "pass"
    entry = {"componentType": kind, **fields, "status": status, "time": time}
    if result is not None and status != "pass":
        entry["output"] = result.message
    return entry


def document(report: DoctorReport) -> dict[str, Any]:
    """The health document, every string scrubbed (keys too) before it is serialised."""
    time = rfc3339(report.started_at)
    by_id = {result.id: result for result in report.results}
    checks: dict[str, list[dict[str, Any]]] = {}
    for measurement, info_field, unit, check_id in MEASUREMENTS:
        value = info_number(report, info_field)
        if value is not None:
            observed = int(value) if value.is_integer() else value
            checks[f"{COMPONENT}:{measurement}"] = [
                _entry(by_id.get(check_id), time, observedValue=observed, observedUnit=unit)
            ]
    for result in report.results:
        measured = latency_percentiles(result)
        if measured is not None and RESPONSE_PERCENTILE in measured[1]:
            command, values, _ = measured
            checks.setdefault(f"{COMPONENT}:responseTime", []).append(
                _entry(
                    result,
                    time,
                    componentId=command,
                    observedValue=values[RESPONSE_PERCENTILE],
                    observedUnit="ms",
                )
            )
    notes = list(report.warnings)
    for result in report.results:
        if result.status is Status.SKIPPED:
            notes.append(f"{result.id} skipped: {result.message}")
            continue
        fields: dict[str, Any] = {"componentId": result.id}
        if result.measured is not None:
            fields["observedValue"] = result.measured
        checks[f"{COMPONENT}:{result.id}"] = [_entry(result, time, "component", **fields)]
    status = OVERALL[report.status]
    health: dict[str, Any] = {
        "status": status,
        "version": report.server_version,
        "serviceId": f"{COMPONENT}/{report.env}",
        "description": f"Redis of nself env {report.env} ({report.target}), as nself-redis doctor "
        f"{__version__} sees it",
    }
    worst = root_causes(report, Status.ERROR) or root_causes(report, Status.WARNING)
    if status != "pass" and worst:
        health["output"] = worst[0].message
    if report.deadline_reached:
        notes.append("the deadline was reached: some checks did not finish (raise --deadline)")
    if notes:
        health["notes"] = notes
    health["checks"] = checks
    scrubbed: dict[str, Any] = report.redactor.scrub_data(health)
    return scrubbed


def render(report: DoctorReport, where: Surroundings) -> Rendered:
    return Rendered(stdout=json.dumps(document(report), indent=2) + "\n", status=exit_status(report))


def unavailable_document(problem: Unavailable) -> dict[str, Any]:
    time = rfc3339(problem.started_at)
    message = problem.shown
    document: dict[str, Any] = {
        "status": "fail",
        "description": f"Redis of nself env {problem.env or '(unknown)'}, as nself-redis doctor "
        f"{__version__} sees it",
        "output": message,
        "checks": {
            f"{COMPONENT}:connection": [
                {"componentType": "datastore", "status": "fail", "time": time, "output": message}
            ]
        },
    }
    scrubbed: dict[str, Any] = problem.redactor.scrub_data(document)
    return scrubbed


def render_unavailable(problem: Unavailable, where: Surroundings) -> Rendered:
    return Rendered(
        stdout=json.dumps(unavailable_document(problem), indent=2) + "\n", status=int(ExitStatus.USAGE)
    )
