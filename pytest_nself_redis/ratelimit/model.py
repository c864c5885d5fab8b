"""Pure-Python models of the built-in limiters, with explicit timestamps.

Written from the algorithms' definitions, not from the Lua: the token bucket counts
fractional tokens (``Fraction``) where the script keeps a GCRA arrival time, the
sliding-window counter weighs with fractions where the script cross-multiplies. The
model-checking tests drive a limiter and its model with the same hits and time jumps
and require identical decisions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Protocol

from pytest_nself_redis.ratelimit.base import NEVER, Decision, validate_cost
from pytest_nself_redis.ratelimit.limiters import (
    NselfFixedWindow,
    NselfSlidingWindow,
    ScriptLimiter,
    SlidingWindowCounter,
    SlidingWindowLog,
    TokenBucket,
)


class LimiterModel(Protocol):
    def hit(self, key: str, now_us: int, cost: int = 1) -> Decision: ...

    def reset(self, key: str) -> None: ...


def _whole(value: Fraction) -> int:
    """A quantity the algorithm guarantees to be whole microseconds."""
    if value.denominator != 1:
        raise AssertionError(f"expected whole microseconds, got {value}")
    return int(value)


@dataclass
class TokenBucketModel:
    """Tokens refill continuously at one per ``interval_us`` up to ``capacity``."""

    capacity: int
    interval_us: int
    state: dict[str, tuple[Fraction, int]] = field(default_factory=dict)

    def tokens(self, key: str, now_us: int) -> Fraction:
        if key not in self.state:
            return Fraction(self.capacity)
        tokens, at = self.state[key]
        return min(Fraction(self.capacity), tokens + Fraction(now_us - at, self.interval_us))

    def hit(self, key: str, now_us: int, cost: int = 1) -> Decision:
        validate_cost(cost)
        tokens = self.tokens(key, now_us)

        def until_full(level: Fraction) -> int:
            return _whole((self.capacity - level) * self.interval_us)

        if cost > self.capacity:
            return Decision.from_micros(False, math.floor(tokens), NEVER, until_full(tokens))
        if tokens >= cost:
            tokens -= cost
            self.state[key] = (tokens, now_us)
            return Decision.from_micros(True, math.floor(tokens), 0, until_full(tokens))
        retry = _whole((cost - tokens) * self.interval_us)
        return Decision.from_micros(False, math.floor(tokens), retry, until_full(tokens))

    def reset(self, key: str) -> None:
        self.state.pop(key, None)


@dataclass
class SlidingLogModel:
    """Allowed hits are remembered; one at ``s`` counts while ``now - s < window``.
    Times are kept in ``unit_us`` (1: microseconds; nself's sliding window: milliseconds)."""

    limit: int
    window_us: int
    unit_us: int = 1
    state: dict[str, list[int]] = field(default_factory=dict)

    def hit(self, key: str, now_us: int, cost: int = 1) -> Decision:
        validate_cost(cost)
        now, window, unit = now_us // self.unit_us, self.window_us // self.unit_us, self.unit_us
        hits = sorted(s for s in self.state.get(key, []) if now - s < window)
        self.state[key] = hits
        count = len(hits)
        until_empty = (hits[-1] + window - now) * unit if hits else 0
        if cost > self.limit:
            return Decision.from_micros(False, self.limit - count, NEVER, until_empty)
        if count + cost <= self.limit:
            hits.extend([now] * cost)
            return Decision.from_micros(True, self.limit - count - cost, 0, window * unit)
        must_leave = hits[count + cost - self.limit - 1]
        return Decision.from_micros(
            False, self.limit - count, (must_leave + window - now) * unit, until_empty
        )

    def reset(self, key: str) -> None:
        self.state.pop(key, None)


@dataclass
class SlidingCounterModel:
    """Counts per aligned window; estimate = previous count x the share of the previous
    window still inside the sliding window + current count."""

    limit: int
    window_us: int
    state: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    def _counts(self, key: str, now_us: int) -> tuple[int, int, int, int]:
        """(window index, now, previous count, current count) as seen at ``now_us``."""
        index = now_us // self.window_us
        if key not in self.state:
            return index, now_us, 0, 0
        stored, prev, curr = self.state[key]
        if index < stored:  # a clock behind the stored window: its start
            return stored, stored * self.window_us, prev, curr
        if index == stored:
            return index, now_us, prev, curr
        if index == stored + 1:
            return index, now_us, curr, 0
        return index, now_us, 0, 0

    def hit(self, key: str, now_us: int, cost: int = 1) -> Decision:
        validate_cost(cost)
        window = self.window_us
        index, now, prev, curr = self._counts(key, now_us)
        start = index * window
        weight = Fraction(window - (now - start), window)

        def remaining(current: int) -> int:
            return max(0, math.floor(self.limit - prev * weight - current))

        def until_reset(current: int) -> int:
            if current:
                return start + 2 * window - now
            return start + window - now if prev else 0

        if cost > self.limit:
            return Decision.from_micros(False, remaining(curr), NEVER, until_reset(curr))
        if prev * weight + curr + cost <= self.limit:
            curr += cost
            self.state[key] = (index, prev, curr)
            return Decision.from_micros(True, remaining(curr), 0, until_reset(curr))
        return Decision.from_micros(
            False, remaining(curr), self._retry(now - start, prev, curr, cost), until_reset(curr)
        )

    def _retry(self, elapsed: int, prev: int, curr: int, cost: int) -> int:
        """Earliest wait after which prev x weight + curr + cost <= limit, nothing else happening."""
        window, room = self.window_us, self.limit - curr - cost
        if room >= 0 and prev:
            # prev * (window - e) / window <= room  <=>  e >= window - room * window / prev
            needed = math.ceil(window - Fraction(room * window, prev))
            if needed < window:
                return needed - elapsed
        # next window: the current count becomes the weighted one
        next_elapsed = 0
        if curr:
            next_elapsed = max(0, math.ceil(window - Fraction((self.limit - cost) * window, curr)))
        return window - elapsed + next_elapsed

    def reset(self, key: str) -> None:
        self.state.pop(key, None)


@dataclass
class CountdownModel:
    """nself's fixed window: the first hit opens a window of ``window_us`` with limit - cost
    left; later hits take from what is left; nothing comes back before the window ends."""

    limit: int
    window_us: int
    state: dict[str, tuple[int, int]] = field(default_factory=dict)

    def hit(self, key: str, now_us: int, cost: int = 1) -> Decision:
        validate_cost(cost)
        current = self.state.get(key)
        if current is not None and now_us >= current[1]:
            current = None
        left = current[1] - now_us if current else 0
        if cost > self.limit:
            return Decision.from_micros(False, current[0] if current else self.limit, NEVER, left)
        if current is None:
            self.state[key] = (self.limit - cost, now_us + self.window_us)
            return Decision.from_micros(True, self.limit - cost, 0, self.window_us)
        remaining, ends = current
        if remaining >= cost:
            self.state[key] = (remaining - cost, ends)
            return Decision.from_micros(True, remaining - cost, 0, left)
        return Decision.from_micros(False, remaining, left, left)

    def reset(self, key: str) -> None:
        self.state.pop(key, None)


def model_of(limiter: ScriptLimiter) -> LimiterModel:
    """The model of a built-in limiter, with its parameters."""
    if isinstance(limiter, TokenBucket):
        return TokenBucketModel(limiter.capacity, limiter.interval_us)
    if isinstance(limiter, NselfSlidingWindow):
        return SlidingLogModel(limiter.limit, limiter.window_us, unit_us=1000)
    if isinstance(limiter, SlidingWindowLog):
        return SlidingLogModel(limiter.limit, limiter.window_us)
    if isinstance(limiter, SlidingWindowCounter):
        return SlidingCounterModel(limiter.limit, limiter.window_us)
    if isinstance(limiter, NselfFixedWindow):
        return CountdownModel(limiter.limit, limiter.window_us)
    raise TypeError(f"no model for {type(limiter).__name__}")
