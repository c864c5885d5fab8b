"""What a report says about the env it covers: project, target, server, settings.

Built once per env and shared by the JUnit properties, the HTML environment
table and the terminal header. Secrets are masked here, at the source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pytest_nself_redis import __version__
from pytest_nself_redis.context import EnvContext
from pytest_nself_redis.remedy import proposed_override
from pytest_nself_redis.secrets import redact_url

SUITES = (
    "health",
    "config",
    "auth",
    "tls",
    "eviction",
    "persistence",
    "backup",
    "sentinel",
    "ratelimit",
    "latency",
    "pubsub",
    "queue",
    "datastructures",
    "monitoring",
    "operations",
)


@dataclass
class EnvReport:
    env: str
    project: Path
    deployment: str
    settings: dict[str, str]
    generation: str = ""
    warnings: list[str] = field(default_factory=list)
    target: str = "not launched"
    target_kind: str = ""
    server_version: str = "unknown"
    ready_seconds: float | None = None
    notes: list[str] = field(default_factory=list)
    # Set when the user turned TLS verification off: shown in red in every report.
    tls_unverified: str | None = None
    # The container's healthcheck result at launch (docker target, service with a healthcheck).
    container_health: str | None = None
    # Container settings of the service the target does not apply (``memory 512M (file:line)``).
    unreproduced: list[str] = field(default_factory=list)
    # The override ``nself-redis fix`` would write for this env: (file, text), no secret in it.
    override: tuple[str, str] | None = None

    @classmethod
    def from_context(cls, context: EnvContext) -> EnvReport:
        settings = {setting.key: f"{setting.shown} ({setting.source})" for setting in context.settings}
        return cls(
            env=context.name,
            project=context.project.dir,
            deployment=context.service.describe(),
            settings=settings,
            generation=str(context.generation),
            warnings=[item.describe() for item in context.runtime_disagreements],
            override=proposed_override(context, f"nself-redis {__version__}"),
        )

    def unreproduced_line(self) -> str | None:
        """``process target does not reproduce: memory 512M (docker-compose.yml:25), ...``."""
        if not self.unreproduced:
            return None
        advice = " — use --nself-target docker" if self.target_kind == "process" else ""
        return f"{self.target_kind} target does not reproduce: {', '.join(self.unreproduced)}{advice}"

    def rows(self) -> dict[str, str | dict[str, str]]:
        """Ordered key/value rows for tables; values are plain text (escape before HTML)."""
        rows: dict[str, str | dict[str, str]] = {
            "env": self.env,
            "project": str(self.project),
            "nself generation": self.generation,
            "target": redact_url(self.target),
            "server version": self.server_version,
            "deployment": self.deployment,
        }
        if self.tls_unverified:
            rows["TLS verification"] = self.tls_unverified
        if self.ready_seconds is not None:
            rows["start to ready"] = f"{self.ready_seconds * 1000:.1f} ms"
        if self.container_health:
            rows["container health"] = self.container_health
        line = self.unreproduced_line()
        if line:
            rows["not reproduced"] = line
        rows["settings"] = self.settings
        if self.warnings:
            rows["warnings"] = {str(n): text for n, text in enumerate(self.warnings, start=1)}
        if self.notes:
            rows["notes"] = {str(n): text for n, text in enumerate(self.notes, start=1)}
        return rows


def suite_of(markers: set[str]) -> str:
    for suite in SUITES:
        if suite in markers:
            return suite
    return "other"
