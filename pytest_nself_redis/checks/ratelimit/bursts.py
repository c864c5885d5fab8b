"""ratelimit, bursts: no burst beyond the limiter's bound.

Sliding windows allow at most N in any window-long span; an approximate one blocks the 2N
burst at a boundary (its approximation is reported); a fixed window's boundary burst is its
documented weakness, measured and shown; a token bucket allows at most B + r*t in any
interval t and no more than r in the long run.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.ratelimit.contract import (
    Contract,
    aligned_clock,
    build,
    contract_of,
    contract_point,
    named,
    token,
)
from pytest_nself_redis.checks.results import Outcome, error, ok, verdict, warning
from pytest_nself_redis.ratelimit.base import MICROS, LimiterSpec, ManualClock
from pytest_nself_redis.ratelimit.probes import WindowProbe, probe_bucket, probe_window


@contract_point("ratelimit.burst", "no burst beyond the limiter's bound")
def burst(context: CheckContext, spec: LimiterSpec, prefix: str) -> Outcome:
    """no 2N burst across a window boundary; token bucket within B + r*t"""
    contract = contract_of(context.settings)
    if spec.kind == "bucket":
        return _bucket_bounds(context, spec, prefix, contract)
    clock = aligned_clock(contract.window_us)
    limiter = build(context, spec, prefix, clock)
    probe = probe_window(limiter, token("burst"), clock, contract.limit, contract.window_us)
    measured = {"limiter": spec.name, "kind": spec.kind, **probe.measured()}
    numbers = (
        f"{probe.across_boundary} allowed in the window-long span centred on the boundary, "
        f"{probe.at_boundary} within W/5 around it, at most {probe.max_span.count} in any window-long span "
        f"(hit once at t0, then greedily every W/20 from just before the boundary t0+W to t0+3W)"
    )
    judged = {"sliding": _sliding, "approximate": _approximate}.get(spec.kind, _fixed)
    return judged(
        f"{named(spec)} Promise:",
        probe,
        contract,
        f"({contract.cite}){contract.scaled}. Seen: {numbers}",
        measured,
    )


def _sliding(
    head: str, probe: WindowProbe, contract: Contract, seen: str, measured: dict[str, Any]
) -> Outcome:
    n = contract.limit
    return verdict(
        probe.max_span.count <= n,
        f"{head} never more than N={n} hits in any window-long span, no 2N burst at a window boundary {seen}",
        contract.source,
        measured,
    )


def _approximate(
    head: str, probe: WindowProbe, contract: Contract, seen: str, measured: dict[str, Any]
) -> Outcome:
    n, span = contract.limit, probe.max_span
    if span.count >= 2 * n or probe.at_boundary > n + math.ceil(n / 20):
        return error(
            f"{head} an approximate sliding window blocks the 2N burst at a window boundary {seen}",
            contract.source,
            measured,
        )
    message = f"{head} an approximate sliding window lets no 2N burst through at the boundary {seen}"
    if span.count > n:
        return warning(
            message + f". Its documented approximation: it weighs the previous window as if its hits "
            f"were spread evenly, so {span.count} > N={n} passed in one window-long span",
            contract.source,
            measured,
        )
    return ok(message, contract.source, measured)


def _fixed(head: str, probe: WindowProbe, contract: Contract, seen: str, measured: dict[str, Any]) -> Outcome:
    """The boundary burst is a fixed window's documented weakness: measured and shown."""
    n, span = contract.limit, probe.max_span
    message = f"{head} a fixed window allows at most 2N={2 * n} in any window-long span {seen}"
    if span.count > 2 * n:
        return error(message + ": more than 2N", contract.source, measured)
    if span.count > n:
        return warning(
            message + f". Documented weakness of fixed windows: {probe.at_boundary} hits passed within W/5 "
            f"across the boundary ({span.count} in one window-long span, N={n}); use a sliding window "
            "where bursts matter",
            contract.source,
            measured,
        )
    return ok(message + ": no boundary burst seen", contract.source, measured)


def _bucket_bounds(context: CheckContext, spec: LimiterSpec, prefix: str, contract: Contract) -> Outcome:
    n, w = contract.limit, contract.window_us
    clock = ManualClock()
    limiter = build(context, spec, prefix, clock)
    probe = probe_bucket(limiter, token("bucket"), clock, n, w)
    allowed, bound, start, end = probe.worst_interval()
    rate = probe.long_run_rate()
    limit_rate = Fraction(n * MICROS, w)
    problems = []
    if allowed > bound:
        problems.append(
            f"{allowed} passed in [{(start - probe.t0_us) / 1e6:g}s, {(end - probe.t0_us) / 1e6:g}s], "
            f"over B + r*t = {float(bound):g}"
        )
    if rate > limit_rate:
        problems.append(f"long-run rate {float(rate):.4g}/s over r = {float(limit_rate):.4g}/s")
    return verdict(
        not problems,
        f"{named(spec)} Promise: a token bucket with capacity B={n} and rate r=N/W={float(limit_rate):.4g}/s "
        f"allows at most B + r*t in any interval t and no more than r in the long run "
        f"({contract.cite}){contract.scaled}. Seen: {len(probe.allowed_at)} allowed over a full burst, 2W of "
        f"greedy hits every W/20 and a burst after 3W idle; fullest interval {allowed} of bound "
        f"{float(bound):g}; long-run rate {float(rate):.4g}/s"
        + (f"; {'; '.join(problems)}" if problems else ""),
        contract.source,
        {"limiter": spec.name, "kind": spec.kind, "N": n, **probe.measured()},
    )
