"""eviction on the env's own server: at the configured maxmemory the configured policy acts.

Redis's technique (``technique``) at the live limit, scaled down when filling the headroom
twice would take more than ``CONFIGURED_FILL_SECONDS`` (the factor is reported), with the
server left as found: our keys deleted, its own limit back.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.eviction.technique import Run, policy_family
from pytest_nself_redis.checks.registry import check
from pytest_nself_redis.checks.results import Outcome, error, skipped, verdict
from pytest_nself_redis.durability.fill import (
    SLACK,
    Fill,
    FillError,
    Write,
    evicted_keys,
    existing,
    fill_to_limit,
    measure_write_rate,
    plain,
    read_memory,
    volatile,
    write_keys,
)
from pytest_nself_redis.layers import compare_layers, config_promises
from pytest_nself_redis.live.expiring import without_ttls
from pytest_nself_redis.live.keys import delete_prefix
from pytest_nself_redis.live.reads import config_get

# The configured-policy check writes values of this size and spends at most this long
# filling (both phases); beyond it the limit is lowered and the scale factor reported.
CONFIGURED_VALUE_BYTES = 1000
CONFIGURED_FILL_SECONDS = 2.0
CALIBRATION_KEYS = 500  # written first to measure the write rate the scale is based on
# Far below its limit the configured server's query buffer is noise: bigger pipelines.
CONFIGURED_PIPELINE_BYTES = 128 * 1024
MARKER_KEYS = 16  # keys without a TTL a volatile-* policy must keep on the configured server


@dataclass(frozen=True)
class Scale:
    """How much of the configured headroom the configured-policy check fills."""

    configured_limit: int
    limit: int
    headroom: int
    rate_bytes_per_s: float
    estimated_s: float

    @property
    def factor(self) -> float:
        used = self.configured_limit - self.headroom
        return (self.limit - used) / self.headroom if self.headroom else 1.0

    @property
    def scaled(self) -> bool:
        return self.limit < self.configured_limit

    def describe(self) -> str:
        rate = f"{self.rate_bytes_per_s / 1e6:.1f} MB/s"
        if not self.scaled:
            return (
                f"Not scaled: filling the {self.headroom} bytes of headroom twice at the measured {rate} "
                f"takes about {self.estimated_s:.1f} s."
            )
        return (
            f"Scaled: filling the {self.headroom} bytes of headroom twice at the measured {rate} would "
            f"take about {self.estimated_s:.1f} s (more than {CONFIGURED_FILL_SECONDS:.0f} s), so maxmemory "
            f"was lowered to {self.limit} bytes for this check (scale factor {self.factor:.3f} of the "
            f"headroom) and restored to {self.configured_limit} afterwards."
        )


@dataclass(frozen=True)
class Job:
    """The env's server (keys written without a TTL: they are part of what is watched), its live
    limit, the promise and where it comes from, and the layers that depart from it."""

    client: redis.Redis
    prefix: str
    configured_limit: int
    promised: str
    head: str
    source: str
    problems: list[str]

    @property
    def family(self) -> str:
        return policy_family(self.promised)

    def name(self, index: int) -> str:
        return f"{self.prefix}{index}"


def _layer_problems(context: CheckContext, live: dict[str, str | None]) -> list[str]:
    promises = config_promises(context.settings)
    problems = []
    for promise_id in ("maxmemory", "maxmemory-policy"):
        promise = promises[promise_id]
        compared = compare_layers(promise, context.service, live[promise.directive])
        if not compared.ok:
            problems.append(compared.message)
    return problems


@check("eviction.configured_policy", safe=False)
def configured_policy_holds(context: CheckContext) -> Outcome:
    """at the configured maxmemory the server applies the configured policy"""
    settings = context.settings
    policy, maxmemory = settings.maxmemory_policy, settings.maxmemory
    source = f"{policy.source}, {maxmemory.source}"
    head = (
        f"Promise: at maxmemory {settings.describe_maxmemory()} ({maxmemory.cite()}) the server applies "
        f"{policy.value} ({policy.cite()})."
    )
    if maxmemory.value == 0:
        return skipped(
            f"no memory limit is promised ({maxmemory.cite()}), so {policy.value} never applies", source
        )
    if not context.launched:
        return skipped(
            "fills the server to its memory limit, so it runs only on a server this run launched", source
        )
    # Keys without a TTL are part of what it watches: no TTLs added (destructive, opt-in on attach).
    client = without_ttls(context.client)
    live = {name: config_get(client, name) for name in ("maxmemory", "maxmemory-policy")}
    if live["maxmemory"] is None:
        return skipped("CONFIG is not available on this server, so the limit cannot be read", source)
    problems = _layer_problems(context, live)
    configured_limit = int(live["maxmemory"])
    if configured_limit == 0:
        return error(
            f"{head} Broken: the live server has no memory limit (maxmemory=0), so it grows until the "
            f"container or the OS kills it and {policy.value} never applies. Traced through the layers: "
            + " ".join(problems),
            source,
            {"live_maxmemory": 0, "live_policy": live.get("maxmemory-policy")},
        )
    prefix = context.key_prefix("evict-configured-")
    try:
        return _configured_run(Job(client, prefix, configured_limit, policy.value, head, source, problems))
    finally:
        # Leave the server as found: our keys gone, its own limit back.
        delete_prefix(client, prefix)
        client.config_set("maxmemory", configured_limit)


def _configured_run(job: Job) -> Outcome:
    value = "v" * CONFIGURED_VALUE_BYTES
    write: Write = volatile(3600, value) if job.family == "volatile" else plain(value)
    markers = (
        [f"{job.prefix}marker{index}" for index in range(MARKER_KEYS)] if job.family == "volatile" else []
    )
    if markers:
        write_keys(job.client, markers, plain(value))
    before = evicted_keys(job.client)
    used = read_memory(job.client).counted
    if job.configured_limit - used <= 4 * SLACK:
        return skipped(
            f"the server is already at its limit ({used} of {job.configured_limit} bytes in use), so "
            "there is no room to watch the policy act without deleting data that is not ours",
            job.source,
        )
    try:
        calibration, scale = _calibrate(job, write, job.configured_limit - used)
    except FillError as problem:
        return error(f"{job.head} Could not write below the limit: {problem}", job.source)
    try:
        fill = fill_to_limit(
            job.client,
            scale.limit,
            job.name,
            write,
            first_index=len(calibration),
            value_bytes=CONFIGURED_VALUE_BYTES,
        )
    except FillError as problem:
        return error(
            f"{job.head} {scale.describe()} Could not bring the server to its limit: {problem}", job.source
        )
    fill.keys[:0] = calibration
    return _judge(job, _write_again(job, write, fill, scale.limit, before), scale, markers)


def _calibrate(job: Job, write: Write, headroom: int) -> tuple[list[str], Scale]:
    """Write a few keys to measure the write rate; lower the limit when filling the rest of the
    headroom twice at that rate would take more than ``CONFIGURED_FILL_SECONDS``."""
    count = max(1, min(CALIBRATION_KEYS, headroom // (4 * CONFIGURED_VALUE_BYTES)))
    calibration, rate = measure_write_rate(job.client, job.name, write, count, CONFIGURED_VALUE_BYTES)
    now = read_memory(job.client).counted
    estimated = 2 * (job.configured_limit - now) / rate
    limit = job.configured_limit
    if estimated > CONFIGURED_FILL_SECONDS:
        limit = now + int(rate * CONFIGURED_FILL_SECONDS / 2)
        job.client.config_set("maxmemory", limit)
    return calibration, Scale(job.configured_limit, limit, headroom, rate, estimated)


def _write_again(job: Job, write: Write, fill: Fill, limit: int, before: int) -> Run:
    """As many keys again as the fill took, past the limit."""
    count = len(fill.keys)
    names = [job.name(fill.next_index + offset) for offset in range(count)]
    again = write_keys(
        job.client,
        names,
        write,
        first_index=fill.next_index,
        value_bytes=CONFIGURED_VALUE_BYTES,
        pipeline_bytes=CONFIGURED_PIPELINE_BYTES,
    )
    return Run(limit, fill, again, count, read_memory(job.client), evicted_keys(job.client) - before)


def _judge(job: Job, run: Run, scale: Scale, markers: list[str]) -> Outcome:
    gone = run.again_count - len(existing(job.client, run.fill.keys))
    markers_kept = existing(job.client, markers)
    lost = f"{gone} of our keys are gone (evicted_keys +{run.evicted})" if gone or run.evicted else None
    broken = run.broken_promises(job.family == "noeviction", lost)
    if job.family != "noeviction" and len(markers_kept) < len(markers):
        broken.append(f"{len(markers) - len(markers_kept)} of {len(markers)} keys without a TTL were evicted")
    if job.problems:
        broken.append("the deployment does not run the promised limit and policy")
    seen = f"{gone} of the {run.again_count} first-fill keys gone" + (
        f"; {len(markers_kept)} of {len(markers)} keys without a TTL kept" if markers else ""
    )
    tail = f" Broken: {'; '.join(broken)}." if broken else " Kept."
    causes = f" Traced through the layers: {' '.join(job.problems)}" if job.problems else ""
    return verdict(
        not broken,
        f"{job.head} {scale.describe()} Seen: {run.seen()}; {seen}.{tail}{causes}",
        job.source,
        run.measured(
            job.promised,
            configured_limit=job.configured_limit,
            scale_factor=round(scale.factor, 4),
            scaled=scale.scaled,
            write_rate_mb_s=round(scale.rate_bytes_per_s / 1e6, 1),
            first_fill_gone=gone,
        ),
    )
