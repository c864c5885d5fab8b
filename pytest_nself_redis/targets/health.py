"""A container's health: what its healthcheck's last probe said, for reports and checks.

Docker runs the first probe one interval after start (10 s for nself, 30 s by default),
so at launch the docker target runs the same probe once itself (``by="harness"``);
afterwards Docker's own results are read (``by="docker"``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

STARTING, HEALTHY, UNHEALTHY = "starting", "healthy", "unhealthy"
_OUTPUT_LIMIT = 300


def one_line(output: str) -> str:
    text = " / ".join(line.strip() for line in output.strip().splitlines() if line.strip())
    return text if len(text) <= _OUTPUT_LIMIT else text[: _OUTPUT_LIMIT - 3] + "..."


@dataclass(frozen=True)
class ContainerHealth:
    """``status`` is starting, healthy or unhealthy; ``output`` the last probe's output
    (already redacted); ``probe`` says what runs how often (``redis-cli ping, every 10 s``)."""

    status: str
    output: str
    exit_code: int | None
    probe: str
    by: str = "docker"

    @property
    def answered(self) -> bool:
        """A probe has run (Docker's status stays ``starting`` until one has)."""
        return self.exit_code is not None

    @property
    def healthy_without_pong(self) -> bool:
        """Healthy by exit status, yet a ``ping`` probe printed something other than PONG:
        redis-cli exits 0 on an error reply (NOAUTH, WRONGPASS, LOADING) unless given ``-e``."""
        return (
            self.status == HEALTHY
            and "ping" in self.probe.lower()
            and bool(self.output.strip())
            and "PONG" not in self.output
        )

    def describe(self) -> str:
        """One line for the reports' "container health" row."""
        if self.status == HEALTHY and self.healthy_without_pong:
            return (
                f"healthy by its exit status only: the probe printed {one_line(self.output)!r}, not PONG "
                f"({self.probe})"
            )
        if self.status == HEALTHY:
            return f"healthy ({self.probe})"
        if self.status == UNHEALTHY:
            said = one_line(self.output) or f"exit status {self.exit_code}"
            return f"unhealthy: {said} ({self.probe})"
        return f"starting: no probe has run yet ({self.probe})"


@dataclass(frozen=True)
class ContainerState:
    """What Docker says of a container's process: running, how it last ended, and whether
    the kernel killed it for its memory limit (``OOMKilled``; Docker keeps the flag set
    across a restart until the next exit)."""

    status: str
    running: bool
    oom_killed: bool
    exit_code: int | None

    @classmethod
    def of(cls, state: dict[str, Any]) -> ContainerState:
        code = state.get("ExitCode")
        return cls(
            status=str(state.get("Status") or "unknown"),
            running=bool(state.get("Running")),
            oom_killed=bool(state.get("OOMKilled")),
            exit_code=int(code) if isinstance(code, int) else None,
        )

    def describe(self) -> str:
        """``exited (exit code 137, OOMKilled)``."""
        ended = f"exit code {self.exit_code}" if self.exit_code is not None else "no exit code"
        return f"{self.status} ({ended}{', OOMKilled' if self.oom_killed else ''})"


def from_docker_state(
    state: dict[str, Any], probe: str, scrub: Callable[[str], str]
) -> ContainerHealth | None:
    """Docker's ``State.Health`` (None: the container has no healthcheck); ``scrub`` redacts."""
    health = state.get("Health")
    if not isinstance(health, dict):
        return None
    log = health.get("Log") or []
    last = log[-1] if log and isinstance(log[-1], dict) else {}
    exit_code = last.get("ExitCode")
    return ContainerHealth(
        status=str(health.get("Status") or STARTING),
        output=scrub(str(last.get("Output") or "")),
        exit_code=int(exit_code) if isinstance(exit_code, int) else None,
        probe=probe,
    )
