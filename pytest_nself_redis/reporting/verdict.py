"""The verdict a report opens with: pass or fail, failures by layer, and what to fix first.

Built from the tests' results and the remedies their checks carried (``remedy``); plain
data and strings, no pytest: the HTML report shows it above everything else, the terminal
summary prints it. "Fix first" orders by what a broken promise costs (data loss, security,
availability, tuning), each item linked to its test's row in the HTML report.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from pytest_nself_redis.remedy import Consequence, Layer, Remedy, fix_command

FAILED = ("failed", "error")
# What a broken promise of a suite costs when its check names no remedy.
SUITE_CONSEQUENCE = {
    "persistence": Consequence.DATA_LOSS,
    "backup": Consequence.DATA_LOSS,
    "eviction": Consequence.DATA_LOSS,
    "sentinel": Consequence.DATA_LOSS,
    "auth": Consequence.SECURITY,
    "tls": Consequence.SECURITY,
    "ratelimit": Consequence.SECURITY,
    "health": Consequence.AVAILABILITY,
    "queue": Consequence.AVAILABILITY,
    "monitoring": Consequence.AVAILABILITY,
}
NO_REMEDY = "no remedy named"
_COLOURS = {
    Consequence.DATA_LOSS: "#b00020",
    Consequence.SECURITY: "#b35c00",
    Consequence.AVAILABILITY: "#7a5c00",
    Consequence.TUNING: "#3a5a78",
}


@dataclass(frozen=True)
class Finding:
    """A failed test, or one that passed with a warning; ``test`` is its node id."""

    test: str
    suite: str
    outcome: str  # failed, error or warning
    message: str
    check: str | None = None
    remedy: Remedy | None = None

    @property
    def failed(self) -> bool:
        return self.outcome in FAILED

    @property
    def consequence(self) -> Consequence:
        if self.remedy is not None:
            return self.remedy.consequence
        return SUITE_CONSEQUENCE.get(self.suite, Consequence.TUNING)

    @property
    def name(self) -> str:
        return self.check or self.test.rpartition("::")[2]


@dataclass
class EnvVerdict:
    env: str
    counts: Mapping[str, int]
    findings: list[Finding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(self.counts.get(outcome, 0) for outcome in FAILED)

    def failures_by_layer(self) -> dict[str, int]:
        """Failures per layer to change (every layer listed, then those that name none)."""
        counted = Counter(
            finding.remedy.layer.value if finding.remedy else NO_REMEDY
            for finding in self.findings
            if finding.failed
        )
        layers = {layer.value: counted.get(layer.value, 0) for layer in Layer}
        return layers | ({NO_REMEDY: counted[NO_REMEDY]} if counted[NO_REMEDY] else {})

    def fix_first(self) -> list[Finding]:
        """Failures, then warnings; within each, the worst consequence first, then run order."""
        order = {id(finding): index for index, finding in enumerate(self.findings)}
        return sorted(
            self.findings,
            key=lambda finding: (not finding.failed, finding.consequence.rank, order[id(finding)]),
        )

    def deployment_gaps(self) -> int:
        """Failures ``nself-redis fix`` closes."""
        return sum(1 for finding in self.findings if finding.failed and _fixed_by_fix(finding))

    def headline(self) -> str:
        failed = sum(self.counts.get(outcome, 0) for outcome in FAILED)
        counts = (
            f"{failed} failed, {self.counts.get('passed', 0)} passed, {self.counts.get('skipped', 0)} skipped"
        )
        return f"{self.env}: {'PASS' if self.passed else 'FAIL'} ({counts})"


def _fixed_by_fix(finding: Finding) -> bool:
    return finding.remedy is not None and finding.remedy.fixed_by is not None


def _anchor(test: str) -> str:
    return "#" + quote(test, safe="")


def _item(finding: Finding) -> str:
    style = f"color:{_COLOURS[finding.consequence]};font-weight:bold"
    label = f"{finding.consequence.value}{'' if finding.failed else ' · warning'}"
    what = finding.remedy.line() if finding.remedy else f"{NO_REMEDY}: {finding.message}"
    return (
        f'<li class="nself-fix {finding.outcome}">'
        f'<span class="nself-consequence" style="{style}">[{html.escape(label)}]</span> '
        f'<a href="{html.escape(_anchor(finding.test))}"><code>{html.escape(finding.name)}</code></a> — '
        f"{html.escape(what)}</li>"
    )


def verdict_html(
    verdict: EnvVerdict, others: Sequence[EnvVerdict] = (), override: tuple[str, str] | None = None
) -> str:
    """The section the HTML report opens with (self-contained, escaped); ``override`` is the
    (file, text) ``nself-redis fix`` writes, shown folded when it closes any failure."""
    state, colour = ("pass", "#1a7f37") if verdict.passed else ("fail", "#b00020")
    parts = [
        f'<section id="nself-verdict" class="nself-verdict {state}" '
        f'style="border:3px solid {colour};padding:0.6em 1em;margin:0.8em 0;color:#222">',
        f'<h2 style="color:{colour};margin:0.2em 0">Verdict: {html.escape(verdict.headline())}</h2>',
    ]
    if others:
        shown = " · ".join(
            f"{html.escape(other.env)}: {'pass' if other.passed else 'FAIL'}" for other in others
        )
        parts.append(f'<p id="nself-envs">Every env of this run: {shown}</p>')
    if not verdict.passed:
        rows = "".join(
            f"<tr><td>{html.escape(layer)}</td><td>{count}</td></tr>"
            for layer, count in verdict.failures_by_layer().items()
        )
        parts.append(
            '<table id="nself-failures-by-layer"><thead><tr><th>layer to change</th><th>failures</th>'
            f"</tr></thead><tbody>{rows}</tbody></table>"
        )
    items = verdict.fix_first()
    if items:
        parts.append("<h3>Fix first</h3>")
        parts.append(f'<ol id="nself-fix-first">{"".join(_item(finding) for finding in items)}</ol>')
    gaps = verdict.deployment_gaps()
    if gaps:
        command = html.escape(fix_command(verdict.env))
        parts.append(
            f'<p id="nself-fix-command"><code>{command}</code> prints a compose override that closes '
            f"{gaps} of these (<code>--write</code> writes it where compose reads it).</p>"
        )
        if override is not None:
            file, text = override
            parts.append(
                f'<details id="nself-override"><summary>The override it writes to {html.escape(file)}'
                f'</summary><pre style="background:#f4f4f4;padding:0.5em">{html.escape(text)}</pre></details>'
            )
    parts.append("</section>")
    return "".join(parts)


def verdict_lines(verdict: EnvVerdict) -> list[str]:
    """The verdict for the terminal: the headline, failures by layer, the fix-first list."""
    lines = [verdict.headline()]
    if not verdict.passed:
        layers = ", ".join(
            f"{layer} {count}" for layer, count in verdict.failures_by_layer().items() if count
        )
        lines.append(f"  failures by layer to change: {layers}")
    items = verdict.fix_first()
    if items:
        lines.append("  fix first:")
    for number, finding in enumerate(items, start=1):
        label = finding.consequence.value + ("" if finding.failed else ", warning")
        what = finding.remedy.line() if finding.remedy else NO_REMEDY
        lines.append(f"  {number}. [{label}] {finding.name} — {what}")
    gaps = verdict.deployment_gaps()
    if gaps:
        lines.append(f"  `{fix_command(verdict.env)}` prints a compose override that closes {gaps} of these")
    return lines
