"""The limiters' plumbing on a real Redis: EVALSHA and NOSCRIPT, exact integers at large
values, nself's key formats, validation, loading user limiters, and the probe arithmetic."""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path
from typing import Any

import pytest
import redis

from pytest_nself_redis.checks import CheckContext
from pytest_nself_redis.checks import ratelimit as checks
from pytest_nself_redis.ratelimit import (
    BUILTIN_LIMITERS,
    Clock,
    Limiter,
    LimiterLoadError,
    LimiterSpec,
    ManualClock,
    NselfFixedWindow,
    NselfSlidingWindow,
    SlidingWindowCounter,
    SlidingWindowLog,
    TokenBucket,
    as_specs,
    load_limiters,
)
from pytest_nself_redis.ratelimit.model import model_of
from pytest_nself_redis.ratelimit.probes import count_in, max_in_span
from pytest_nself_redis.targets.base import Target


def test_scripts_run_by_evalsha_and_reload_once_after_script_flush(limiter_redis: redis.Redis) -> None:
    limiter = SlidingWindowLog(limiter_redis, limit=5, window=60, namespace="t:")
    limiter.hit("warm")  # loaded (once) if this process had not loaded it yet
    limiter_redis.config_resetstat()
    loads = SlidingWindowLog.script.loads
    limiter_redis.script_flush()
    assert limiter.hit("k").allowed
    assert SlidingWindowLog.script.loads == loads + 1
    for _ in range(5):
        limiter.hit("k")
    assert SlidingWindowLog.script.loads == loads + 1
    stats = limiter_redis.info("commandstats")
    assert stats["cmdstat_evalsha"]["calls"] == 7  # one NOSCRIPT, then six runs
    assert "cmdstat_eval" not in stats
    assert stats["cmdstat_script|load"]["calls"] == 1


@pytest.mark.parametrize("spec", BUILTIN_LIMITERS, ids=[spec.name for spec in BUILTIN_LIMITERS])
def test_integers_stay_exact_at_large_values(limiter_redis: redis.Redis, spec: LimiterSpec) -> None:
    """A day-long window, N = 5000, timestamps ~1.7e15 us: the Lua doubles stay exact."""
    clock = ManualClock(start=1_999_999_999.999999)
    limiter = spec(limiter_redis, namespace="big:", limit=5000, window=86_400, clock=clock)
    assert isinstance(limiter, TokenBucket | SlidingWindowLog | SlidingWindowCounter | NselfFixedWindow)
    model = model_of(limiter)
    rng = random.Random(7)
    for _ in range(300):
        if rng.random() < 0.3:
            clock.advance_us(rng.choice([1, 86_399_999_999, 43_200_000_000, rng.randrange(10**11)]))
        cost = rng.choice([1, 7, 999, 2500, 5001])
        assert limiter.hit("k", cost) == model.hit("k", clock.now_us(), cost)


def test_nself_limiters_write_nselfs_key_formats(limiter_server: Target, limiter_redis: redis.Redis) -> None:
    """With the empty namespace the nself limiters write exactly what nself writes (docs/nself.md)."""
    fixed = NselfFixedWindow(limiter_redis, limit=10, window=60)
    sliding = NselfSlidingWindow(limiter_redis, limit=10, window=60)
    fixed.hit("login:203.0.113.7")
    sliding.hit("login:203.0.113.7")
    sliding.hit("login:203.0.113.7")
    assert sorted(limiter_redis.keys("*")) == [
        "ratelimit:login:203.0.113.7",
        "ratelimit:sliding:login:203.0.113.7",
    ]
    assert limiter_redis.get("ratelimit:login:203.0.113.7") == "9"  # max - 1
    assert 59_000 < limiter_redis.pttl("ratelimit:login:203.0.113.7") <= 60_000
    members = limiter_redis.zrange("ratelimit:sliding:login:203.0.113.7", 0, -1, withscores=True)
    assert len({member for member, _ in members}) == 2  # unique members
    now_ms = limiter_redis.time()[0] * 1000
    assert all(abs(score - now_ms) < 5000 for _, score in members)  # scored now, in milliseconds
    context = CheckContext.of(limiter_server, limiter_redis)
    result = checks.deployment_keys(context)
    assert result.status.value == "ok", result.message
    assert "2 key(s), each with a TTL within it" in result.message


def test_cost_above_the_limit_can_never_pass(limiter_redis: redis.Redis) -> None:
    for spec in BUILTIN_LIMITERS:
        limiter = spec(limiter_redis, namespace="cost:", limit=3, window=60, clock=ManualClock())
        decision = limiter.hit(f"{spec.name}", 4)
        assert not decision.allowed
        assert math.isinf(decision.retry_after), spec.name
        assert limiter.hit(f"{spec.name}", 3).allowed, spec.name  # nothing was taken


