"""Model checking: each built-in limiter on a real Redis against its pure-Python model.

A Hypothesis state machine hits keys with costs from 1 to above the limit, jumps an
injected clock (by a microsecond, exactly a window, just short of one, to the next window
boundary, or at random), and resets keys; every decision (allowed, remaining,
retry_after, reset_after) must equal the model's. Bounded and deadline-free, so it stays
quick and stable on a busy machine.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from pytest_nself_redis.ratelimit import BUILTIN_LIMITERS, LimiterSpec, ManualClock, ScriptLimiter
from pytest_nself_redis.ratelimit.model import LimiterModel, model_of

KEYS = st.sampled_from(["a", "b", "c"])
# windows of at least 10 s: keys get real TTLs of a window or two, far longer than an example
CONTRACTS = [(3, 60.0), (7, 12.5)]
RUN = settings(
    max_examples=25,
    stateful_step_count=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def machine_for(
    spec: LimiterSpec, client: redis.Redis, limit: int, window: float
) -> type[RuleBasedStateMachine]:
    class LimiterMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.clock = ManualClock()
            self.namespace = f"mc:{secrets.token_hex(4)}:"
            limiter = spec(client, namespace=self.namespace, limit=limit, window=window, clock=self.clock)
            assert isinstance(limiter, ScriptLimiter)
            self.limiter: ScriptLimiter = limiter
            self.model: LimiterModel = model_of(limiter)
            self.window_us = limiter.window_us
            self.log: list[str] = []

        @rule(key=KEYS, cost=st.integers(1, limit + 2))
        def hit(self, key: str, cost: int) -> None:
            now = self.clock.now_us()
            got = self.limiter.hit(key, cost)
            want = self.model.hit(key, now, cost)
            self.log.append(f"hit({key}, cost={cost}) at {now}: {got}")
            assert got == want, f"{spec.name}: Redis said {got}, the model {want}; history: {self.log[-8:]}"

        @rule(jump=st.sampled_from(["1us", "1ms", "window-1us", "window", "window+1us", "half", "two"]))
        def tick(self, jump: str) -> None:
            w = self.window_us
            step = {"1us": 1, "1ms": 1000, "window-1us": w - 1, "window": w, "window+1us": w + 1}.get(jump)
            self.clock.advance_us(step if step is not None else (w // 2 if jump == "half" else 2 * w))
            self.log.append(f"advance {jump}")

        @rule(micros=st.integers(0, 3_000_000_000))
        def wait(self, micros: int) -> None:
            self.clock.advance_us(micros % (3 * self.window_us))
            self.log.append(f"advance {micros % (3 * self.window_us)} us")

        @rule()
        def to_next_boundary(self) -> None:
            w = self.window_us
            self.clock.set_us((self.clock.now_us() // w + 1) * w)
            self.log.append("advance to the next window boundary")

        @rule(key=KEYS)
        def reset(self, key: str) -> None:
            self.limiter.reset(key)
            self.model.reset(key)
            self.log.append(f"reset({key})")

        @invariant()
        def keys_stay_in_the_namespace_with_ttls(self) -> None:
            for name in client.scan_iter(match=f"{self.namespace}*", count=1000):
                ttl = client.pttl(name)
                assert 0 < ttl <= 2 * self.window_us // 1000, f"{name} PTTL={ttl}"

        def teardown(self) -> None:
            names = list(client.scan_iter(match=f"{self.namespace}*", count=1000))
            if names:
                client.delete(*names)

    LimiterMachine.__name__ = f"{spec.name.title().replace('-', '')}Machine"
    return LimiterMachine


@pytest.mark.parametrize(("limit", "window"), CONTRACTS, ids=[f"N{n}-W{w:g}" for n, w in CONTRACTS])
@pytest.mark.parametrize("spec", BUILTIN_LIMITERS, ids=[spec.name for spec in BUILTIN_LIMITERS])
def test_limiter_matches_its_model(
    limiter_redis: redis.Redis, spec: LimiterSpec, limit: int, window: float
) -> None:
    run_state_machine_as_test(machine_for(spec, limiter_redis, limit, window), settings=RUN)


def test_a_wrong_model_is_caught(limiter_redis: redis.Redis) -> None:
    """The machine can fail: a sliding-window log checked against the fixed-window model
    (no shrinking: finding the disagreement is the point)."""
    from pytest_nself_redis.ratelimit import NSELF_FIXED_SPEC, SLIDING_LOG_SPEC

    wrong = LimiterSpec("log-as-fixed", "sliding", SLIDING_LOG_SPEC.build)
    machine: Any = machine_for(wrong, limiter_redis, 3, 60.0)
    original_init = machine.__init__

    def init(self: Any) -> None:
        original_init(self)
        fixed = NSELF_FIXED_SPEC(
            limiter_redis, namespace=self.namespace, limit=3, window=60.0, clock=self.clock
        )
        assert isinstance(fixed, ScriptLimiter)
        self.model = model_of(fixed)

    machine.__init__ = init
    with pytest.raises(AssertionError, match="the model"):
        run_state_machine_as_test(
            machine, settings=settings(RUN, max_examples=200, phases=[Phase.generate], derandomize=True)
        )
