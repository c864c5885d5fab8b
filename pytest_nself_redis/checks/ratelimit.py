"""ratelimit: the rate-limit contract (docs/suites/ratelimit.md) for each limiter, and the deployment's risks.

Per limiter (a ``LimiterSpec``), for N = AUTH_RATE_LIMIT_MAX_REQUESTS and
W = AUTH_RATE_LIMIT_WINDOW: exactly N then denied; allowed again after the window;
no burst beyond the limiter's bound (sliding: N in any window-long span; fixed: the
boundary burst is measured and reported as its documented weakness; token bucket:
B + r*t in any interval t, long-run rate <= r); exact counts under 50 threads and 4
processes at once; every key namespaced with a TTL no longer than needed; one clock.
For the deployment: the eviction policy's risk to limiter keys, and the TTLs of the
``ratelimit:*`` keys nself writes.

Time-dependent checks use an injected ``ManualClock`` (no sleeping through windows);
the real-clock phases use a 0.2 s window. Every key is written under a namespace
(the caller's, else ``context.key_prefix``) and deleted afterwards.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import redis
from redis import exceptions as redis_errors

from pytest_nself_redis.checks.base import (
    CheckContext,
    CheckResult,
    Status,
    check,
    error,
    ok,
    skipped,
    verdict,
    warning,
)
from pytest_nself_redis.live.clients import clone
from pytest_nself_redis.live.keys import scan_prefix, scratch
from pytest_nself_redis.live.reads import config_get
from pytest_nself_redis.project.settings import RedisSettings
from pytest_nself_redis.ratelimit.base import MICROS, Decision, Limiter, LimiterSpec, ManualClock
from pytest_nself_redis.ratelimit.limiters import BUILTIN_LIMITERS
from pytest_nself_redis.ratelimit.probes import greedy, hammer, probe_bucket, probe_window

PROBE_LIMIT_CAP = 200
"""N above this is scaled down for the probes (the algorithms do not depend on N's size)."""
REAL_WINDOW = 0.2
"""The window of the real-clock phases, in seconds."""
REAL_LIMIT = 5
"""N of the real-clock recovery phase (filling must take well under REAL_WINDOW)."""
MIN_THREADS, MIN_PROCESSES, THREADS_PER_PROCESS = 50, 4, 10
SCAN_BUDGET = 200
"""SCAN calls (COUNT 1000) a check may spend walking a server's keyspace."""
NSELF_KEY_SAMPLE = 500


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


def _token(label: str) -> str:
    return f"{label}-{secrets.token_hex(3)}"


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _head(spec: LimiterSpec) -> str:
    return f"[{spec.name}]"


PerLimiterCheck = Callable[[CheckContext, LimiterSpec, str], CheckResult]


def _guarded(check_id: str, what: str) -> Callable[[PerLimiterCheck], Callable[..., CheckResult]]:
    """A limiter that raises (or a server that refuses) is an error naming both, not a crash."""

    def wrap(function: PerLimiterCheck) -> Callable[..., CheckResult]:
        def run(context: CheckContext, spec: LimiterSpec, namespace: str | None = None) -> CheckResult:
            contract = contract_of(context.settings)
            label = check_id.rsplit(".", 1)[1].replace("_", "-")
            own = namespace if namespace is not None else context.key_prefix(f"ratelimit-{label}")
            with scratch(context.client, own, max_calls=SCAN_BUDGET) as prefix:
                try:
                    return function(context, spec, prefix)
                except Exception as failure:  # the limiter under test is user code
                    return error(
                        check_id,
                        f"{_head(spec)} Promise: {what} ({contract.cite}). Seen: the limiter raised "
                        f"{type(failure).__name__}: {failure}",
                        contract.source,
                    )

        run.__name__ = function.__name__
        run.__doc__ = function.__doc__
        return run

    return wrap


def _build(
    context: CheckContext, spec: LimiterSpec, prefix: str, clock: ManualClock | None, **kw: Any
) -> Limiter:
    contract = contract_of(context.settings)
    client = kw.pop("client", context.client)
    return spec(
        client,
        namespace=prefix,
        limit=kw.pop("limit", contract.limit),
        window=kw.pop("window", contract.window),
        clock=clock,
    )


def _runs(allowed: Sequence[bool]) -> str:
    """``[T, T, T, F]`` as "3 allowed, 1 denied"."""
    runs: list[list[Any]] = []
    for value in allowed:
        if runs and runs[-1][0] == value:
            runs[-1][1] += 1
        else:
            runs.append([value, 1])
    return ", ".join(f"{count} {'allowed' if value else 'denied'}" for value, count in runs)


def _aligned_clock(window_us: int) -> ManualClock:
    """An injected clock at a multiple of the window (aligned windows start there too)."""
    clock = ManualClock()
    clock.set_us(-(-clock.now_us() // window_us) * window_us)
    return clock


# -- 1. exactly N, then denied ------------------------------------------------------------


@_guarded("ratelimit.exact_limit", "exactly N hits pass in a fresh window, the next is denied")
def exact_limit(context: CheckContext, spec: LimiterSpec, prefix: str) -> CheckResult:
    """exactly N allowed in a fresh window, then denied"""
    contract = contract_of(context.settings)
    n = contract.limit
    limiter = _build(context, spec, prefix, ManualClock())
    key = _token("exact")
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
        "ratelimit.exact_limit",
        not problems,
        f"{_head(spec)} Promise: exactly N={n} hits pass in a fresh window and the next is denied "
        f"({contract.cite}){contract.scaled}. Seen: {seen}",
        contract.source,
        {"limiter": spec.name, "N": n, "allowed": sum(allowed), "attempts": n + 2},
    )


# -- 2. allowed again after the window / as hits age out -------------------------------------


@_guarded("ratelimit.recovers", "hits are allowed again after the window, or as old hits age out")
def recovers(context: CheckContext, spec: LimiterSpec, prefix: str) -> CheckResult:
    """allowed again after the window (fixed) or as old hits age out (sliding)"""
    contract = contract_of(context.settings)
    n, w = contract.limit, contract.window_us
    clock = _aligned_clock(w)
    t0 = clock.now_us()
    limiter = _build(context, spec, prefix, clock)
    steps: list[tuple[str, int, int]] = []  # (when, allowed, expected)
    expected_rule: str

    def at(label: str, when_us: int, expected: int, key: str, cap: int | None = None) -> None:
        got = greedy(limiter, key, clock, when_us, cap if cap is not None else n + 1)
        steps.append((label, got, expected))

    key = _token("recover")
    if spec.kind == "sliding":
        early = math.ceil(n / 2)
        expected_rule = "as old hits age out: each hit frees its place exactly one window after it passed"
        at("t0", t0, early, key, early)
        at("t0+W/2", t0 + w // 2, n - early, key, n - early)
        at("t0+0.99W", t0 + w - w // 100, 0, key)
        at("t0+1.01W", t0 + w + w // 100, early, key)
        at("t0+1.51W", t0 + w + w // 2 + w // 100, n - early, key)
    elif spec.kind == "bucket":
        interval = Fraction(w, n)
        expected_rule = "one token back every W/N, the full N after W"
        at("t0", t0, n, key)
        at("t0+0.99W/N", t0 + math.floor(interval * Fraction(99, 100)), 0, key)
        refill = t0 + math.ceil(interval * Fraction(101, 100))
        at("t0+1.01W/N", refill, 1, key)
        at("t0+1.01W/N+1.01W", refill + w + w // 100, n, key)
    elif spec.kind == "approximate":
        expected_rule = "the full N once the filled window no longer weighs (two windows later)"
        at("t0", t0, n, key)
        at("t0+2.01W", t0 + 2 * w + w // 100, n, key)
    else:
        expected_rule = "the full N once the window has passed"
        at("t0", t0, n, key)
        at("t0+0.5W", t0 + w // 2, 0, key)
        at("t0+1.01W", t0 + w + w // 100, n, key)
    problems = [f"at {label} {got} allowed, expected {exp}" for label, got, exp in steps if got != exp]

    # retry_after is honest: waiting that long lets the same request pass
    honest_key = _token("retry")
    greedy(limiter, honest_key, clock, t0, n + 1)
    denial = limiter.hit(honest_key)
    retry_note = ""
    if denial.allowed:
        problems.append("a hit after filling the limit was allowed (see exact_limit)")
    elif math.isinf(denial.retry_after):
        problems.append("a denied cost-1 hit says it can never pass (retry_after=inf)")
    else:
        clock.set_us(t0 + denial.retry_after_us + 1000)
        if not limiter.hit(honest_key).allowed:
            problems.append(
                f"denied with retry_after={denial.retry_after:g}s, yet still denied 1 ms after that"
            )
        retry_note = f"; retry_after={denial.retry_after:g}s was honest" if not problems else ""

    # the same on Redis TIME with a short real window
    # (N capped at 5, so filling takes far less than a window even on a loaded machine)
    real_limit = min(n, REAL_LIMIT)
    real = _build(context, spec, prefix + "real:", None, window=REAL_WINDOW, limit=real_limit)
    real_key = _token("real")
    on_real_clock = f"on the real clock (N={real_limit}, {REAL_WINDOW}s window)"
    filled = 0
    last = real.hit(real_key)
    while last.allowed and filled < 3 * real_limit + 10:
        filled += 1
        last = real.hit(real_key)
    if last.allowed:
        problems.append(f"{on_real_clock} {filled + 1} hits passed without a denial")
    elif math.isinf(last.retry_after):
        problems.append(f"{on_real_clock} a denial said retry_after=inf")
    else:
        waited = min(last.retry_after, 2 * REAL_WINDOW) + 0.05
        time.sleep(waited)
        if not real.hit(real_key).allowed:
            problems.append(
                f"{on_real_clock} still denied {waited:.2f}s after a denial "
                f"that said retry_after={last.retry_after:g}s"
            )
    seen = ", ".join(f"{label}: {got}" for label, got, _ in steps)
    return verdict(
        "ratelimit.recovers",
        not problems,
        f"{_head(spec)} Promise: {_article(spec.kind)} {spec.kind} limiter allows hits again {expected_rule} "
        f"({contract.cite}){contract.scaled}. Seen on an injected clock (t0 = a window boundary): {seen}"
        + (f"; {'; '.join(problems)}" if problems else f"{retry_note}; recovered {on_real_clock} too"),
        contract.source,
        {"limiter": spec.name, "kind": spec.kind, "steps": [[label, got, exp] for label, got, exp in steps]},
    )


# -- 3. no burst beyond the limiter's bound -----------------------------------------------------


@_guarded("ratelimit.burst", "no burst beyond the limiter's bound")
def burst(context: CheckContext, spec: LimiterSpec, prefix: str) -> CheckResult:
    """no 2N burst across a window boundary; token bucket within B + r*t"""
    contract = contract_of(context.settings)
    if spec.kind == "bucket":
        return _bucket_bounds(context, spec, prefix, contract)
    n, w = contract.limit, contract.window_us
    clock = _aligned_clock(w)
    limiter = _build(context, spec, prefix, clock)
    probe = probe_window(limiter, _token("burst"), clock, n, w)
    measured = {"limiter": spec.name, "kind": spec.kind, **probe.measured()}
    span = probe.max_span
    numbers = (
        f"{probe.across_boundary} allowed in the window-long span centred on the boundary, "
        f"{probe.at_boundary} within W/5 around it, at most {span.count} in any window-long span "
        f"(hit once at t0, then greedily every W/20 from just before the boundary t0+W to t0+3W)"
    )
    head = f"{_head(spec)} Promise:"
    cid = "ratelimit.burst"
    if spec.kind == "sliding":
        return verdict(
            cid,
            span.count <= n,
            f"{head} never more than N={n} hits in any window-long span, no 2N burst at a window "
            f"boundary ({contract.cite}){contract.scaled}. Seen: {numbers}",
            contract.source,
            measured,
        )
    if spec.kind == "approximate":
        step_allowance = math.ceil(n / 20)
        if span.count >= 2 * n or probe.at_boundary > n + step_allowance:
            return error(
                cid,
                f"{head} an approximate sliding window blocks the 2N burst at a window boundary "
                f"({contract.cite}){contract.scaled}. Seen: {numbers}",
                contract.source,
                measured,
            )
        message = (
            f"{head} an approximate sliding window lets no 2N burst through at the boundary "
            f"({contract.cite}){contract.scaled}. Seen: {numbers}"
        )
        if span.count > n:
            return warning(
                cid,
                message + f". Its documented approximation: it weighs the previous window as if its hits "
                f"were spread evenly, so {span.count} > N={n} passed in one window-long span",
                contract.source,
                measured,
            )
        return ok(cid, message, contract.source, measured)
    # fixed window: the boundary burst is its documented weakness, measured and shown
    message = (
        f"{head} a fixed window allows at most 2N={2 * n} in any window-long span "
        f"({contract.cite}){contract.scaled}. Seen: {numbers}"
    )
    if span.count > 2 * n:
        return error(cid, message + ": more than 2N", contract.source, measured)
    if span.count > n:
        return warning(
            cid,
            message + f". Documented weakness of fixed windows: {probe.at_boundary} hits passed within W/5 "
            f"across the boundary ({span.count} in one window-long span, N={n}); use a sliding window "
            "where bursts matter",
            contract.source,
            measured,
        )
    return ok(cid, message + ": no boundary burst seen", contract.source, measured)


def _bucket_bounds(context: CheckContext, spec: LimiterSpec, prefix: str, contract: Contract) -> CheckResult:
    n, w = contract.limit, contract.window_us
    clock = ManualClock()
    limiter = _build(context, spec, prefix, clock)
    probe = probe_bucket(limiter, _token("bucket"), clock, n, w)
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
        "ratelimit.burst",
        not problems,
        f"{_head(spec)} Promise: a token bucket with capacity B={n} and rate r=N/W={float(limit_rate):.4g}/s "
        f"allows at most B + r*t in any interval t and no more than r in the long run "
        f"({contract.cite}){contract.scaled}. Seen: {len(probe.allowed_at)} allowed over a full burst, 2W of "
        f"greedy hits every W/20 and a burst after 3W idle; fullest interval {allowed} of bound "
        f"{float(bound):g}; long-run rate {float(rate):.4g}/s"
        + (f"; {'; '.join(problems)}" if problems else ""),
        contract.source,
        {"limiter": spec.name, "kind": spec.kind, "N": n, **probe.measured()},
    )


# -- 4. exact counts under concurrency ---------------------------------------------------------


@_guarded("ratelimit.concurrency", "many clients at once get exactly N, not more")
def concurrency(context: CheckContext, spec: LimiterSpec, prefix: str) -> CheckResult:
    """exactly N allowed when 50 threads and 4 processes hit one key at once"""
    contract = contract_of(context.settings)
    n = contract.limit
    callers = MIN_THREADS + MIN_PROCESSES * THREADS_PER_PROCESS
    result = hammer(
        spec,
        context.client,
        namespace=prefix,
        key=_token("race"),
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
        "ratelimit.concurrency",
        not problems,
        f"{_head(spec)} Promise: exactly N={n} pass when many clients hit one key at once "
        f"({contract.cite}){contract.scaled}. Seen: {who}: {seen}"
        + (f"; {'; '.join(problems)}" if problems else ""),
        contract.source,
        measured,
    )


# -- 5. namespaced keys, each with a TTL no longer than needed -----------------------------------


@_guarded("ratelimit.keys", "every key is namespaced and carries a TTL no longer than needed")
def keys_have_ttls(context: CheckContext, spec: LimiterSpec, prefix: str) -> CheckResult:
    """every key is namespaced and carries a TTL no longer than needed"""
    contract = contract_of(context.settings)
    n = contract.limit
    client = context.client
    token = _token("ttl")
    limiter = _build(context, spec, prefix, None)
    for _ in range(n + 1):
        limiter.hit(f"{token}-a")
    limiter.hit(f"{token}-b")
    needed_ms = round(spec.ttl_windows * contract.window * 1000)
    keys = sorted(scan_prefix(client, prefix, max_calls=SCAN_BUDGET))
    ttls = {key: int(client.pttl(key)) for key in keys}
    problems = []
    if not keys:
        problems.append(f"no key under the namespace {prefix!r}: the limiter keeps no state there")
    leaks = [key for key, ttl in ttls.items() if ttl == -1]
    if leaks:
        problems.append(
            f"{len(leaks)} key(s) without a TTL, never expiring (a leak): " + ", ".join(leaks[:3])
        )
    long_lived = {key: ttl for key, ttl in ttls.items() if ttl > needed_ms + 1}
    if long_lived:
        problems.append(
            f"TTL longer than the {spec.ttl_windows:g} window(s) = {needed_ms} ms it needs: "
            + ", ".join(f"{key} PTTL={ttl}" for key, ttl in list(long_lived.items())[:3])
        )
    outside = _outside_namespace(client, token, prefix)
    if outside:
        problems.append("key(s) outside the namespace: " + ", ".join(outside[:3]))

    # on Redis TIME with a short window, the keys really go once they stop mattering
    real_prefix = prefix + "real:"
    real = _build(context, spec, real_prefix, None, window=REAL_WINDOW)
    longest = 0.0
    for _ in range(n + 1):
        decision = real.hit(f"{token}-real")
        if not math.isinf(decision.reset_after):
            longest = max(longest, decision.reset_after)
    waited = min(max(longest, spec.ttl_windows * REAL_WINDOW), 2 * REAL_WINDOW) + 0.06
    time.sleep(waited)
    lingering = {
        key: int(client.pttl(key)) for key in scan_prefix(client, real_prefix, max_calls=SCAN_BUDGET)
    }
    if lingering:
        problems.append(
            f"with a {REAL_WINDOW}s window, {waited:.2f}s later key(s) still exist: "
            + ", ".join(f"{key} PTTL={ttl}" for key, ttl in list(lingering.items())[:3])
        )
    shown = ", ".join(f"{key.removeprefix(prefix)} PTTL={ttl}" for key, ttl in ttls.items()) or "none"
    return verdict(
        "ratelimit.keys",
        not problems,
        f"{_head(spec)} Promise: every key the limiter writes is under its namespace and carries a TTL "
        f"of at most {spec.ttl_windows:g} window(s) ({contract.cite}). Seen on Redis TIME: {shown}"
        + (
            f"; {'; '.join(problems)}"
            if problems
            else f"; all gone {waited:.2f}s after a {REAL_WINDOW}s window"
        ),
        contract.source,
        {
            "limiter": spec.name,
            "needed_ms": needed_ms,
            "pttl_ms": list(ttls.values()),
            "lingering": len(lingering),
        },
    )


def _outside_namespace(client: redis.Redis, token: str, prefix: str) -> list[str]:
    """Keys naming the probe's token but not under the namespace (skipped on big servers)."""
    if int(client.dbsize()) > SCAN_BUDGET * 1000:
        return []
    found: list[str] = []
    cursor = 0
    for _ in range(SCAN_BUDGET):
        cursor, batch = client.scan(cursor, match=f"*{token}*", count=1000)
        found.extend(key for key in batch if not key.startswith(prefix))
        if int(cursor) == 0:
            break
    for key in found:  # they are ours, wherever they landed
        client.unlink(key)
    return found


# -- 6. one clock ---------------------------------------------------------------------------------


@_guarded("ratelimit.one_clock", "time comes from one clock, not each caller's own")
def one_clock(context: CheckContext, spec: LimiterSpec, prefix: str) -> CheckResult:
    """two callers agree on time (Redis TIME or an injected clock), not each its own"""
    contract = contract_of(context.settings)
    n = contract.limit
    other = clone(context.client, max_connections=1)
    try:
        callers = {
            "A": _build(context, spec, prefix, None),
            "B": _build(context, spec, prefix, None, client=other),
        }
        problems = []
        seen = []
        for first, second in (("A", "B"), ("B", "A")):
            key = _token(f"clock-{first}")
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
        "ratelimit.one_clock",
        not problems,
        f"{_head(spec)} Promise: time comes from one clock (Redis TIME), so two callers on separate "
        f"connections agree on the same key ({contract.cite}){contract.scaled}. Seen: "
        + "; ".join(seen)
        + (f"; {'; '.join(problems)}" if problems else ""),
        contract.source,
        {"limiter": spec.name, "problems": len(problems)},
    )


def _answer(decision: Decision) -> str:
    return "allowed" if decision.allowed else f"denied (retry_after={decision.retry_after:.3f}s)"


# -- 7. the eviction policy's risk ---------------------------------------------------------------


SAFE_POLICY_NOTE = (
    "limiter keys are never evicted; at full memory their writes fail with OOM and the application "
    "decides whether that fails open or closed"
)


@check("ratelimit.eviction_risk", safe=True)
def eviction_risk(context: CheckContext) -> CheckResult:
    """the eviction policy's risk to limiter keys is reported"""
    settings = context.settings
    setting = settings.maxmemory_policy
    cid = "ratelimit.eviction_risk"
    if not settings.rate_limit_enabled.value:
        return skipped(cid, f"rate limiting is off ({settings.rate_limit_enabled.cite()})")
    if settings.rate_limit_store.value != "redis":
        return skipped(
            cid,
            f"limiter state is not kept in Redis ({settings.rate_limit_store.cite()})",
            str(setting.source),
        )
    live = config_get(context.client, "maxmemory-policy")
    policy = live or setting.value
    where = f"{setting.cite()}" + (f", live {live}" if live and live != setting.value else "")
    head = f"Promise: limits survive memory pressure ({where}, {settings.maxmemory.cite()})."
    measured = {"policy": policy, "configured": setting.value, "live": live}
    if policy.startswith("allkeys-"):
        return warning(
            cid,
            f"{head} Risk: under {policy} a full Redis may evict any key, limiter keys included; an evicted "
            "ratelimit:* key resets that client's limit (a limited client gets a fresh N). Use noeviction, "
            "or keep limiter keys on a Redis that does not fill up",
            str(setting.source),
            measured,
        )
    if policy.startswith("volatile-"):
        return warning(
            cid,
            f"{head} Risk: under {policy} a full Redis evicts keys that carry a TTL, and every limiter key "
            "carries one, so limiter keys are among the first to go and their limits reset",
            str(setting.source),
            measured,
        )
    return ok(cid, f"{head} Kept: under {policy} {SAFE_POLICY_NOTE}", str(setting.source), measured)


def eviction_demonstration(client: redis.Redis, settings: RedisSettings, spec: LimiterSpec) -> CheckResult:
    """Fill a server (a variant the run launched, with a small maxmemory) past its limit and
    see whether a limited key survives: the measured side of ``eviction_risk``."""
    cid = "ratelimit.eviction_risk"
    contract = contract_of(settings)
    policy = config_get(client, "maxmemory-policy") or settings.maxmemory_policy.value
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory", str(used + 512 * 1024))
    limiter = spec(client, namespace="", limit=contract.limit, window=contract.window)
    key = _token("evict")
    filled = sum(limiter.hit(key).allowed for _ in range(contract.limit))
    limited = not limiter.hit(key).allowed
    written, oom = 0, False
    payload = "x" * 1024
    try:
        for batch in range(64):
            with client.pipeline(transaction=False) as pipe:
                for n in range(64):
                    pipe.set(f"filler:{batch}:{n}", payload)
                pipe.execute()
            written += 64
    except redis_errors.OutOfMemoryError:
        oom = True
    evicted = int(client.info("stats")["evicted_keys"])
    survived = [name for name in limiter_keys(limiter, key) if client.exists(name)]
    try:
        after = limiter.hit(key)
        outcome = "allowed (its limit was reset)" if after.allowed else "still denied"
    except redis_errors.OutOfMemoryError:
        after, outcome = None, "refused with OOM (the limiter cannot write)"
    reset = after is not None and after.allowed
    measured = {
        "policy": policy,
        "filled": filled,
        "limited_before": limited,
        "filler_keys_written": written,
        "oom": oom,
        "evicted_keys": evicted,
        "limiter_key_survived": bool(survived),
        "hit_after": outcome,
    }
    message = (
        f"Promise: a limited client stays limited under memory pressure "
        f"({settings.maxmemory_policy.cite()}). Seen with maxmemory = used + 512 KiB: {filled} hits "
        f"filled the limit, then {written} filler keys" + (" until OOM" if oom else "") + f", "
        f"{evicted} keys evicted, the limiter key {'survived' if survived else 'was evicted'}; "
        f"the next hit was {outcome}"
    )
    return (warning if reset else ok)(cid, message, str(settings.maxmemory_policy.source), measured)


def limiter_keys(limiter: Limiter, key: str) -> list[str]:
    keys = getattr(limiter, "keys", None)
    return list(keys(key)) if callable(keys) else []


# -- the deployment's own ratelimit:* keys ---------------------------------------------------------


@check("ratelimit.deployment_keys", safe=True)
def deployment_keys(context: CheckContext) -> CheckResult:
    """nself's ratelimit:* keys on the server carry TTLs within the window"""
    settings = context.settings
    window = settings.rate_limit_window
    cid = "ratelimit.deployment_keys"
    client = context.client
    keys: list[str] = []
    cursor, calls = 0, 0
    while calls < SCAN_BUDGET and len(keys) < NSELF_KEY_SAMPLE:
        cursor, batch = client.scan(cursor, match="ratelimit:*", count=1000)
        keys.extend(batch)
        calls += 1
        if int(cursor) == 0:
            break
    complete = int(cursor) == 0
    keys = keys[:NSELF_KEY_SAMPLE]
    head = (
        f"Promise: nself's limiter keys (ratelimit:<key> counters, ratelimit:sliding:<key> sorted sets) "
        f"expire within the window ({window.cite()})."
    )
    if not keys:
        return ok(
            cid,
            f"{head} Seen: no ratelimit:* keys"
            + ("" if complete else f" in the first {calls * 1000} keys scanned"),
            str(window.source),
            {"keys": 0},
        )
    problems = []
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.type(key)
        pipe.pttl(key)
    replies = pipe.execute()
    limit_ms = window.value * 1000
    for key, kind, ttl in zip(keys, replies[::2], replies[1::2], strict=True):
        expected = "zset" if key.startswith("ratelimit:sliding:") else None
        if int(ttl) == -1:
            problems.append(f"{key} ({kind}) has no TTL and never expires: a limit that never resets")
        elif int(ttl) > limit_ms:
            problems.append(f"{key} ({kind}) PTTL={ttl} ms is longer than the window")
        if expected and kind != expected:
            problems.append(f"{key} is a {kind}, nself's sliding window writes a zset")
    sample = f"{len(keys)} key(s)" + ("" if complete else " (a sample)")
    return verdict(
        cid,
        not problems,
        f"{head} Seen: {sample}"
        + (f"; {'; '.join(problems[:5])}" if problems else ", each with a TTL within it"),
        str(window.source),
        {"keys": len(keys), "problems": len(problems)},
    )


# -- combining per-limiter results, and the checks doctor runs over the built-ins -----------------

_SEVERITY = {Status.ERROR: 3, Status.WARNING: 2, Status.OK: 1, Status.SKIPPED: 0}
_LABEL = {Status.ERROR: "FAILED", Status.WARNING: "WARNING", Status.OK: "kept", Status.SKIPPED: "skipped"}


def combine(check_id: str, results: Sequence[CheckResult]) -> CheckResult:
    """One result for several limiters: the worst status, every limiter's line (worst first,
    each labelled FAILED / WARNING / kept / skipped)."""
    if not results:
        return skipped(check_id, "no limiter to check")
    worst = max(results, key=lambda result: _SEVERITY[result.status])
    lines = sorted(results, key=lambda result: -_SEVERITY[result.status])
    message = "\n".join(f"{_LABEL[result.status]}: {result.message}" for result in lines)
    return CheckResult(
        check_id,
        "ratelimit",
        worst.status,
        message,
        worst.source,
        [result.measured for result in results],
    )


PER_LIMITER: dict[str, Callable[..., CheckResult]] = {
    "ratelimit.exact_limit": exact_limit,
    "ratelimit.recovers": recovers,
    "ratelimit.burst": burst,
    "ratelimit.concurrency": concurrency,
    "ratelimit.keys": keys_have_ttls,
    "ratelimit.one_clock": one_clock,
}
# Load is not for a production server: doctor leaves the concurrency check out.
_UNSAFE = {"ratelimit.concurrency"}


def for_limiters(
    check_id: str, context: CheckContext, limiters: Sequence[LimiterSpec], namespace: str | None = None
) -> CheckResult:
    """Run one per-limiter check for each limiter (each under its own namespace)."""
    function = PER_LIMITER[check_id]
    results = [
        function(context, spec, None if namespace is None else f"{namespace}{spec.name}:")
        for spec in limiters
    ]
    return combine(check_id, results)


def _register_builtin_checks() -> None:
    for check_id, function in PER_LIMITER.items():

        def run(context: CheckContext, check_id: str = check_id) -> CheckResult:
            return for_limiters(check_id, context, BUILTIN_LIMITERS)

        run.__doc__ = f"{(function.__doc__ or check_id).strip()} (built-in limiters)"
        check(check_id, safe=check_id not in _UNSAFE)(run)


_register_builtin_checks()