def test_token_bucket_from_a_rate(limiter_redis: redis.Redis) -> None:
    clock = ManualClock()
    bucket = TokenBucket(limiter_redis, capacity=4, rate=2.0, namespace="rate:", clock=clock)
    assert (bucket.interval_us, bucket.window) == (500_000, 2.0)
    assert [bucket.hit("k").allowed for _ in range(5)] == [True] * 4 + [False]
    assert bucket.hit("k").retry_after == 0.5
    clock.advance(0.5)
    assert bucket.hit("k").allowed
    # the interval is whole microseconds, rounded up (float noise below a nanosecond ignored)
    assert TokenBucket(limiter_redis, capacity=1, rate=1 / 3).interval_us == 3_000_000
    assert TokenBucket.per_window(limiter_redis, limit=7, window=60).interval_us == 8_571_429


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0, "window": 60}, "limit must be"),
        ({"limit": 5, "window": 0.0001}, "window must be"),
        ({"limit": 2.5, "window": 60}, "limit must be"),
    ],
)
def test_contract_values_are_validated(
    limiter_redis: redis.Redis, kwargs: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        SlidingWindowLog(limiter_redis, **kwargs)  # type: ignore[arg-type]


def test_cost_is_validated(limiter_redis: redis.Redis) -> None:
    with pytest.raises(ValueError, match="cost must be"):
        SlidingWindowLog(limiter_redis, limit=3, window=1).hit("k", 0)


# -- loading a user's limiter ----------------------------------------------------------------------


def test_load_limiters_by_import_path() -> None:
    specs = load_limiters("tests.ratelimit.broken:OFF_BY_ONE_SPEC")
    assert [spec.name for spec in specs] == ["off-by-one"]
    assert len(load_limiters("tests.ratelimit.broken:BROKEN_LIMITERS")) == 7


def test_load_limiters_searches_the_given_dirs(tmp_path: Path) -> None:
    (tmp_path / "my_limits_mod.py").write_text(
        "from pytest_nself_redis.ratelimit import SlidingWindowLog\n"
        "class Mine(SlidingWindowLog):\n"
        "    name = 'mine'\n"
        "    kind = 'sliding'\n"
    )
    try:
        (spec,) = load_limiters("my_limits_mod:Mine", search=[tmp_path])
        assert (spec.name, spec.kind) == ("mine", "sliding")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("my_limits_mod", None)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("no_colon", "expected MODULE:NAME"),
        ("no_such_module_xyz:thing", "cannot import 'no_such_module_xyz'"),
        ("tests.ratelimit.broken:nothing", "has no attribute 'nothing'"),
        ("tests.ratelimit.broken:SKEW_SECONDS", "is not a limiter"),
        ("tests.ratelimit.broken:NonAtomicWindow", "has no 'kind' attribute"),
    ],
)
def test_load_limiters_says_what_is_wrong(path: str, message: str) -> None:
    with pytest.raises(LimiterLoadError, match=message):
        load_limiters(path)


def test_as_specs_rejects_an_unknown_kind() -> None:
    class Odd:
        name = "odd"
        kind = "leaky"

        def __call__(self) -> None: ...

    with pytest.raises(LimiterLoadError, match="kind must be one of"):
        as_specs(Odd(), "test")


# -- probe arithmetic --------------------------------------------------------------------------------


def test_max_in_span_counts_half_open_spans() -> None:
    times = [0, 0, 10, 60, 60, 61]
    assert max_in_span(times, 60).count == 4  # (1, 61] holds 10, 60, 60, 61
    assert max_in_span(times, 61).count == 5  # (-1, 60]
    assert max_in_span(times, 62).count == 6
    assert max_in_span([0, 60], 60).count == 1  # exactly a window apart: never in one span
    assert max_in_span([], 60).count == 0
    assert count_in(times, 0, 60) == 3


def test_a_spec_tells_its_builder_the_clock_also_when_the_caller_gives_none(
    limiter_redis: redis.Redis,
) -> None:
    """A user's builder may take ``clock`` without a default: the spec passes None (Redis TIME)."""
    told: list[dict[str, object]] = []

    def build(
        client: redis.Redis, *, namespace: str, limit: int, window: float, clock: Clock | None
    ) -> Limiter:
        told.append({"namespace": namespace, "limit": limit, "window": window, "clock": clock})
        return SlidingWindowLog(client, limit=limit, window=window, namespace=namespace, clock=clock)

    untyped: Any = build  # as a user's module hands it over, unchecked
    spec = LimiterSpec("told", "sliding", untyped)
    limiter = spec(limiter_redis, namespace="told:", limit=2, window=1)
    manual = ManualClock()
    spec(limiter_redis, namespace="told:", limit=2, window=1, clock=manual)
    assert told == [
        {"namespace": "told:", "limit": 2, "window": 1, "clock": None},
        {"namespace": "told:", "limit": 2, "window": 1, "clock": manual},
    ]
    assert limiter.hit("k").allowed
    limiter.reset("k")
