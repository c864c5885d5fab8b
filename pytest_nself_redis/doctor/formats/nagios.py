"""One Monitoring Plugins line: ``REDIS <STATE> - <text> | <perfdata>``, exit 0/1/2/3.

Perfdata follows the Monitoring Plugins guidelines, ``'label'=value[UOM];[warn];[crit];[min];[max]``
with trailing empty fields left out: memory in bytes (warn at 90 % and crit at 100 % of
maxmemory when there is one), clients (max: maxclients), evictions as a counter (``c``), the
operations figures (fragmentation ratio, warn at MEMORY DOCTOR's 1.4; rejected connections;
blocked clients), the latency percentiles doctor measured in ms (crit: the budget), the
verdict counts and the run's duration in seconds. The text never holds a ``|``, which would
start the perfdata.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pytest_nself_redis.checks import Status
from pytest_nself_redis.checks.operations.memory import FRAGMENTATION_RATIO
from pytest_nself_redis.doctor.formats.base import (
    Rendered,
    Surroundings,
    Unavailable,
    info_number,
    latency_percentiles,
    root_causes,
    summary_line,
)

if TYPE_CHECKING:
    from pytest_nself_redis.doctor.runner import DoctorReport

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
CODES = {"ok": OK, "warning": WARNING, "error": CRITICAL}
# The percentiles shown per measured command.
PERCENTILES = ("p50", "p99")
MEMORY_WARNING = 0.9


def _number(value: float) -> str:
    """A perfdata number: digits and at most one point, never an exponent."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.6f}".rstrip("0").rstrip(".")


def perf(
    label: str,
    value: float,
    uom: str = "",
    *,
    warn: float | None = None,
    crit: float | None = None,
    minimum: float | None = 0,
    maximum: float | None = None,
) -> str:
    """One perfdata item; the label is quoted (it may not hold ``'`` or ``=``)."""
    fields = [f"'{label}'={_number(value)}{uom}"]
    fields += ["" if item is None else _number(item) for item in (warn, crit, minimum, maximum)]
    return ";".join(fields).rstrip(";")


def _label(text: str) -> str:
    """A perfdata label: no quote, no equals sign, no space (a command name stays as it is)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def perfdata(report: DoctorReport) -> str:
    items = []
    used, limit = info_number(report, "used_memory"), info_number(report, "maxmemory")
    if used is not None:
        cap = limit if limit else None  # maxmemory 0: no limit, so no thresholds and no max
        warn = int(cap * MEMORY_WARNING) if cap else None
        items.append(perf("used_memory", used, "B", warn=warn, crit=cap, maximum=cap))
    clients = info_number(report, "connected_clients")
    if clients is not None:
        # A gauge: the guidelines' "c" is for continuous counters, which this is not.
        items.append(perf("connected_clients", clients, maximum=info_number(report, "maxclients")))
    evicted = info_number(report, "evicted_keys")
    if evicted is not None:
        items.append(perf("evicted_keys", evicted, "c"))
    items += _operations(report)
    for result in report.results:
        measured = latency_percentiles(result)
        if measured is None:
            continue
        command, values, budgets = measured
        for name in PERCENTILES:
            if name in values:
                label = _label(f"latency_{report.redactor.scrub(command).lower()}_{name}")
                items.append(perf(label, values[name], "ms", crit=budgets.get(name)))
    items += [perf(status, count) for status, count in report.totals.items()]
    items.append(perf("duration", report.duration_ms / 1000, "s"))
    return " ".join(items)


def _operations(report: DoctorReport) -> list[str]:
    """The operations suite's figures INFO holds: fragmentation (warn: MEMORY DOCTOR's 1.4),
    connections refused at maxclients and clients blocked (counter, gauge)."""
    items = []
    ratio = info_number(report, "mem_fragmentation_ratio")
    if ratio is not None:
        items.append(perf("mem_fragmentation_ratio", ratio, warn=FRAGMENTATION_RATIO))
    rejected = info_number(report, "rejected_connections")
    if rejected is not None:
        items.append(perf("rejected_connections", rejected, "c"))
    blocked = info_number(report, "blocked_clients")
    if blocked is not None:
        items.append(perf("blocked_clients", blocked))
    return items


def _text(text: str) -> str:
    """One line without the perfdata separator."""
    return " ".join(text.replace("|", "/").split())


def render(report: DoctorReport, where: Surroundings) -> Rendered:
    scrub = report.redactor.scrub
    found = [r for r in root_causes(report, Status.ERROR) if not report.cut_short(r)]
    if report.deadline_reached and not found:
        # Nothing failed before the deadline stopped the run: doctor could not tell.
        code, detail = UNKNOWN, "the deadline was reached before every check ran"
    else:
        code = CODES[report.status]
        worst = found[0] if found else next(iter(root_causes(report, Status.WARNING)), None)
        detail = scrub(worst.message) if worst else summary_line(report)
    line = f"REDIS {STATES[code]} - {_text(detail)} | {perfdata(report)}\n"
    return Rendered(stdout=line, status=code)


def render_unavailable(problem: Unavailable, where: Surroundings) -> Rendered:
    """A monitoring system reads stdout and the status: doctor could not look is UNKNOWN."""
    return Rendered(stdout=f"REDIS UNKNOWN - {_text(problem.shown)}\n", status=UNKNOWN)
