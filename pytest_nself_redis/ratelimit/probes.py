"""Measurements the ratelimit checks make: greedy probes on an injected clock, the largest
count in any window-long span, token-bucket bounds, and many callers at once.

All numbers are kept so the suite can report them, not only pass or fail.
"""

from __future__ import annotations

import bisect
import multiprocessing
import queue
import signal
import threading
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import redis

from pytest_nself_redis.live.clients import clone
from pytest_nself_redis.ratelimit.base import Limiter, LimiterSpec, ManualClock


def greedy(limiter: Limiter, key: str, clock: ManualClock, at_us: int, cap: int) -> int:
    """Hit at ``at_us`` until denied (at most ``cap`` hits); how many were allowed."""
    clock.set_us(at_us)
    allowed = 0
    while allowed < cap and limiter.hit(key).allowed:
        allowed += 1
    return allowed


@dataclass(frozen=True)
class Span:
    count: int
    start_us: int
    end_us: int


def max_in_span(times_us: Sequence[int], span_us: int) -> Span:
    """The most allowed hits in any half-open span ``(t - span, t]``, and where."""
    ordered = sorted(times_us)
    best = Span(0, 0, 0)
    for index, end in enumerate(ordered):
        # the last hit at this instant closes the span
        if index + 1 < len(ordered) and ordered[index + 1] == end:
            continue
        first = bisect.bisect_right(ordered, end - span_us)
        count = index + 1 - first
        if count > best.count:
            best = Span(count, end - span_us, end)
    return best


def count_in(times_us: Sequence[int], start_us: int, end_us: int) -> int:
    """Allowed hits with ``start < t <= end``."""
    return sum(1 for t in times_us if start_us < t <= end_us)


@dataclass
class WindowProbe:
    """Hits against a window limiter around one boundary ``b = t0 + W`` (t0 a multiple of W):
    one hit at t0 opens the window, then greedy hits at b - 2s, b - s, b, b + s, ... up to
    t0 + 3W (s = W / 20). A fixed window shows its burst here: N - 1 just before b and N at b.
    """

    limit: int
    window_us: int
    step_us: int
    boundary_us: int
    allowed_at: list[int] = field(default_factory=list)

    @property
    def max_span(self) -> Span:
        return max_in_span(self.allowed_at, self.window_us)

    @property
    def across_boundary(self) -> int:
        """Allowed in the window-long span centred on the boundary."""
        half = self.window_us // 2
        return count_in(self.allowed_at, self.boundary_us - half, self.boundary_us + half)

    @property
    def at_boundary(self) -> int:
        """Allowed within a fifth of a window around the boundary, (b - 3s, b + s]."""
        return count_in(self.allowed_at, self.boundary_us - 3 * self.step_us, self.boundary_us + self.step_us)

    def measured(self) -> dict[str, Any]:
        span = self.max_span
        return {
            "N": self.limit,
            "window_s": self.window_us / 1e6,
            "allowed_total": len(self.allowed_at),
            "across_boundary": self.across_boundary,
            "at_boundary": self.at_boundary,
            "max_in_one_window": span.count,
            "max_span_s": [round(span.start_us / 1e6, 6), round(span.end_us / 1e6, 6)],
        }


