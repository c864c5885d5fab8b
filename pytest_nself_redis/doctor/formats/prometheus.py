"""Prometheus text exposition, for node_exporter's textfile collector (``--output FILE.prom``).

The server's own numbers keep redis_exporter's names (``redis_up``, ``redis_memory_used_bytes``,
...) so dashboards and alerts written for it work; doctor's verdicts are
``nself_redis_check_status{check,suite}`` (0 ok, 1 warning, 2 error, 3 skipped or no verdict),
``nself_redis_doctor_status`` and ``nself_redis_doctor_duration_seconds``. Every sample has an
``env`` label (several envs may be checked from one host, one file each). No timestamps: the
collector stamps the scrape. Each family has one HELP and one TYPE line, before its samples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pytest_nself_redis.checks import Status
from pytest_nself_redis.doctor.formats.base import (
    Rendered,
    Surroundings,
    Unavailable,
    exit_status,
    info_number,
    latency_percentiles,
)
from pytest_nself_redis.errors import ExitStatus
from pytest_nself_redis.secrets import Redactor

if TYPE_CHECKING:
    from pytest_nself_redis.doctor.runner import DoctorReport

Labels = dict[str, str]

# (metric, INFO field, type, help): redis_exporter's name for each INFO field it exports.
FROM_INFO = (
    ("redis_memory_used_bytes", "used_memory", "gauge", "Memory Redis has allocated (INFO used_memory)."),
    ("redis_memory_max_bytes", "maxmemory", "gauge", "The memory cap (INFO maxmemory); 0 means none."),
    ("redis_connected_clients", "connected_clients", "gauge", "Client connections (INFO connected_clients)."),
    ("redis_config_maxclients", "maxclients", "gauge", "The most clients Redis accepts (INFO maxclients)."),
    (
        "redis_blocked_clients",
        "blocked_clients",
        "gauge",
        "Clients in a blocking call (INFO blocked_clients).",
    ),
    (
        "redis_rejected_connections_total",
        "rejected_connections",
        "counter",
        "Connections refused at maxclients (INFO rejected_connections).",
    ),
    ("redis_evicted_keys_total", "evicted_keys", "counter", "Keys evicted at maxmemory (INFO evicted_keys)."),
    ("redis_expired_keys_total", "expired_keys", "counter", "Keys removed on expiry (INFO expired_keys)."),
    ("redis_keyspace_hits_total", "keyspace_hits", "counter", "Successful key lookups (INFO keyspace_hits)."),
    (
        "redis_keyspace_misses_total",
        "keyspace_misses",
        "counter",
        "Failed key lookups (INFO keyspace_misses).",
    ),
    (
        "redis_commands_processed_total",
        "total_commands_processed",
        "counter",
        "Commands the server ran (INFO total_commands_processed).",
    ),
    ("redis_connected_slaves", "connected_slaves", "gauge", "Replicas attached (INFO connected_slaves)."),
    ("redis_uptime_in_seconds", "uptime_in_seconds", "gauge", "Seconds since the server started."),
    (
        "redis_memory_used_rss_bytes",
        "used_memory_rss",
        "gauge",
        "Memory the kernel gives Redis (INFO used_memory_rss).",
    ),
    (
        "redis_memory_used_peak_bytes",
        "used_memory_peak",
        "gauge",
        "The most memory Redis has used (INFO used_memory_peak).",
    ),
    (
        "redis_mem_fragmentation_ratio",
        "mem_fragmentation_ratio",
        "gauge",
        "RSS over used memory (INFO mem_fragmentation_ratio); MEMORY DOCTOR flags over 1.4.",
    ),
)
# The operations suite's memory by key prefix (sampled MEMORY USAGE), doctor's own names.
PREFIX_FAMILIES = (
    ("nself_redis_keyspace_prefix_keys", "keys", "Keys of each key prefix the bounded scan saw."),
    (
        "nself_redis_keyspace_prefix_memory_bytes",
        "estimated_bytes",
        "Memory of each key prefix: sampled MEMORY USAGE times its keys.",
    ),
)
CHECK_STATUS = {Status.OK: 0, Status.WARNING: 1, Status.ERROR: 2, Status.SKIPPED: 3}
NO_VERDICT = 3
DOCTOR_STATUS = {"ok": 0, "warning": 1, "error": 2}
UP = ("redis_up", "gauge", "1 when nself-redis doctor reached the server, else 0.")
QUANTILES = {"p50": "0.5", "p95": "0.95", "p99": "0.99", "p999": "0.999", "max": "1"}


@dataclass
class Family:
    name: str
    kind: str
    help: str
    samples: list[tuple[Labels, float]] = field(default_factory=list)

    def lines(self, scrub: Callable[[str], str]) -> Iterable[str]:
        """The family's lines; each label value scrubbed, then escaped."""
        yield f"# HELP {self.name} {_help(self.help)}"
        yield f"# TYPE {self.name} {self.kind}"
        for labels, value in self.samples:
            shown = ",".join(f'{key}="{_label(scrub(text))}"' for key, text in labels.items())
            yield f"{self.name}{{{shown}}} {_value(value)}" if shown else f"{self.name} {_value(value)}"


