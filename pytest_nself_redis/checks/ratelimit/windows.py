"""ratelimit, the window: exactly N then denied, and allowed again as the window promises.

Counted on an injected ``ManualClock`` (no sleeping through windows); recovery is also seen
on Redis TIME with a short real window.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.ratelimit.contract import (
    REAL_WINDOW,
    aligned_clock,
    build,
    contract_of,
    contract_point,
    named,
    token,
)
from pytest_nself_redis.checks.results import Outcome, verdict
from pytest_nself_redis.ratelimit.base import Limiter, LimiterSpec, ManualClock
from pytest_nself_redis.ratelimit.probes import greedy

REAL_LIMIT = 5
"""N of the real-clock recovery phase (filling must take well under REAL_WINDOW)."""
Step = tuple[str, int, int]  # (when, allowed, expected)


def _runs(allowed: Sequence[bool]) -> str:
    """``[T, T, T, F]`` as "3 allowed, 1 denied"."""
    runs: list[list[Any]] = []
    for value in allowed:
        if runs and runs[-1][0] == value:
            runs[-1][1] += 1
        else:
            runs.append([value, 1])
    return ", ".join(f"{count} {'allowed' if value else 'denied'}" for value, count in runs)


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


@contract_point("ratelimit.exact_limit", "exactly N hits pass in a fresh window, the next is denied")
def exact_limit(context: CheckContext, spec: LimiterSpec, prefix: str) -> Outcome:
    """exactly N allowed in a fresh window, then denied"""
    contract = contract_of(context.settings)
    n = contract.limit
    limiter = build(context, spec, prefix, ManualClock())
    key = token("exact")
    decisions = [limiter.hit(key) for _ in range(n + 2)]
    allowed = [d.allowed for d in decisions]
    problems = []
    first_denied = allowed.index(False) + 1 if False in allowed else None
    if sum(allowed) > n:
        extra = sum(allowed) - n
        problems.append(
            f"hit {n + 1} was allowed: {sum(allowed)} passed, "
            + ("one more than N (off by one)" if extra == 1 else f"{extra} more than N")
        )
    elif first_denied is not None and first_denied <= n:
        problems.append(f"hit {first_denied} was denied after only {first_denied - 1} (N is {n})")
    if not problems:
        wrong = [
            f"after hit {i + 1} remaining={d.remaining}, expected {n - i - 1}"
            for i, d in enumerate(decisions[:n])
            if d.remaining != n - i - 1
        ]
        if wrong:
            problems.append("remaining does not count down: " + "; ".join(wrong[:3]))
        denied = decisions[n]
        if not denied.retry_after > 0:
            problems.append(f"the denial says retry_after={denied.retry_after} (must be > 0)")
    seen = f"{sum(allowed)} of {n + 2} hits allowed ({_runs(allowed)}); " + (
        "; ".join(problems) if problems else "as promised"
    )
    return verdict(
        not problems,
        f"{named(spec)} Promise: exactly N={n} hits pass in a fresh window and the next is denied "
        f"({contract.cite}){contract.scaled}. Seen: {seen}",
        contract.source,
        {"limiter": spec.name, "N": n, "allowed": sum(allowed), "attempts": n + 2},
    )


def _recovery_steps(
    limiter: Limiter, kind: str, clock: ManualClock, n: int, w: int
) -> tuple[str, list[Step]]:
    """What ``kind`` promises about recovery, and hits allowed at each step of the injected
    clock (starting at a window boundary t0) against what it promises there."""
    t0 = clock.now_us()
    key = token("recover")
    steps: list[Step] = []

    def at(label: str, when_us: int, expected: int, cap: int | None = None) -> None:
        got = greedy(limiter, key, clock, when_us, cap if cap is not None else n + 1)
        steps.append((label, got, expected))

    if kind == "sliding":
        early = math.ceil(n / 2)
        at("t0", t0, early, early)
        at("t0+W/2", t0 + w // 2, n - early, n - early)
        at("t0+0.99W", t0 + w - w // 100, 0)
        at("t0+1.01W", t0 + w + w // 100, early)
        at("t0+1.51W", t0 + w + w // 2 + w // 100, n - early)
        return "as old hits age out: each hit frees its place exactly one window after it passed", steps
    if kind == "bucket":
        interval = Fraction(w, n)
        at("t0", t0, n)
        at("t0+0.99W/N", t0 + math.floor(interval * Fraction(99, 100)), 0)
        refill = t0 + math.ceil(interval * Fraction(101, 100))
        at("t0+1.01W/N", refill, 1)
        at("t0+1.01W/N+1.01W", refill + w + w // 100, n)
        return "one token back every W/N, the full N after W", steps
    if kind == "approximate":
        at("t0", t0, n)
        at("t0+2.01W", t0 + 2 * w + w // 100, n)
        return "the full N once the filled window no longer weighs (two windows later)", steps
    at("t0", t0, n)
    at("t0+0.5W", t0 + w // 2, 0)
    at("t0+1.01W", t0 + w + w // 100, n)
    return "the full N once the window has passed", steps


def _retry_after_problems(limiter: Limiter, clock: ManualClock, t0: int, n: int) -> tuple[list[str], str]:
    """retry_after is honest: waiting that long lets the same request pass."""
    key = token("retry")
    greedy(limiter, key, clock, t0, n + 1)
    denial = limiter.hit(key)
    if denial.allowed:
        return ["a hit after filling the limit was allowed (see exact_limit)"], ""
    if math.isinf(denial.retry_after):
        return ["a denied cost-1 hit says it can never pass (retry_after=inf)"], ""
    clock.set_us(t0 + denial.retry_after_us + 1000)
    if not limiter.hit(key).allowed:
        return [f"denied with retry_after={denial.retry_after:g}s, yet still denied 1 ms after that"], ""
    return [], f"; retry_after={denial.retry_after:g}s was honest"


def _real_clock_problems(
    context: CheckContext, spec: LimiterSpec, prefix: str, n: int
) -> tuple[list[str], str]:
    """The same on Redis TIME with a short real window (N capped at 5, so filling takes far
    less than a window even on a loaded machine)."""
    real_limit = min(n, REAL_LIMIT)
    real = build(context, spec, prefix + "real:", None, window=REAL_WINDOW, limit=real_limit)
    key = token("real")
    on_real_clock = f"on the real clock (N={real_limit}, {REAL_WINDOW}s window)"
    filled = 0
    last = real.hit(key)
    while last.allowed and filled < 3 * real_limit + 10:
        filled += 1
        last = real.hit(key)
    if last.allowed:
        return [f"{on_real_clock} {filled + 1} hits passed without a denial"], on_real_clock
    if math.isinf(last.retry_after):
        return [f"{on_real_clock} a denial said retry_after=inf"], on_real_clock
    waited = min(last.retry_after, 2 * REAL_WINDOW) + 0.05
    time.sleep(waited)
    if not real.hit(key).allowed:
        return [
            f"{on_real_clock} still denied {waited:.2f}s after a denial "
            f"that said retry_after={last.retry_after:g}s"
        ], on_real_clock
    return [], on_real_clock


@contract_point("ratelimit.recovers", "hits are allowed again after the window, or as old hits age out")
def recovers(context: CheckContext, spec: LimiterSpec, prefix: str) -> Outcome:
    """allowed again after the window (fixed) or as old hits age out (sliding)"""
    contract = contract_of(context.settings)
    n, w = contract.limit, contract.window_us
    clock = aligned_clock(w)
    t0 = clock.now_us()
    limiter = build(context, spec, prefix, clock)
    expected_rule, steps = _recovery_steps(limiter, spec.kind, clock, n, w)
    problems = [f"at {label} {got} allowed, expected {exp}" for label, got, exp in steps if got != exp]
    retry_problems, retry_note = _retry_after_problems(limiter, clock, t0, n)
    real_problems, on_real_clock = _real_clock_problems(context, spec, prefix, n)
    problems += retry_problems + real_problems
    seen = ", ".join(f"{label}: {got}" for label, got, _ in steps)
    return verdict(
        not problems,
        f"{named(spec)} Promise: {_article(spec.kind)} {spec.kind} limiter allows hits again {expected_rule} "
        f"({contract.cite}){contract.scaled}. Seen on an injected clock (t0 = a window boundary): {seen}"
        + (f"; {'; '.join(problems)}" if problems else f"{retry_note}; recovered {on_real_clock} too"),
        contract.source,
        {"limiter": spec.name, "kind": spec.kind, "steps": [[label, got, exp] for label, got, exp in steps]},
    )
