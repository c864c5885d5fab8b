"""GitHub Actions: ``::error`` / ``::warning`` annotations and a Markdown step summary.

An annotation cites the setting behind the promise (``file=.env.prod,line=7``, relative to
the workspace) when the check names one. Each root cause is annotated once; the checks it
blocked are named in its message and listed in the summary; its remedy (what to change, at which
layer) ends the message and has a column of the summary, which also shows the compose override
``nself-redis fix`` writes when it closes any of them. Text is scrubbed, then escaped
as GitHub's workflow commands expect (``%25 %0D %0A`` in the message, and ``%3A %2C`` as well
in properties). The CLI appends the summary to ``$GITHUB_STEP_SUMMARY`` when that is set.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_nself_redis.checks import CheckResult, Status
from pytest_nself_redis.doctor.formats.base import (
    Rendered,
    Surroundings,
    Unavailable,
    blocked_by_each,
    exit_status,
    location,
    root_causes,
    summary_line,
)
from pytest_nself_redis.errors import ExitStatus

if TYPE_CHECKING:
    from pytest_nself_redis.doctor.runner import DoctorReport

TOOL = "nself-redis doctor"
COMMANDS = {Status.ERROR: "error", Status.WARNING: "warning"}
ICONS = {Status.OK: "✅", Status.WARNING: "⚠️", Status.ERROR: "❌", Status.SKIPPED: "⏭️"}
OVERALL = {"ok": "✅ ok", "warning": "⚠️ warnings", "error": "❌ errors"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, **properties: str | int) -> str:
    """``::name key=value,...::message``, everything already scrubbed."""
    shown = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items())
    return f"::{name}{' ' + shown if shown else ''}::{escape_data(message)}"


def _file(report: DoctorReport, name: str, workspace: Path) -> str:
    """The setting's file as GitHub resolves it: relative to the workspace when inside it."""
    path = report.project_dir / name if report.project_dir else Path(name)
    try:
        return path.resolve().relative_to(workspace.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def annotation(report: DoctorReport, result: CheckResult, blocked: list[str], where: Surroundings) -> str:
    scrub = report.redactor.scrub
    message = scrub(result.message)
    if blocked:
        message += scrub(f" (it blocked {len(blocked)} more: {', '.join(blocked)})")
    if result.remedy is not None:
        message += scrub(f" — fix ({result.remedy.line()})")
    properties: dict[str, str | int] = {}
    found = location(result)
    if found is not None:
        properties.update(file=_file(report, scrub(found[0]), where.workspace), line=found[1])
    properties["title"] = scrub(result.id)
    return command(COMMANDS[result.status], message, **properties)


def _cell(text: str) -> str:
    """Markdown table cell text: no HTML, no column break, no line break."""
    return html.escape(text, quote=False).replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def _row(report: DoctorReport, result: CheckResult) -> str:
    scrub = report.redactor.scrub
    fix = result.remedy.line() if result.remedy else ""
    return (
        f"| {ICONS[result.status]} | `{_cell(scrub(result.id))}` | {_cell(scrub(result.message))} | "
        f"{_cell(scrub(result.source or ''))} | {_cell(scrub(fix))} |"
    )


def _fix_section(report: DoctorReport) -> list[str]:
    """The override ``nself-redis fix`` writes, folded, when it closes any check."""
    fix = report.fix_json()
    if fix is None:
        return []
    scrub = report.redactor.scrub
    return [
        f"<details><summary><code>{_cell(scrub(fix['command']))}</code> writes {_cell(scrub(fix['file']))}, "
        f"which closes {len(fix['closes'])} of these</summary>",
        "",
        "~~~yaml",
        scrub(fix["override"]).rstrip("\n"),
        "~~~",
        "",
        "</details>",
        "",
    ]


def step_summary(report: DoctorReport) -> str:
    scrub = report.redactor.scrub
    head = "| | check | message | source | fix |\n|---|---|---|---|---|"
    order = (Status.ERROR, Status.WARNING, Status.SKIPPED)
    noted = [result for status in order for result in report.results if result.status is status]
    passed = [result for result in report.results if result.status is Status.OK]
    lines = [
        f"### {TOOL} · env {_cell(scrub(report.env))} · {OVERALL[report.status]}",
        "",
        _cell(scrub(f"Redis {report.server_version} at {report.target}: {summary_line(report)}")),
        "",
    ]
    for warning in report.warnings:
        lines.append(f"- ⚠️ {_cell(scrub(warning))}")
    if report.deadline_reached:
        lines.append("- ❌ the deadline was reached: some checks did not finish (raise --deadline)")
    if report.warnings or report.deadline_reached:
        lines.append("")
    if noted:
        lines += [head, *(_row(report, result) for result in noted), ""]
    lines += _fix_section(report)
    if passed:
        lines += [f"<details><summary>{len(passed)} ok</summary>", "", head]
        lines += [*(_row(report, result) for result in passed), "", "</details>", ""]
    return "\n".join(lines) + "\n"


def render(report: DoctorReport, where: Surroundings) -> Rendered:
    scrub = report.redactor.scrub
    blocked = blocked_by_each(report)
    # Errors first: GitHub shows the first few annotations of a step.
    causes = root_causes(report, Status.ERROR) + root_causes(report, Status.WARNING)
    lines = [annotation(report, result, blocked.get(result.id, []), where) for result in causes]
    lines += [command("warning", scrub(warning), title=TOOL) for warning in report.warnings]
    if report.deadline_reached:
        lines.append(
            command(
                "error", "the deadline was reached before every check finished (raise --deadline)", title=TOOL
            )
        )
    lines.append(scrub(f"{TOOL}: env {report.env}, {report.status}: {summary_line(report)}"))
    return Rendered(
        stdout="\n".join(lines) + "\n", status=exit_status(report), step_summary=step_summary(report)
    )


def render_unavailable(problem: Unavailable, where: Surroundings) -> Rendered:
    message = problem.shown
    summary = f"### {TOOL} · could not check Redis\n\n{_cell(message)}\n"
    return Rendered(
        stdout=command("error", message, title=TOOL) + "\n",
        status=int(ExitStatus.USAGE),
        step_summary=summary,
    )
