"""ratelimit, callers: many at once get exactly N, and two agree on one clock."""

from __future__ import annotations

import math
import time

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.ratelimit.contract import build, contract_of, contract_point, named, token
from pytest_nself_redis.checks.results import Outcome, verdict
from pytest_nself_redis.live.clients import clone
from pytest_nself_redis.ratelimit.base import Decision, LimiterSpec, ManualClock
from pytest_nself_redis.ratelimit.probes import hammer

MIN_THREADS, MIN_PROCESSES, THREADS_PER_PROCESS = 50, 4, 10


# Load is not for a production server: doctor leaves the concurrency check out. One limiter at
# a time: the hammer forks its processes, which must happen while no other thread runs.
@contract_point(
    "ratelimit.concurrency", "many clients at once get exactly N, not more", safe=False, together=False
)
def concurrency(context: CheckContext, spec: LimiterSpec, prefix: str) -> Outcome:
    """exactly N allowed when 50 threads and 4 processes hit one key at once"""
    contract = contract_of(context.settings)
    n = contract.limit
    callers = MIN_THREADS + MIN_PROCESSES * THREADS_PER_PROCESS
    result = hammer(
        spec,
        context.client,
        namespace=prefix,
        key=token("race"),
        limit=n,
        window=contract.window,
        now_us=ManualClock().now_us(),
        threads=MIN_THREADS,
        processes=MIN_PROCESSES,
        threads_per_process=THREADS_PER_PROCESS,
        hits_per_caller=max(2, math.ceil(3 * n / callers)),
    )
    measured = {"limiter": spec.name, "N": n, **result.measured()}
    who = (
        f"{result.threads} threads here and {result.processes} processes x {result.threads_per_process} "
        f"threads ({result.callers} clients, each with its own connection) released together, "
        f"{result.attempts} hits on one key with the clock frozen"
    )
    seen = f"{result.allowed} allowed, {result.denied} denied in {result.seconds:.2f}s"
    problems = []
    if result.processes < MIN_PROCESSES:
        problems.append("this platform cannot fork, so no second process took part")
    if result.errors:
        problems.append(f"{len(result.errors)} callers failed: " + "; ".join(result.errors[:3]))
    if not result.started_together:
        problems.append("not every caller was ready when the start was given")
    if result.allowed > n:
        problems.append(
            f"{result.allowed - n} more than N passed: the limiter is not atomic (concurrent callers "
            "read the same count before any of them wrote it back)"
        )
    elif result.allowed < n and not result.errors:
        problems.append(f"only {result.allowed} of N={n} passed: concurrent hits were refused or lost")
    return verdict(
        not problems,
        f"{named(spec)} Promise: exactly N={n} pass when many clients hit one key at once "
        f"({contract.cite}){contract.scaled}. Seen: {who}: {seen}"
        + (f"; {'; '.join(problems)}" if problems else ""),
        contract.source,
        measured,
    )


@contract_point("ratelimit.one_clock", "time comes from one clock, not each caller's own")
def one_clock(context: CheckContext, spec: LimiterSpec, prefix: str) -> Outcome:
    """two callers agree on time (Redis TIME or an injected clock), not each its own"""
    contract = contract_of(context.settings)
    n = contract.limit
    other = clone(context.client, max_connections=1)
    try:
        callers = {
            "A": build(context, spec, prefix, None),
            "B": build(context, spec, prefix, None, client=other),
        }
        problems = []
        seen = []
        for first, second in (("A", "B"), ("B", "A")):
            key = token(f"clock-{first}")
            filled = sum(callers[first].hit(key).allowed for _ in range(n))
            started = time.monotonic()
            mine = callers[first].hit(key)
            theirs = callers[second].hit(key)
            spread = time.monotonic() - started
            seen.append(
                f"{first} used {filled} of N={n}, then {first} was {_answer(mine)}, "
                f"{second} {_answer(theirs)}"
            )
            if theirs.allowed and not mine.allowed:
                problems.append(
                    f"caller {second} passed right after caller {first} had used all N in the window: "
                    "the callers do not share a clock"
                )
            elif not (mine.allowed or theirs.allowed):
                gap = abs(mine.retry_after - theirs.retry_after)
                if not math.isinf(mine.retry_after) and gap > spread + 0.002:
                    problems.append(
                        f"caller {first} must wait {mine.retry_after:.3f}s, caller {second} "
                        f"{theirs.retry_after:.3f}s for the same key {spread * 1000:.1f} ms apart: their "
                        f"clocks differ by about {gap:.3f}s (each caller reads its own)"
                    )
    finally:
        other.close()
    return verdict(
        not problems,
        f"{named(spec)} Promise: time comes from one clock (Redis TIME), so two callers on separate "
        f"connections agree on the same key ({contract.cite}){contract.scaled}. Seen: "
        + "; ".join(seen)
        + (f"; {'; '.join(problems)}" if problems else ""),
        contract.source,
        {"limiter": spec.name, "problems": len(problems)},
    )


def _answer(decision: Decision) -> str:
    return "allowed" if decision.allowed else f"denied (retry_after={decision.retry_after:.3f}s)"
