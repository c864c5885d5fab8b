"""Which nself wrote the project, 0.9.x (bash) or 1.x (Go), and the evidence for it.

The two read different env files in a different order and write different compose
files, so every other reading depends on this one. The answer always carries the
file (or option) that decided it, for reports to show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pytest_nself_redis.errors import ProjectError

# Values of --nself-version: auto (detect), 0 (nself 0.9.x), 1 (nself 1.x).
VERSION_CHOICES = ("auto", "0", "1")
LABELS = {0: "0.9.x", 1: "1.x"}


@dataclass(frozen=True)
class Generation:
    """``major`` is 0 for nself 0.9.x, 1 for nself 1.x; ``evidence`` says what decided it."""

    major: int
    evidence: str

    @property
    def label(self) -> str:
        return LABELS[self.major]

    @property
    def is_1x(self) -> bool:
        return self.major == 1

    @property
    def reason(self) -> str:
        """``1.x: .nself/ folder``: the short phrase messages use."""
        return f"{self.label}: {self.evidence}"

    def __str__(self) -> str:
        """``1.x (.nself/ folder)``: the form of the report row."""
        return f"{self.label} ({self.evidence})"


def forced_generation(value: str, origin: str) -> Generation | None:
    """The generation ``--nself-version`` (or its variable/ini key, named by ``origin``) asks
    for; None for ``auto``."""
    text = value.strip().lower()
    if text == "auto":
        return None
    if text not in VERSION_CHOICES:
        raise ProjectError(
            f"{origin}={value!r}: choose one of {', '.join(VERSION_CHOICES)} "
            "(0 = nself 0.9.x, 1 = nself 1.x, auto = detect from the project)"
        )
    return Generation(int(text), f"forced by {origin} {text}")


def detect_generation(
    project_dir: Path, compose_evidence: Callable[[Path], Generation | None] | None = None
) -> Generation:
    """The generation the project's files show; 0.9.x when nothing marks it (the harness's
    reading before 1.x existed), which the evidence then says. ``compose_evidence`` reads
    the shape of the compose file (the compose layer's, so the context passes it in)."""
    if (project_dir / ".nself").is_dir():
        return Generation(1, ".nself/ folder")
    if (project_dir / ".env.computed").exists():
        return Generation(1, ".env.computed")
    if (project_dir / ".env.runtime").exists():
        return Generation(0, ".env.runtime")
    found = compose_evidence(project_dir) if compose_evidence is not None else None
    if found is not None:
        return found
    return Generation(0, "default: no sign of nself 1.x")
