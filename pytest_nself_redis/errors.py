"""Errors a user can act on.

Every problem caused by the project, the machine or the command line is a
``HarnessError``: it carries one readable message and the exit status the CLI and
the plugin end with. Anything else is a bug and may show a traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """Exit statuses shared by the CLI commands (pytest's own statuses pass through)."""

    OK = 0
    CHECK_FAILED = 1
    USAGE = 2


class HarnessError(Exception):
    """A problem the user can fix; ``str()`` is the whole message."""

    exit_status: ExitStatus = ExitStatus.USAGE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ProjectError(HarnessError):
    """The nself project is missing, unreadable or holds an invalid value."""


class ComposeError(HarnessError):
    """The compose file cannot give us a Redis service to run."""


class TargetError(HarnessError):
    """The Redis under test cannot be launched, reached or authenticated."""


class UnreachableError(TargetError):
    """Nothing answers as Redis where we were told to look."""