def probe_window(limiter: Limiter, key: str, clock: ManualClock, limit: int, window_us: int) -> WindowProbe:
    t0 = -(-clock.now_us() // window_us) * window_us
    step = window_us // 20
    probe = WindowProbe(limit, window_us, step, t0 + window_us)
    schedule = [(t0, 1), *((t0 + window_us + k * step, limit + 1) for k in range(-2, 41))]
    for at_us, cap in schedule:
        probe.allowed_at.extend([at_us] * greedy(limiter, key, clock, at_us, cap))
    return probe


@dataclass
class BucketProbe:
    """Greedy hits on a token bucket (capacity B, r = N/W): a full burst at t0, greedy every
    W/20 for 2W, then after 3W idle another burst. Checked: every interval [a, b] holds at most
    B + r(b - a) allowed hits; over the first 2W the rate beyond the first burst is <= r."""

    capacity: int
    window_us: int
    t0_us: int
    allowed_at: list[int] = field(default_factory=list)
    steady_end_us: int = 0

    def rate_bound(self, seconds_us: int) -> Fraction:
        return self.capacity + Fraction(seconds_us * self.capacity, self.window_us)

    def worst_interval(self) -> tuple[int, Fraction, int, int]:
        """(allowed, bound, start, end) of the interval closest to (or over) its bound."""
        per_instant = sorted(Counter(self.allowed_at).items())
        worst: tuple[int, Fraction, int, int] = (0, Fraction(1), 0, 0)
        worst_ratio = Fraction(-1)
        for i, (start, _) in enumerate(per_instant):
            total = 0
            for end, count in per_instant[i:]:
                total += count
                bound = self.rate_bound(end - start)
                ratio = Fraction(total) / bound
                if ratio > worst_ratio:
                    worst_ratio, worst = ratio, (total, bound, start, end)
        return worst

    def long_run_rate(self) -> Fraction:
        """Allowed per second after the first burst, over the steady phase (t0, steady_end]."""
        after_burst = count_in(self.allowed_at, self.t0_us, self.steady_end_us)
        return Fraction(after_burst * 1_000_000, self.steady_end_us - self.t0_us)

    def measured(self) -> dict[str, Any]:
        allowed, bound, start, end = self.worst_interval()
        return {
            "B": self.capacity,
            "rate_per_s": round(self.capacity * 1e6 / self.window_us, 6),
            "allowed_total": len(self.allowed_at),
            "worst_interval_s": [round((start - self.t0_us) / 1e6, 6), round((end - self.t0_us) / 1e6, 6)],
            "worst_interval_allowed": allowed,
            "worst_interval_bound": round(float(bound), 6),
            "long_run_rate_per_s": round(float(self.long_run_rate()), 6),
        }


def probe_bucket(
    limiter: Limiter, key: str, clock: ManualClock, capacity: int, window_us: int
) -> BucketProbe:
    t0 = clock.now_us()
    step = window_us // 20
    probe = BucketProbe(capacity, window_us, t0)
    schedule = [t0, *(t0 + k * step for k in range(1, 41))]
    probe.steady_end_us = schedule[-1]
    schedule.append(probe.steady_end_us + 3 * window_us)
    for at_us in schedule:
        probe.allowed_at.extend([at_us] * greedy(limiter, key, clock, at_us, capacity + 1))
    return probe


# -- many callers at once ---------------------------------------------------------------


@dataclass
class HammerResult:
    threads: int
    processes: int
    threads_per_process: int
    hits_per_caller: int
    allowed: int = 0
    denied: int = 0
    finished: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    started_together: bool = True

    @property
    def callers(self) -> int:
        return self.threads + self.processes * self.threads_per_process

    @property
    def attempts(self) -> int:
        return self.callers * self.hits_per_caller

    def count(self, message: tuple[Any, ...]) -> None:
        """Add one caller's ``done`` message (label, allowed, denied, error)."""
        _, label, allowed, denied, error = message
        self.allowed += allowed
        self.denied += denied
        if error:
            self.errors.append(f"{label}: {error}")

    def measured(self) -> dict[str, Any]:
        return {
            "threads": self.threads,
            "processes": self.processes,
            "threads_per_process": self.threads_per_process,
            "callers": self.callers,
            "attempts": self.attempts,
            "allowed": self.allowed,
            "denied": self.denied,
            "errors": len(self.errors),
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class _Job:
    spec: LimiterSpec
    client: redis.Redis
    namespace: str
    key: str
    limit: int
    window: float
    now_us: int
    hits: int
    timeout: float


def _caller(job: _Job, label: str, go: Any, results: Any) -> None:
    """One client: connect, build its own limiter, wait for the start, hit, report."""
    allowed = denied = 0
    ready = False
    try:
        client = clone(job.client, max_connections=1)
        client.ping()
        clock = ManualClock()
        clock.set_us(job.now_us)
        limiter = job.spec(client, namespace=job.namespace, limit=job.limit, window=job.window, clock=clock)
        results.put(("ready", label))
        ready = True
        if not go.wait(job.timeout):
            raise TimeoutError("the start signal never came")
        for _ in range(job.hits):
            if limiter.hit(job.key).allowed:
                allowed += 1
            else:
                denied += 1
        client.close()
        results.put(("done", label, allowed, denied, None))
    except Exception as error:
        if not ready:
            results.put(("ready", label))
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        results.put(("done", label, allowed, denied, detail))


def _process_main(job: _Job, process_index: int, threads: int, go: Any, results: Any) -> None:
    # A forked child must not run the parent's cleanup on a signal: plain defaults here.
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, signal.SIG_DFL)
    workers = [
        threading.Thread(target=_caller, args=(job, f"p{process_index}t{n}", go, results), daemon=True)
        for n in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(job.timeout)


def hammer(
    spec: LimiterSpec,
    client: redis.Redis,
    *,
    namespace: str,
    key: str,
    limit: int,
    window: float,
    now_us: int,
    threads: int = 50,
    processes: int = 4,
    threads_per_process: int = 10,
    hits_per_caller: int = 2,
    timeout: float = 30.0,
) -> HammerResult:
    """``threads`` threads here plus ``processes`` forked processes (each with
    ``threads_per_process`` threads), every caller with its own connection and limiter,
    all released at once to hit one key ``hits_per_caller`` times. The clock is frozen
    at ``now_us`` so no refill or window change can excuse an extra allowed hit. The
    processes are forked (POSIX): they inherit the limiter spec, whatever it is."""
    if "fork" not in multiprocessing.get_all_start_methods():  # e.g. Windows: threads only
        processes = 0
    result = HammerResult(threads, processes, threads_per_process, hits_per_caller)
    job = _Job(spec, client, namespace, key, limit, window, now_us, hits_per_caller, timeout)
    context = multiprocessing.get_context("fork")
    go = context.Event()
    results: Any = context.Queue()
    children = [
        context.Process(
            target=_process_main, args=(job, index, threads_per_process, go, results), daemon=True
        )
        for index in range(processes)
    ]
    workers = [
        threading.Thread(target=_caller, args=(job, f"t{n}", go, results), daemon=True)
        for n in range(threads)
    ]
    deadline = time.monotonic() + timeout
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
            for child in children:  # fork before this process starts its own threads
                child.start()
        for worker in workers:
            worker.start()
        ready = _collect(results, "ready", result.callers, deadline, lambda message: None)
        result.started_together = ready == result.callers
        started = time.monotonic()
        go.set()
        result.finished = _collect(results, "done", result.callers, deadline, result.count)
        result.seconds = time.monotonic() - started
        if result.finished < result.callers:
            missing = result.callers - result.finished
            result.errors.append(
                f"{missing} of {result.callers} callers did not finish within {timeout:.0f} s"
            )
    finally:
        go.set()
        _reap(workers, children, results, deadline)
    return result


def _reap(workers: list[threading.Thread], children: list[Any], results: Any, deadline: float) -> None:
    """Join every caller (killing a process that outlives the deadline) and drop the queue."""
    for worker in workers:
        worker.join(max(0.1, deadline - time.monotonic()))
    for child in children:
        child.join(max(0.1, deadline - time.monotonic()))
        if child.is_alive():
            child.kill()
            child.join(5)
    # never block on a feeder thread: whatever is unread is no longer needed
    results.cancel_join_thread()
    results.close()


def _collect(
    results: Any, kind: str, expected: int, deadline: float, record: Callable[[tuple[Any, ...]], None]
) -> int:
    seen = 0
    pending: list[tuple[Any, ...]] = []
    while seen < expected:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            message = results.get(timeout=min(remaining, 1.0))
        except queue.Empty:
            continue
        if message[0] == kind:
            seen += 1
            record(message)
        else:
            pending.append(message)
    for message in pending:  # a fast caller's "done" can overtake another's "ready"
        results.put(message)
    return seen
