"""What a check finds (an ``Outcome``) and what the registry reports (a ``CheckResult``).

A check function returns an outcome: ok, warning, error or skipped, with a message that
states the promise, the setting's source and what was seen, and the measured value. It
does not name itself: the registry that runs it stamps the check's id and suite on the
outcome (``Outcome.named``), so an id is written once, where the check is declared. A failed
or warned outcome may carry a ``Remedy``: what to change, at which layer (see ``remedy``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pytest_nself_redis.remedy import Remedy


class Status(StrEnum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"
    SKIPPED = "skipped"


def suite_of(check_id: str) -> str:
    """``auth`` of ``auth.noauth``: a check's suite is the first part of its id."""
    return check_id.split(".", 1)[0]


@dataclass(frozen=True)
class CheckResult:
    id: str
    suite: str
    status: Status
    message: str
    source: str | None = None
    measured: Any = None
    # The server refused a command to the user the harness connects as (ACL, renamed
    # command). The suites report it as the error it is for the app; doctor, which may
    # run as a deliberately limited user, reports the check as skipped instead.
    denied: bool = False
    # The id of the root-cause check whose failure this error is a consequence of (the same
    # server-wide refusal, see ``refusals``); the message then starts "blocked by <id>: ".
    blocked_by: str | None = None
    # What closes a failed or warned check (None for ok and skipped, or when unknown).
    remedy: Remedy | None = None

    @property
    def failed(self) -> bool:
        return self.status is Status.ERROR


@dataclass(frozen=True)
class Outcome:
    """A check's verdict before the registry names it (see ``CheckResult`` for the fields)."""

    status: Status
    message: str
    source: str | None = None
    measured: Any = None
    denied: bool = False
    remedy: Remedy | None = None

    @property
    def failed(self) -> bool:
        return self.status is Status.ERROR

    def named(self, check_id: str) -> CheckResult:
        # A kept promise needs no remedy: only a failed or warned result carries one.
        remedy = self.remedy if self.status in (Status.ERROR, Status.WARNING) else None
        return CheckResult(
            check_id,
            suite_of(check_id),
            self.status,
            self.message,
            self.source,
            self.measured,
            self.denied,
            remedy=remedy,
        )


def ok(message: str, source: str | None = None, measured: Any = None) -> Outcome:
    return Outcome(Status.OK, message, source, measured)


def error(
    message: str, source: str | None = None, measured: Any = None, remedy: Remedy | None = None
) -> Outcome:
    return Outcome(Status.ERROR, message, source, measured, remedy=remedy)


def warning(
    message: str, source: str | None = None, measured: Any = None, remedy: Remedy | None = None
) -> Outcome:
    return Outcome(Status.WARNING, message, source, measured, remedy=remedy)


def refused(message: str, source: str | None = None) -> Outcome:
    """An error caused by a refused command (see ``CheckResult.denied``)."""
    return Outcome(Status.ERROR, message, source, denied=True)


def skipped(message: str, source: str | None = None) -> Outcome:
    return Outcome(Status.SKIPPED, message, source)


def verdict(
    kept: bool,
    message: str,
    source: str | None = None,
    measured: Any = None,
    remedy: Remedy | None = None,
) -> Outcome:
    """ok when ``kept``, else error (with ``remedy``), with the same message (it states promise
    and evidence)."""
    return error(message, source, measured, remedy) if not kept else ok(message, source, measured)
