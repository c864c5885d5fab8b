"""Percentiles of round-trip times, by the nearest-rank method (a value that was measured)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# Reports format durations too, without depending on the sampler: the helper lives lower
# and is named here as well, where the latency code has always found it.
from pytest_nself_redis.durations import format_ms

__all__ = [
    "LABEL",
    "MIN_SAMPLES_BEYOND",
    "PERCENTILES",
    "QUANTILE",
    "Percentiles",
    "format_ms",
    "meaningful",
    "nearest_rank",
]

PERCENTILES: tuple[str, ...] = ("p50", "p95", "p99", "p999", "max")
QUANTILE = {"p50": 0.50, "p95": 0.95, "p99": 0.99, "p999": 0.999, "max": 1.0}
LABEL = {"p50": "p50", "p95": "p95", "p99": "p99", "p999": "p99.9", "max": "max"}
# A percentile is judged only when at least this many samples lie beyond it; with
# fewer, "p99.9" of doctor's 200 samples would just be the maximum under another name.
MIN_SAMPLES_BEYOND = 2


def nearest_rank(sorted_values: Sequence[int], quantile: float) -> int:
    """The smallest measured value with at least ``quantile`` of the samples at or below it."""
    if not sorted_values:
        raise ValueError("no samples")
    rank = max(1, math.ceil(quantile * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def meaningful(percentile: str, samples: int) -> bool:
    """Whether ``samples`` round trips are enough to say anything about ``percentile``."""
    if percentile == "max":
        return samples > 0
    return samples * (1 - QUANTILE[percentile]) >= MIN_SAMPLES_BEYOND


def fewest_samples(percentile: str) -> int:
    """The fewest round trips that judge ``percentile`` (``meaningful`` says yes from here on)."""
    return math.ceil(MIN_SAMPLES_BEYOND / (1 - QUANTILE[percentile]) - 1e-9)


@dataclass(frozen=True)
class Percentiles:
    """p50 .. max of one command, in nanoseconds, and how many samples they come from."""

    samples: int
    values_ns: dict[str, int]
    min_ns: int
    mean_ns: float

    @classmethod
    def of(cls, durations_ns: Sequence[int]) -> Percentiles:
        ordered = sorted(durations_ns)
        values = {name: nearest_rank(ordered, QUANTILE[name]) for name in PERCENTILES}
        return cls(len(ordered), values, ordered[0], sum(ordered) / len(ordered))

    def ms(self, percentile: str) -> float:
        return self.values_ns[percentile] / 1e6

    def as_ms(self) -> dict[str, float]:
        return {name: round(self.ms(name), 4) for name in PERCENTILES}
