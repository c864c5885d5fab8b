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
A check that judges something only some runs have (a Sentinel deployment, a backup round)
is declared with ``check_of``: its ``need`` gets it, or the outcome that stands instead.

A suite's checks are declared by the modules ``SUITE_MODULES`` names for it; the registry
imports them the first time a check of the suite is asked for (by id, by family, or
``load``), so doctor imports only the suites it runs. Iterating the registry loads every suite.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.refusals import ROOTS, refusal_in
from pytest_nself_redis.checks.results import CheckResult, Outcome, suite_of

CheckFunction = Callable[..., Outcome]
Function = TypeVar("Function", bound=CheckFunction)
Needed = TypeVar("Needed")
# Inputs that put a check on other servers than the context's (no root cause of the env's
# server explains its errors).
ELSEWHERE = ("launch", "sentinel")
# A family's parameters: names (each passed as itself), or name -> what the function gets.
Params = Sequence[str] | Mapping[str, Any]
# The modules (under pytest_nself_redis.checks) that declare each suite's checks, imported in
# this order; the suites in the order a whole load imports them. A new check module is listed
# under its suite here (a test fails for a check whose module is not).
SUITE_MODULES: dict[str, tuple[str, ...]] = {
    "auth": ("auth",),
    "backup": ("backup",),
    "config": ("config",),
    "datastructures": ("datastructures",),
    "eviction": ("eviction",),
    "headroom": ("headroom",),
    "health": ("health",),
    "latency": ("latency",),
    "monitoring": ("monitoring", "monitoring_exporter"),
    "operations": ("operations",),
    "persistence": ("persistence",),
    "pubsub": ("pubsub",),
    "queue": ("queue",),
    "ratelimit": ("ratelimit",),
    "sentinel": ("sentinel",),
    "sessions": ("sessions",),
    "tls": ("tls",),
}


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
    exclusive: bool = False
    waits: bool = False
    slow: bool = False

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
        self._loaded: set[str] = set()
        # One thread imports at a time (re-entrant: a module being imported may ask the registry).
        self._loading = threading.RLock()
        # One root cause is run at a time, so checks running side by side share its one run.
        self._causes = threading.RLock()

    def __getitem__(self, check_id: str) -> RegisteredCheck:
        self.load(suite_of(check_id))
        return self._checks[check_id]

    def __iter__(self) -> Iterator[str]:
        self.load()
        return iter(list(self._checks))

    def __len__(self) -> int:
        self.load()
        return len(self._checks)

    def load(self, *suites: str) -> None:
        """Import the modules that declare ``suites``' checks (every suite's when none is named);
        a suite no module declares (a test's own) has nothing to import."""
        wanted = suites or tuple(SUITE_MODULES)
        if self._loaded.issuperset(wanted):
            return
        with self._loading:
            for suite in wanted:
                if suite in self._loaded:
                    continue
                for module in SUITE_MODULES.get(suite, ()):
                    importlib.import_module(f"{__package__}.{module}")
                self._loaded.add(suite)

    def suite(self, suite: str) -> list[RegisteredCheck]:
        """The checks of one suite, in declaration order, loading only that suite."""
        self.load(suite)
        return [entry for entry in list(self._checks.values()) if entry.suite == suite]

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
        found = [entry for entry in self.suite(suite_of(template)) if entry.family == template]
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
        """Whether the root-cause check fails on this server (run once when it has not run yet;
        checks running side by side wait for that one run)."""
        with self._causes:
            if root not in context.causes:
                context.causes[root] = False  # also guards against asking again while it runs
                registered = self.get(root)
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
    check_id: str,
    *,
    safe: bool = False,
    params: Params | None = None,
    title: str | None = None,
    exclusive: bool = False,
    waits: bool = False,
    slow: bool = False,
) -> Callable[[Function], Function]:
    """Declare a check (or, with ``params``, a family; see the module); the function is returned
    as it is, so it can still be called directly (it returns an ``Outcome``).

    ``safe=True`` lets ``nself-redis doctor`` run it on a production server: it only reads, or
    writes under its own prefix (with a TTL) and deletes what it wrote, and puts no load or
    memory on the server. Unsafe unless said, so a new check never reaches doctor by default.
    ``exclusive=True``: it measures time, so doctor (which runs the others side by side) runs
    it with no busy check beside it. ``waits=True``: it spends its time waiting on the server
    (a blocking read, a key's expiry), so doctor starts it before the others, beside them, and
    lets an exclusive check run during its wait: it must then do little but wait. ``slow=True``:
    it takes longer than the other busy checks (it starts a program and waits for it), so doctor
    starts it first among them; it stays busy (no exclusive check runs beside it)."""
    if (params is not None) != ("{}" in check_id):
        raise ValueError(f"{check_id}: a family's id has one {{}} and params; a single check neither")

    def register(function: Function) -> Function:
        heading = _title(function, check_id, title)
        if params is None:
            REGISTRY.add(
                RegisteredCheck(
                    check_id, heading, safe, function, exclusive=exclusive, waits=waits, slow=slow
                )
            )
            return function
        for name, value in _items(params):
            member = check_id.format(name.lower())
            REGISTRY.add(
                RegisteredCheck(
                    member,
                    heading.format(name),
                    safe,
                    function,
                    check_id,
                    name,
                    value,
                    exclusive,
                    waits,
                    slow,
                )
            )
        return function

    return register


def check_of(
    check_id: str, need: Callable[..., Needed | Outcome], *, safe: bool = False
) -> Callable[[Callable[[CheckContext, Needed], Outcome]], CheckFunction]:
    """Declare a check that judges what ``need(context, **inputs)`` gets (a deployment, a
    measured round): when ``need`` answers with an outcome instead (nothing to judge here), that
    is the check's outcome and the function is not called. The check takes ``need``'s inputs."""

    def register(function: Callable[[CheckContext, Needed], Outcome]) -> CheckFunction:
        @functools.wraps(function)  # its title and module, as the registry reads them
        def judged(context: CheckContext, **inputs: Any) -> Outcome:
            needed = need(context, **inputs)
            return needed if isinstance(needed, Outcome) else function(context, needed)

        judged.__dict__["__signature__"] = inspect.signature(need)  # its inputs, as ``takes`` reads them
        return check(check_id, safe=safe)(judged)

    return register
