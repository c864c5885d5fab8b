"""Check results as pytest outcomes: what the bundled suites (and your own tests) call.

``run_check("auth.noauth", nself_checks)`` runs one registered check and turns its result
into the calling test's outcome: an error fails it, a skip skips it, a warning passes it with
a ``PromiseWarning`` (shown in the terminal, the JUnit file and the HTML report). A family of
checks parametrizes a test with ``family("latency.{}")``. The plugin records, for each test,
the check it ran and the remedy of a failure or warning (``collecting``, ``result_properties``).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, Protocol, TypeVar

import pytest

from pytest_nself_redis.checks import REGISTRY, CheckContext, CheckResult, Outcome, Status

Verdict = TypeVar("Verdict", CheckResult, Outcome)
# The results of the checks the running test called ``run_check`` for (None outside a test).
_RESULTS: ContextVar[list[CheckResult] | None] = ContextVar("nself_check_results", default=None)
CHECK_PROPERTY = "check"


class Ahead(Protocol):
    """Results of checks started ahead of their tests (``nself_variant_runs``)."""

    def result(self, check_id: str) -> CheckResult: ...


class PromiseWarning(UserWarning):
    """A promise kept only in part: shown in the report, never fails the run."""


def expect_result(result: Verdict, *, stacklevel: int = 2) -> Verdict:
    """Turn a check's result into the pytest outcome of the calling test (a warning points at
    the line ``stacklevel`` frames up, as ``warnings.warn`` counts from here: the caller)."""
    if result.status is Status.ERROR:
        pytest.fail(result.message, pytrace=False)
    if result.status is Status.SKIPPED:
        pytest.skip(result.message)
    if result.status is Status.WARNING:
        warnings.warn(result.message, PromiseWarning, stacklevel=stacklevel)
    return result


def run_check(
    check_id: str,
    context: CheckContext,
    *,
    report: Callable[[CheckResult], object] | None = None,
    ahead: Ahead | None = None,
    **inputs: Any,
) -> CheckResult:
    """Run the registered check ``check_id`` (passing ``inputs`` on, e.g. ``launch=nself_variant``),
    or take its result from ``ahead`` (``nself_variant_runs``: started ahead, with its own
    servers), give it to ``report`` (numbers for the report, kept whatever the outcome), then
    make it the calling test's outcome."""
    result = ahead.result(check_id) if ahead is not None else REGISTRY.run(check_id, context, **inputs)
    recorded = _RESULTS.get()
    if recorded is not None:
        recorded.append(result)
    if report is not None:
        report(result)
    return expect_result(result, stacklevel=3)


@contextlib.contextmanager
def collecting() -> Iterator[list[CheckResult]]:
    """The results of every ``run_check`` made inside the block (one test's call)."""
    results: list[CheckResult] = []
    token = _RESULTS.set(results)
    try:
        yield results
    finally:
        _RESULTS.reset(token)


def result_properties(results: list[CheckResult]) -> list[tuple[str, str]]:
    """What a test's report records of its checks: the id of the one that decided it (the first
    error, else the first warning, else the first) and that one's remedy, as flat properties."""
    if not results:
        return []
    decisive = next(
        (
            result
            for status in (Status.ERROR, Status.WARNING)
            for result in results
            if result.status is status
        ),
        results[0],
    )
    remedy = decisive.remedy.properties() if decisive.remedy else {}
    return [(CHECK_PROPERTY, decisive.id), *remedy.items()]


def family(template: str) -> list[Any]:
    """The checks of a family as ``pytest.mark.parametrize`` values: each member's id, with its
    parameter's name as the test id (``test_round_trips_within_budget[PING]``)."""
    return [pytest.param(entry.id, id=entry.label) for entry in REGISTRY.members(template)]


def record_measured(
    record_property: Callable[[str, object], None], **names: str
) -> Callable[[CheckResult], None]:
    """A ``report`` for ``run_check``: the result's measured numbers as JUnit properties, each
    ``property=measured key`` given (every measured key under its own name when none is)."""

    def record(result: CheckResult) -> None:
        measured = result.measured if isinstance(result.measured, dict) else {}
        for name, key in (names or {key: key for key in measured}).items():
            if key in measured:
                record_property(name, measured[key])

    return record
