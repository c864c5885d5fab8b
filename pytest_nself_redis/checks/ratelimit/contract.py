"""The rate-limit contract as the probes use it (N, W and where they come from), and how one
point of it is declared: ``@contract_point`` runs a per-limiter body for each limiter under
test and combines their outcomes into the one result of the check."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.registry import check
from pytest_nself_redis.checks.results import Outcome, Status, error, skipped
from pytest_nself_redis.live.keys import scratch
from pytest_nself_redis.project.settings import RedisSettings
from pytest_nself_redis.ratelimit.base import MICROS, Limiter, LimiterSpec, ManualClock
from pytest_nself_redis.ratelimit.limiters import BUILTIN_LIMITERS

PROBE_LIMIT_CAP = 200
"""N above this is scaled down for the probes (the algorithms do not depend on N's size)."""
REAL_WINDOW = 0.2
"""The window of the real-clock phases, in seconds."""
SCAN_BUDGET = 200
"""SCAN calls (COUNT 1000) a check may spend walking a server's keyspace."""


@dataclass(frozen=True)
class Contract:
    """N and W as the probes use them, and how to cite where they came from."""

    limit: int
    window: float
    configured_limit: int
    cite: str
    source: str

    @property
    def window_us(self) -> int:
        return round(self.window * MICROS)

    @property
    def scaled(self) -> str:
        if self.limit == self.configured_limit:
            return ""
        return f" (N scaled from {self.configured_limit} to {self.limit} to keep the probe quick)"


def contract_of(settings: RedisSettings) -> Contract:
    limit, window = settings.rate_limit_max_requests, settings.rate_limit_window
    return Contract(
        limit=min(limit.value, PROBE_LIMIT_CAP),
        window=float(window.value),
        configured_limit=limit.value,
        cite=f"{limit.cite()}, {window.cite()}",
        source=f"{limit.source}, {window.source}",
    )


def token(label: str) -> str:
    """A key of its own for one probe."""
    return f"{label}-{secrets.token_hex(3)}"


def named(spec: LimiterSpec) -> str:
    """How a limiter's line in a combined message starts."""
    return f"[{spec.name}]"


def build(
    context: CheckContext, spec: LimiterSpec, prefix: str, clock: ManualClock | None, **kw: Any
) -> Limiter:
    """The limiter under test on the run's client (or ``client``), with the contract's N and W
    unless ``limit`` / ``window`` say otherwise."""
    contract = contract_of(context.settings)
    return spec(
        kw.pop("client", context.client),
        namespace=prefix,
        limit=kw.pop("limit", contract.limit),
        window=kw.pop("window", contract.window),
        clock=clock,
    )


def aligned_clock(window_us: int) -> ManualClock:
    """An injected clock at a multiple of the window (aligned windows start there too)."""
    clock = ManualClock()
    clock.set_us(-(-clock.now_us() // window_us) * window_us)
    return clock


_SEVERITY = {Status.ERROR: 3, Status.WARNING: 2, Status.OK: 1, Status.SKIPPED: 0}
_LABEL = {Status.ERROR: "FAILED", Status.WARNING: "WARNING", Status.OK: "kept", Status.SKIPPED: "skipped"}


def combine(outcomes: Sequence[Outcome]) -> Outcome:
    """One outcome for several limiters: the worst status, every limiter's line (worst first,
    each labelled FAILED / WARNING / kept / skipped), each limiter's numbers in order."""
    if not outcomes:
        return skipped("no limiter to check")
    worst = max(outcomes, key=lambda outcome: _SEVERITY[outcome.status])
    lines = sorted(outcomes, key=lambda outcome: -_SEVERITY[outcome.status])
    message = "\n".join(f"{_LABEL[outcome.status]}: {outcome.message}" for outcome in lines)
    return Outcome(worst.status, message, worst.source, [outcome.measured for outcome in outcomes])


PerLimiter = Callable[[CheckContext, LimiterSpec, str], Outcome]
Each = Callable[[LimiterSpec, Outcome], object]


def contract_point(
    check_id: str, what: str, *, safe: bool = True, together: bool = True
) -> Callable[[PerLimiter], PerLimiter]:
    """Declare ``check_id`` as ``body(context, spec, prefix)`` run for each limiter (all at
    once, unless not ``together``; each under a namespace of its own that is emptied
    afterwards); a limiter that raises (user code) is an error saying ``what`` it promised.
    The check's inputs: ``limiters`` (the built-ins unless given, as doctor runs it),
    ``namespace`` (where the limiters' namespaces go, else a fresh prefix) and ``each`` (told
    every limiter's outcome, for the suite's tables)."""
    label = check_id.rsplit(".", 1)[1].replace("_", "-")

    def register(body: PerLimiter) -> PerLimiter:
        def guarded(context: CheckContext, spec: LimiterSpec, namespace: str | None) -> Outcome:
            contract = contract_of(context.settings)
            own = namespace if namespace is not None else context.key_prefix(f"ratelimit-{label}")
            with scratch(context.client, own, max_calls=SCAN_BUDGET) as prefix:
                try:
                    return body(context, spec, prefix)
                except Exception as failure:  # the limiter under test is user code
                    return error(
                        f"{named(spec)} Promise: {what} ({contract.cite}). Seen: the limiter raised "
                        f"{type(failure).__name__}: {failure}",
                        contract.source,
                    )

        def run(
            context: CheckContext,
            *,
            limiters: Sequence[LimiterSpec] = BUILTIN_LIMITERS,
            namespace: str | None = None,
            each: Each | None = None,
        ) -> Outcome:
            def one(spec: LimiterSpec) -> Outcome:
                return guarded(context, spec, None if namespace is None else f"{namespace}{spec.name}:")

            # Each limiter on its own namespace, all at once: the real-clock phases wait (a
            # window, a TTL) and those waits overlap. Outcomes are told in the limiters' order.
            if together and len(limiters) > 1:
                with ThreadPoolExecutor(max_workers=len(limiters), thread_name_prefix=label) as pool:
                    outcomes = list(pool.map(one, limiters))
            else:
                outcomes = [one(spec) for spec in limiters]
            for spec, outcome in zip(limiters, outcomes, strict=True):
                if each is not None:
                    each(spec, outcome)
            return combine(outcomes)

        run.__doc__ = f"{(body.__doc__ or check_id).strip()} (built-in limiters)"
        check(check_id, safe=safe)(run)
        return body

    return register
