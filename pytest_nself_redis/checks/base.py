"""Checks: each promise as a plain function, usable by the suites and by `doctor`.

A check takes a ``CheckContext`` (settings, deployment, clients) and returns a
``CheckResult``: ok, warning, error or skipped, with a message that states the
promise, the setting's source and what was seen, and the measured value. The
pytest suites turn a result into pass / warn / fail / skip (``expect_result``);
``nself-redis doctor`` prints it. Checks registered with ``safe=True`` only read,
or write under their own key prefix and delete what they wrote: doctor runs only
those against a production server.
"""

from __future__ import annotations

import functools
import itertools
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import pytest
import redis

from pytest_nself_redis.checks.refusals import ROOTS, refusal_in
from pytest_nself_redis.compose.service import RedisService
from pytest_nself_redis.context import EnvContext
from pytest_nself_redis.live.expiring import HARNESS_PREFIX, expiring
from pytest_nself_redis.project.settings import RedisSettings
from pytest_nself_redis.targets.base import Target


class Status(StrEnum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"
    SKIPPED = "skipped"


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

    @property
    def failed(self) -> bool:
        return self.status is Status.ERROR


class PromiseWarning(UserWarning):
    """A promise kept only in part: shown in the report, never fails the run."""


@dataclass
class CheckContext:
    """What a check may look at. ``client`` is authenticated; ``connect`` makes clients
    that are not (pass ``password=`` to authenticate)."""

    settings: RedisSettings
    service: RedisService
    client: redis.Redis
    connect: Callable[..., redis.Redis]
    run_id: str = "local"
    launched: bool = False
    # The env behind the settings (its files' values, e.g. REDIS_LATENCY_BUDGET_*), when known.
    env: EnvContext | None = None
    _keys: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    # Root-cause check id -> whether it failed, shared by every check of the run on this server.
    causes: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def of(cls, target: Target, client: redis.Redis | None = None, run_id: str | None = None) -> CheckContext:
        """The context of a started target: its env's settings, deployment and clients
        (``client`` replaces the target's own authenticated client, e.g. an ACL user's).
        On a server the run did not launch, every key a check writes carries a TTL."""
        client = client if client is not None else target.client()
        return cls(
            settings=target.context.settings,
            service=target.context.service,
            client=client if target.launched else expiring(client),
            connect=target.connect,
            run_id=run_id or target.options.run_id,
            launched=target.launched,
            env=target.context,
        )

    def key_prefix(self, label: str) -> str:
        """A prefix unique to this run and call, for checks that write (and then delete)."""
        return f"{HARNESS_PREFIX}{self.run_id}:{label}{next(self._keys)}:"

    def attribute(self, result: CheckResult) -> CheckResult:
        """One cause, one failure: an error quoting a server-wide refusal (MISCONF, READONLY, ...)
        whose root-cause check fails too is marked blocked by that check."""
        if result.id in ROOTS:
            self.causes[result.id] = result.failed
        if not result.failed or result.blocked_by is not None:
            return result
        refusal = refusal_in(result.message)
        if refusal is None or refusal.root == result.id or not self._root_failed(refusal.root):
            return result
        return replace(
            result, blocked_by=refusal.root, message=f"blocked by {refusal.root}: {result.message}"
        )

    def _root_failed(self, root: str) -> bool:
        """Whether the root-cause check fails on this server (run once when it has not run yet)."""
        if root not in self.causes:
            self.causes[root] = False  # also guards against asking again while it runs
            registered = REGISTRY.get(root)
            if registered is not None:
                try:
                    self.causes[root] = registered.function(self).failed
                except Exception:  # a root that cannot tell is no root
                    self.causes[root] = False
        return self.causes[root]


CheckFunction = Callable[[CheckContext], CheckResult]


@dataclass(frozen=True)
class RegisteredCheck:
    id: str
    suite: str
    function: CheckFunction
    safe: bool
    title: str


REGISTRY: dict[str, RegisteredCheck] = {}


def check(check_id: str, *, safe: bool = False) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check as ``<suite>.<name>``; its docstring's first line is its title.

    ``safe=True`` lets ``nself-redis doctor`` run it on a production server: it only reads, or
    writes under its own prefix (with a TTL) and deletes what it wrote, and puts no load or
    memory on the server. Unsafe unless said, so a new check never reaches doctor by default."""
    suite = check_id.split(".", 1)[0]

    def register(function: CheckFunction) -> CheckFunction:
        title = (function.__doc__ or check_id).strip().splitlines()[0]

        @functools.wraps(function)
        def attributed(context: CheckContext) -> CheckResult:
            return context.attribute(function(context))

        REGISTRY[check_id] = RegisteredCheck(check_id, suite, attributed, safe, title)
        return attributed

    return register


def ok(check_id: str, message: str, source: str | None = None, measured: Any = None) -> CheckResult:
    return CheckResult(check_id, check_id.split(".", 1)[0], Status.OK, message, source, measured)


def error(check_id: str, message: str, source: str | None = None, measured: Any = None) -> CheckResult:
    return CheckResult(check_id, check_id.split(".", 1)[0], Status.ERROR, message, source, measured)


def warning(check_id: str, message: str, source: str | None = None, measured: Any = None) -> CheckResult:
    return CheckResult(check_id, check_id.split(".", 1)[0], Status.WARNING, message, source, measured)


def refused(check_id: str, message: str, source: str | None = None) -> CheckResult:
    """An error caused by a refused command (see ``CheckResult.denied``)."""
    return CheckResult(check_id, check_id.split(".", 1)[0], Status.ERROR, message, source, denied=True)


def skipped(check_id: str, message: str, source: str | None = None) -> CheckResult:
    return CheckResult(check_id, check_id.split(".", 1)[0], Status.SKIPPED, message, source)


def verdict(
    check_id: str, kept: bool, message: str, source: str | None = None, measured: Any = None
) -> CheckResult:
    """ok when ``kept``, else error, with the same message (it states promise and evidence)."""
    return (ok if kept else error)(check_id, message, source, measured)


def expect(condition: object, message: str) -> None:
    """For suite code that is not a registered check: fail with the message alone."""
    if not condition:
        pytest.fail(message, pytrace=False)


def expect_result(result: CheckResult) -> CheckResult:
    """Turn a check result into the pytest outcome of the calling test."""
    if result.status is Status.ERROR:
        pytest.fail(result.message, pytrace=False)
    if result.status is Status.SKIPPED:
        pytest.skip(result.message)
    if result.status is Status.WARNING:
        warnings.warn(result.message, PromiseWarning, stacklevel=2)
    return result
