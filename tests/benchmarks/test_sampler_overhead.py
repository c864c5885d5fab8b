"""The latency sampler's own overhead: its PING p50 against ``redis-benchmark -c 1 -t ping``
on the same launched server, in alternating rounds.

A property of the harness, not of a user's Redis, so it is measured here (numbers in
the benchmark table and JSON: both p50s and their ratio) and never judged in a
user's run. The goal is a ratio near 1 (see ``redis_benchmark.RATIO_LIMIT``).
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_nself_redis.latency import redis_benchmark
from tests.conftest import Launcher

PREFIX = "nself-harness:bench:overhead:"


def test_sampler_overhead_against_redis_benchmark(benchmark: Any, launch: Launcher, target_kind: str) -> None:
    if redis_benchmark.find_binary() is None:
        pytest.skip("redis-benchmark is not installed (apt-get install redis-tools)")
    target = launch(kind=target_kind)
    client = target.client()
    comparisons: list[redis_benchmark.OverheadComparison] = []

    def compare() -> None:
        comparisons.append(
            redis_benchmark.compare(client, PREFIX, "bench", launched=True, rounds=redis_benchmark.ROUNDS)
        )

    benchmark.group = "latency sampler overhead (PING p50 vs redis-benchmark)"
    benchmark.pedantic(compare, rounds=1, iterations=1)
    (comparison,) = comparisons
    benchmark.extra_info.update({"target": target_kind, **comparison.as_dict()})
    print(
        f"sampler overhead ({target_kind}): sampler p50 {comparison.sampler_p50_ms * 1000:.1f} µs, "
        f"redis-benchmark p50 {comparison.benchmark_p50_ms * 1000:.1f} µs, "
        f"ratio {comparison.ratio:.2f} (median of {len(comparison.rounds)} per-round ratios)"
    )
    assert comparison.sampler_p50_ms > 0
    assert comparison.benchmark_p50_ms > 0
