"""What every limiter shares: decisions, clocks, the limiter protocol and its spec.

Time is whole microseconds everywhere inside (Redis ``TIME`` has that resolution),
so limiters, models and checks agree exactly at window boundaries; seconds appear
only at the edges (``Decision.retry_after``, ``window=``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal, NotRequired, Protocol, TypedDict, Unpack, runtime_checkable

import redis

MICROS = 1_000_000
NEVER = -1
"""What a script returns for ``retry_after`` when the request can never pass (cost > limit)."""

LimiterKind = Literal["fixed", "sliding", "approximate", "bucket"]
KINDS: tuple[LimiterKind, ...] = ("fixed", "sliding", "approximate", "bucket")
"""fixed: a window that restarts (bursts up to 2N across its boundary are its known weakness);
sliding: at most N in any window-long span; approximate: a weighted estimate of a sliding
window (no 2N burst at the boundary, but more than N in one span is possible); bucket: a
token bucket with capacity N refilled at N per window."""

Clock = Callable[[], float]
"""An injected clock: seconds since the epoch. ``None`` wherever a clock is taken means
Redis ``TIME`` (read inside the script, so every caller shares the server's clock)."""


def to_micros(seconds: float) -> int:
    """Seconds to whole microseconds, exactly for decimal inputs such as 0.2 or 60."""
    return round(Fraction(str(seconds)) * MICROS)


def clock_micros(clock: Clock) -> int:
    """An injected clock's reading in microseconds (exact for a ``ManualClock``)."""
    exact = getattr(clock, "now_us", None)
    if callable(exact):
        return int(exact())
    return round(clock() * MICROS)


class ManualClock:
    """A clock that moves only when told: tests jump over windows instead of sleeping."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now_us = to_micros(start)

    def __call__(self) -> float:
        return self._now_us / MICROS

    def now_us(self) -> int:
        return self._now_us

    def set_us(self, micros: int) -> None:
        self._now_us = micros

    def advance(self, seconds: float) -> None:
        self._now_us += to_micros(seconds)

    def advance_us(self, micros: int) -> None:
        self._now_us += micros

    def __repr__(self) -> str:
        return f"ManualClock(now_us={self._now_us})"


@dataclass(frozen=True)
class Decision:
    """One hit's answer.

    ``remaining``: hits of cost 1 still allowed now; ``retry_after``: seconds until this
    same request would pass if nothing else happened (0 when allowed, ``inf`` when it
    never can: cost above the limit); ``reset_after``: seconds until the key is back to
    its full limit.
    """

    allowed: bool
    remaining: int
    retry_after: float
    reset_after: float

    @classmethod
    def from_micros(cls, allowed: bool, remaining: int, retry_us: int, reset_us: int) -> Decision:
        retry = math.inf if retry_us == NEVER else retry_us / MICROS
        reset = math.inf if reset_us == NEVER else reset_us / MICROS
        return cls(bool(allowed), int(remaining), retry, reset)

    @classmethod
    def from_reply(cls, reply: Any) -> Decision:
        """A script's ``{allowed, remaining, retry_us, reset_us}``."""
        allowed, remaining, retry_us, reset_us = (int(value) for value in reply)
        return cls.from_micros(allowed == 1, remaining, retry_us, reset_us)

    @property
    def retry_after_us(self) -> int:
        return NEVER if math.isinf(self.retry_after) else round(self.retry_after * MICROS)

    @property
    def reset_after_us(self) -> int:
        return NEVER if math.isinf(self.reset_after) else round(self.reset_after * MICROS)


@runtime_checkable
class Limiter(Protocol):
    """What the ratelimit suite drives: ``hit`` decides and records, ``reset`` forgets a key.

    ``limit`` is N and ``window`` W in seconds (for a token bucket: capacity N, refilled at
    N per W). Every Redis key a limiter writes must start with its namespace and carry a TTL.
    """

    limit: int
    window: float

    def hit(self, key: str, cost: int = 1) -> Decision: ...

    def reset(self, key: str) -> None: ...


class Built(TypedDict):
    """What a limiter is built for: its key namespace, N, W in seconds and the clock (Redis
    ``TIME`` when none is given)."""

    namespace: str
    limit: int
    window: float
    clock: NotRequired[Clock | None]


class LimiterBuilder(Protocol):
    def __call__(self, client: redis.Redis, **built: Unpack[Built]) -> Limiter: ...


@dataclass(frozen=True)
class LimiterSpec:
    """A limiter the suite can check: how to build one for (N, W), and what kind it is.

    ``ttl_windows``: the longest TTL any of its keys needs, in windows (a sliding-window
    counter keeps the current window for two windows, the others need one).
    """

    name: str
    kind: LimiterKind
    build: LimiterBuilder
    ttl_windows: float = 1.0
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"limiter {self.name!r}: kind must be one of {', '.join(KINDS)}, not {self.kind!r}"
            )
        if not self.name or any(ch.isspace() for ch in self.name):
            raise ValueError(f"limiter name {self.name!r} must be a non-empty word (it names tests)")

    def __call__(self, client: redis.Redis, **built: Unpack[Built]) -> Limiter:
        built.setdefault("clock", None)  # a builder is always told its clock (None: Redis TIME)
        return self.build(client, **built)


def validate_contract(limit: int, window: float) -> int:
    """Check N and W; return W in microseconds (at least a millisecond, Redis's TTL unit)."""
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValueError(f"limit must be a whole number of requests >= 1, not {limit!r}")
    window_us = to_micros(window)
    if window_us < 1000:
        raise ValueError(f"window must be at least 0.001 s, not {window!r}")
    return window_us


def validate_cost(cost: int) -> None:
    if not isinstance(cost, int) or isinstance(cost, bool) or cost < 1:
        raise ValueError(f"cost must be a whole number >= 1, not {cost!r}")
