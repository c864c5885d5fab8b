"""Cross-check against a peer: the ``limits`` library on the same Redis, same hit sequence.

Where the algorithms are the same they must agree on every allowed/denied:
- limits' fixed window (INCRBY, EXPIRE on the first hit: the window starts at the first
  hit) and nself's countdown (our ``NselfFixedWindow``), cost 1 (limits also counts
  denied hits, so with larger costs the two legitimately part ways);
- limits' moving window (a list of timestamps) and our ``SlidingWindowLog`` and
  ``NselfSlidingWindow`` (sorted sets), costs from 1 to above the limit.
Not compared: limits' sliding-window counter anchors its windows at the first hit and
floors the weighted count; ours is aligned to the clock, so the two differ by design.

limits takes time from the client (``time.time()``, and Redis expiry for the fixed
window) in whole-second windows, so this runs on the real clock; no hit is made within
80 ms of a moment where either side's window ends, where a microsecond of difference
between the two calls could decide.
"""

from __future__ import annotations

import random
import secrets
import time
from urllib.parse import quote

import redis
from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from pytest_nself_redis.ratelimit import NselfFixedWindow, NselfSlidingWindow, SlidingWindowLog
from pytest_nself_redis.targets.base import Target

LIMIT = 3
WINDOW = 1.0
MARGIN = 0.08
STEPS = 32


def test_limits_agrees_with_ours_where_the_algorithms_match(
    limiter_server: Target, limiter_redis: redis.Redis
) -> None:
    endpoint = limiter_server.endpoint
    url = f"redis://:{quote(endpoint.password.reveal(), safe='')}@{endpoint.host}:{endpoint.port}"
    storage = RedisStorage(url, key_prefix=f"nself-harness:limits-{secrets.token_hex(3)}")
    item = RateLimitItemPerSecond(LIMIT, 1)
    theirs_fixed, theirs_moving = FixedWindowRateLimiter(storage), MovingWindowRateLimiter(storage)
    namespace = f"nself-harness:ours-{secrets.token_hex(3)}:"
    ours_fixed = NselfFixedWindow(limiter_redis, limit=LIMIT, window=WINDOW, namespace=namespace)
    ours_log = SlidingWindowLog(limiter_redis, limit=LIMIT, window=WINDOW, namespace=namespace)
    ours_nself_sliding = NselfSlidingWindow(limiter_redis, limit=LIMIT, window=WINDOW, namespace=namespace)

    rng = random.Random(20240601)
    fixed_window_end: float | None = None
    moving_entries: list[float] = []  # times of allowed moving-window hits
    disagreements: list[str] = []
    outcomes: dict[str, set[bool]] = {"fixed": set(), "moving": set()}
    windows_opened = 0
    for step in range(STEPS):
        time.sleep(rng.choice([0, 0, 0.02, 0.1, 0.25, 0.4, 0.7, 1.05]))
        while True:  # keep clear of every moment where a window ends
            now = time.time()
            edges = [t + WINDOW for t in moving_entries] + ([fixed_window_end] if fixed_window_end else [])
            close = [edge for edge in edges if abs(now - edge) < MARGIN]
            if not close:
                break
            time.sleep(max(close) + MARGIN - now + 0.005)
        cost = rng.choice([1, 1, 1, 2, LIMIT, LIMIT + 1])
        hit_at = time.time()

        fixed = (ours_fixed.hit("k").allowed, theirs_fixed.hit(item, "fixed"))
        moving = (
            ours_log.hit("k", cost).allowed,
            ours_nself_sliding.hit("k", cost).allowed,
            theirs_moving.hit(item, "moving", cost=cost),
        )
        if fixed_window_end is None or hit_at >= fixed_window_end:
            fixed_window_end, windows_opened = hit_at + WINDOW, windows_opened + 1
        if len(set(fixed)) > 1:
            disagreements.append(f"step {step} fixed window: ours {fixed[0]}, limits {fixed[1]}")
        if len(set(moving)) > 1:
            disagreements.append(
                f"step {step} moving window, cost {cost}: log {moving[0]}, nself sliding {moving[1]}, "
                f"limits {moving[2]}"
            )
        if moving[2]:
            moving_entries.extend([hit_at] * cost)
        moving_entries = [t for t in moving_entries if t + WINDOW > hit_at - 1]
        outcomes["fixed"].add(fixed[1])
        outcomes["moving"].add(moving[2])

    assert not disagreements, disagreements
    assert outcomes == {"fixed": {True, False}, "moving": {True, False}}, "the sequence never hit the limit"
    assert windows_opened >= 3, f"only {windows_opened} fixed windows: the sequence did not cross boundaries"
