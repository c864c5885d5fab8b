"""Lines in the style of ``nself doctor``: a header, one line per check under its suite (a failed
or warned one followed by its fix), a summary."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pytest_nself_redis.checks import CheckResult, Status
from pytest_nself_redis.doctor.formats.base import (
    Rendered,
    Surroundings,
    Unavailable,
    blocked_by_each,
    exit_status,
    on_stderr,
)
from pytest_nself_redis.targets.base import INSECURE_NOTE

if TYPE_CHECKING:
    from pytest_nself_redis.doctor.runner import DoctorReport

Scrub = Callable[[str], str]
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


def _paint(text: str, status: Status, colour: bool) -> str:
    return f"\033[{COLOURS[status]}m{text}\033[0m" if colour else text


def _folds_into(lines: list[str], result: CheckResult, folded: list[CheckResult], scrub: Scrub) -> bool:
    """A skip for the same reason as the skip just shown (Sentinel with no deployment to read)
    is said once: that line names the checks instead of repeating the reason."""
    if not folded or result.status is not Status.SKIPPED or result.message != folded[0].message:
        return False
    folded.append(result)
    ids = ", ".join(item.id for item in folded)
    lines[-1] = f"{lines[-1].rsplit(' (for ', 1)[0]} (for {len(folded)} checks: {scrub(ids)})"
    return True


def render(report: DoctorReport, where: Surroundings) -> Rendered:
    colour, scrub = where.colour, report.redactor.scrub
    lines = [
        scrub(f"nself-redis doctor · env {report.env} · {report.target} · Redis {report.server_version}")
    ]
    if report.tls_unverified:
        lines.append(_paint(f"{MARKS[Status.ERROR]} {INSECURE_NOTE}", Status.ERROR, colour))
    consequences = blocked_by_each(report)
    shown = {result.id for result in report.results}
    suite = None
    folded: list[CheckResult] = []  # the skipped checks the last line speaks for
    for result in report.results:
        if result.suite != suite:
            suite, folded = result.suite, []
            lines += ["", scrub(TITLES.get(suite, suite))]
        mark = _paint(MARKS[result.status], result.status, colour)
        if result.blocked_by in shown:
            # One cause, one failure: the root's line says it all; this one only points there.
            lines.append(f"  {mark} {scrub(f'{result.id}: blocked by {result.blocked_by}')}")
            continue
        if _folds_into(lines, result, folded, scrub):
            continue
        lines.append(f"  {mark} {scrub(result.message)}")
        folded = [result] if result.status is Status.SKIPPED else []
        if result.remedy is not None:  # never on a skip: the line folded skips rewrite stays last
            lines.append(scrub(f"      fix: {result.remedy.line()}"))
        if result.id in consequences:
            names = consequences[result.id]
            lines.append(scrub(f"      blocked by it ({len(names)}): {', '.join(names)}"))
    for warning in report.warnings:
        if warning == INSECURE_NOTE:
            continue  # already said, in red, at the top
        lines += ["", f"  {_paint(MARKS[Status.WARNING], Status.WARNING, colour)} {scrub(warning)}"]
    if report.deadline_reached:
        lines += [
            "",
            f"  {_paint(MARKS[Status.ERROR], Status.ERROR, colour)} the deadline was reached: the checks "
            "marked 'deadline reached' did not finish (raise --deadline, or see why the server is slow)",
        ]
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
    lines += ["", _paint(summary, overall, colour)]
    fix = report.fix_json()
    if fix is not None:
        lines.append(
            scrub(f"`{fix['command']}` writes {fix['file']}, which closes {len(fix['closes'])} of these")
        )
    return Rendered(stdout="\n".join(lines) + "\n", status=exit_status(report))


def render_unavailable(problem: Unavailable, where: Surroundings) -> Rendered:
    return on_stderr(problem)