def _help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _label(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _value(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def exposition(families: Iterable[Family], redactor: Redactor) -> str:
    lines = (line for family in families if family.samples for line in family.lines(redactor.scrub))
    return "\n".join(lines) + "\n"


def _env(env: str | None) -> Labels:
    return {"env": env} if env else {}


def families(report: DoctorReport) -> list[Family]:
    """Every family of a run (label values are scrubbed as they are written)."""
    env = _env(report.env)
    found = [Family(*UP, [(env, 1)])]
    for name, info_field, kind, text in FROM_INFO:
        value = info_number(report, info_field)
        if value is not None:
            found.append(Family(name, kind, text, [(env, value)]))
    checks = Family(
        "nself_redis_check_status",
        "gauge",
        "Each doctor check: 0 ok, 1 warning, 2 error, 3 skipped or no verdict (the deadline stopped it).",
    )
    latency = Family(
        "nself_redis_latency_seconds", "gauge", "Round-trip latency percentiles doctor measured, per command."
    )
    for result in report.results:
        status = NO_VERDICT if report.cut_short(result) else CHECK_STATUS[result.status]
        checks.samples.append(({**env, "check": result.id, "suite": result.suite}, status))
        measured = latency_percentiles(result)
        if measured is not None:
            command, values, _ = measured
            for name, milliseconds in values.items():
                if name in QUANTILES:
                    labels = {**env, "command": command, "quantile": QUANTILES[name]}
                    latency.samples.append((labels, milliseconds / 1000))
    found += [checks, latency, *_prefixes(report, env)]
    found += _doctor(env, DOCTOR_STATUS[report.status], report.duration_ms)
    return found


def _prefixes(report: DoctorReport, env: Labels) -> list[Family]:
    """Keys and memory per key prefix, from operations.memory_by_prefix when it ran."""
    rows = next(
        (
            result.measured.get("prefixes") or []
            for result in report.results
            if result.id == "operations.memory_by_prefix" and isinstance(result.measured, dict)
        ),
        [],
    )
    found = []
    for name, key, text in PREFIX_FAMILIES:
        family = Family(name, "gauge", text)
        family.samples = [({**env, "prefix": str(row["prefix"])}, float(row[key])) for row in rows]
        found.append(family)
    return found


def _doctor(env: Labels, status: int, duration_ms: float) -> list[Family]:
    return [
        Family(
            "nself_redis_doctor_status",
            "gauge",
            "The whole run: 0 ok, 1 warning, 2 error, 3 doctor could not look.",
            [(env, status)],
        ),
        Family(
            "nself_redis_doctor_duration_seconds",
            "gauge",
            "How long the doctor run took.",
            [(env, duration_ms / 1000)],
        ),
    ]


def render(report: DoctorReport, where: Surroundings) -> Rendered:
    return Rendered(stdout=exposition(families(report), report.redactor), status=exit_status(report))


def render_unavailable(problem: Unavailable, where: Surroundings) -> Rendered:
    """``redis_up 0`` and status 3 for the collector; the reason on stderr."""
    env = _env(problem.env)
    found = [Family(*UP, [(env, 0)]), *_doctor(env, NO_VERDICT, problem.duration_ms)]
    return Rendered(
        stdout=exposition(found, problem.redactor),
        stderr=f"nself-redis: {problem.shown}\n",
        status=int(ExitStatus.USAGE),
    )
