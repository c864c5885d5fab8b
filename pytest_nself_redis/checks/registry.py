"""The one registry of checks: each promise declared once, read by the suites and by doctor.

``@check("auth.noauth", safe=True)`` declares a check: its id (``<suite>.<name>``), its
title (the docstring's first line), whether doctor may run it, and the function. A family
(one check per parameter: a setting, a command, a policy, a mode) is declared the same way
with ``params``: ``@check("latency.{}", params=COMMANDS, title="{} round trips ...")``
makes ``latency.ping``, ``latency.get``, ... (the parameter's name, lower-cased, fills the
``{}``; the title gets it as written), and calls the function with the parameter after the
context. ``REGISTRY.run(check_id, context, **inputs)`` runs one: it passes ``inputs`` on as
keyword arguments (what a suite has and doctor does not, e.g. a variant launcher), stamps
the id and suite on the outcome, and marks an error blocked by its root cause.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.refusals import ROOTS, refusal_in
from pytest_nself_redis.checks.results import CheckResult, Outcome, suite_of

CheckFunction = Callable[..., Outcome]
Function = TypeVar("Function", bound=CheckFunction)
# Inputs that put a check on other servers than the context's (no root cause of the env's
# server explains its errors).
ELSEWHERE = ("launch", "sentinel")
# A family's parameters: names (each passed as itself), or name -> what the function gets.
Params = Sequence[str] | Mapping[str, Any]


@dataclass(frozen=True)
class RegisteredCheck:
    """One promise. A member of a family also knows its template, its parameter's name (the
    suite test's parametrize id) and the value the function gets."""

    id: str
    title: str
    safe: bool
    function: CheckFunction
    family: str | None = None
    label: str | None = None
    param: Any = None

    @property
    def suite(self) -> str:
        return suite_of(self.id)

    def outcome(self, context: CheckContext, **inputs: Any) -> Outcome:
        if self.family is None:
            return self.function(context, **inputs)
        return self.function(context, self.param, **inputs)

    def takes(self, name: str) -> bool:
        """Whether the function takes the input ``name`` (what doctor passes only to those)."""
        return name in inspect.signature(self.function).parameters

    @property
    def launches(self) -> bool:
        """It runs on other servers than the context's: ones it launches (its ``launch`` input)
        or a Sentinel deployment's (its ``sentinel`` input)."""
        return any(self.takes(name) for name in ELSEWHERE)

    def run(self, context: CheckContext, **inputs: Any) -> CheckResult:
        """The outcome named with this check's id and, when it ran on the context's server,
        attributed to that server's root cause."""
        result = self.outcome(context, **inputs).named(self.id)
        return result if self.launches else REGISTRY.attribute(result, context)


class Registry(Mapping[str, RegisteredCheck]):
    """Every declared check by id, in declaration order (doctor's order within a suite)."""

    def __init__(self) -> None:
        self._checks: dict[str, RegisteredCheck] = {}

    def __getitem__(self, check_id: str) -> RegisteredCheck:
        return self._checks[check_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._checks)

    def __len__(self) -> int:
        return len(self._checks)

    def add(self, entry: RegisteredCheck) -> None:
        if entry.id in self._checks:
            raise ValueError(f"check {entry.id} is declared twice")
        self._checks[entry.id] = entry

    def remove(self, check_id: str) -> None:
        del self._checks[check_id]

    def run(self, check_id: str, context: CheckContext, **inputs: Any) -> CheckResult:
        return self[check_id].run(context, **inputs)

    def members(self, template: str) -> list[RegisteredCheck]:
        """The checks of a family, in the order of its parameters."""
        found = [entry for entry in self._checks.values() if entry.family == template]
        if not found:
            raise KeyError(f"no family of checks {template!r}")
        return found

    def attribute(self, result: CheckResult, context: CheckContext) -> CheckResult:
        """One cause, one failure: an error quoting a server-wide refusal (MISCONF, READONLY, ...)
        whose root-cause check fails too is marked blocked by that check."""
        if result.id in ROOTS:
            context.causes[result.id] = result.failed
        if not result.failed or result.blocked_by is not None:
            return result
        refusal = refusal_in(result.message)
        if refusal is None or refusal.root == result.id or not self._root_failed(refusal.root, context):
            return result
        return replace(
            result, blocked_by=refusal.root, message=f"blocked by {refusal.root}: {result.message}"
        )

    def _root_failed(self, root: str, context: CheckContext) -> bool:
        """Whether the root-cause check fails on this server (run once when it has not run yet)."""
        if root not in context.causes:
            context.causes[root] = False  # also guards against asking again while it runs
            registered = self._checks.get(root)
            if registered is not None:
                try:
                    context.causes[root] = registered.outcome(context).failed
                except Exception:  # a root that cannot tell is no root
                    context.causes[root] = False
        return context.causes[root]


REGISTRY = Registry()


def _title(function: CheckFunction, check_id: str, title: str | None) -> str:
    return title or (function.__doc__ or check_id).strip().splitlines()[0]


def _items(params: Params) -> list[tuple[str, Any]]:
    if isinstance(params, Mapping):
        return list(params.items())
    return [(name, name) for name in params]


def check(
    check_id: str, *, safe: bool = False, params: Params | None = None, title: str | None = None
) -> Callable[[Function], Function]:
    """Declare a check (or, with ``params``, a family; see the module); the function is returned
    as it is, so it can still be called directly (it returns an ``Outcome``).

    ``safe=True`` lets ``nself-redis doctor`` run it on a production server: it only reads, or
    writes under its own prefix (with a TTL) and deletes what it wrote, and puts no load or
    memory on the server. Unsafe unless said, so a new check never reaches doctor by default."""
    if (params is not None) != ("{}" in check_id):
        raise ValueError(f"{check_id}: a family's id has one {{}} and params; a single check neither")

    def register(function: Function) -> Function:
        heading = _title(function, check_id, title)
        if params is None:
            REGISTRY.add(RegisteredCheck(check_id, heading, safe, function))
            return function
        for name, value in _items(params):
            member = check_id.format(name.lower())
            REGISTRY.add(RegisteredCheck(member, heading.format(name), safe, function, check_id, name, value))
        return function

    return register
