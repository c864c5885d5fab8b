"""Pub/sub subscribers cut off for their output buffer (``client-output-buffer-limit pubsub``,
32mb hard, 8mb soft for 60 s by default): counted since start where the server counts them
(INFO stats ``client_output_buffer_limit_disconnections``, newer servers), and, on every server,
the subscribers whose output buffer is near the limit now (``CLIENT LIST TYPE pubsub``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis import exceptions as redis_errors

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.operations.base import (
    Unknown,
    config,
    info_section,
    number,
    operations_check,
    size,
)
from pytest_nself_redis.checks.results import Outcome, ok, warning
from pytest_nself_redis.project.sizes import parse_redis_size

DISCONNECTIONS = "client_output_buffer_limit_disconnections"
# Redis's default for the pubsub class, used when CONFIG GET is refused.
DEFAULT_LIMIT = "33554432 8388608 60"
SHOWN = 5


@dataclass(frozen=True)
class PubsubLimit:
    hard: int
    soft: int
    soft_seconds: int
    source: str

    def shown(self) -> str:
        return (
            f"pubsub {size(self.hard)} hard, {size(self.soft)} soft for {self.soft_seconds} s ({self.source})"
        )

    def near(self, omem: int) -> bool:
        """At or over the soft limit (closed once there for soft_seconds), or half the hard one."""
        return (self.soft > 0 and omem >= self.soft) or (self.hard > 0 and omem * 2 >= self.hard)


def pubsub_limit(context: CheckContext) -> PubsubLimit:
    """The live pubsub class of client-output-buffer-limit (Redis's default when CONFIG is refused)."""
    try:
        limits, source = config(context, "client-output-buffer-limit"), "CONFIG GET"
    except Unknown:
        limits, source = f"pubsub {DEFAULT_LIMIT}", "Redis's default; CONFIG GET refused"
    words = limits.split()
    at = words.index("pubsub") if "pubsub" in words else -1
    if at < 0 or len(words) < at + 4:
        raise Unknown(f"client-output-buffer-limit {limits!r} has no pubsub class")
    try:
        hard, soft = (parse_redis_size(word) for word in words[at + 1 : at + 3])
        return PubsubLimit(hard, soft, int(words[at + 3]), source)
    except ValueError:
        raise Unknown(f"client-output-buffer-limit {limits!r}: its pubsub class is not numbers") from None


def subscribers(context: CheckContext) -> list[dict[str, Any]] | None:
    """Every pub/sub client (CLIENT LIST TYPE pubsub); None when refused."""
    try:
        return list(context.client.client_list(_type="pubsub"))
    except redis_errors.RedisError:
        return None


def _counted(context: CheckContext) -> int | None:
    """Clients cut off for their output buffer since start; None where the server does not count."""
    stats = info_section(context, "stats")
    return number(stats, DISCONNECTIONS, "stats") if DISCONNECTIONS in stats else None


def _describe(client: dict[str, Any]) -> str:
    name = f" name={client['name']}" if client.get("name") else ""
    channels = int(client.get("sub", 0)) + int(client.get("psub", 0)) + int(client.get("ssub", 0) or 0)
    return (
        f"id={client.get('id')}{name} addr={client.get('addr')} omem={size(int(client.get('omem', 0)))} "
        f"({channels} subscriptions, connected {client.get('age')} s)"
    )


@operations_check("operations.pubsub_disconnections")
def subscribers_are_not_cut_off(context: CheckContext) -> Outcome:
    """no pub/sub subscriber was cut off, or is about to be, for its output buffer"""
    limit = pubsub_limit(context)
    cut = _counted(context)
    listed = subscribers(context)
    if cut is None and listed is None:
        raise Unknown(
            f"this server's INFO stats has no {DISCONNECTIONS} (newer servers count them) and CLIENT LIST "
            "is refused here, so subscribers cut off or near the limit cannot be seen"
        )
    near = [client for client in listed or [] if limit.near(int(client.get("omem", 0)))]
    promise = (
        "Promise: a subscriber reading slower than the publishers is not cut off: the server closes a "
        f"pub/sub client whose output buffer passes client-output-buffer-limit ({limit.shown()})."
    )
    counted = (
        f"{DISCONNECTIONS}={cut} since start"
        if cut is not None
        else f"the server does not count disconnections (no {DISCONNECTIONS} in INFO stats)"
    )
    now = (
        "CLIENT LIST refused, so the buffers now are not known"
        if listed is None
        else f"{len(near)} of {len(listed)} subscribers near the limit now"
    )
    measured = {
        "disconnections": cut,
        "subscribers": None if listed is None else len(listed),
        "near": len(near),
    }
    seen = f"{counted}; {now}"
    if cut or near:
        shown = "; ".join(_describe(client) for client in near[:SHOWN])
        return warning(
            f"{promise} Seen: {seen}{': ' + shown if shown else ''}. A subscriber cut off loses its messages "
            "and must reconnect: make it keep up (read in a thread of its own, or fewer channels per "
            "client), or raise the pubsub limit",
            measured=measured,
        )
    return ok(f"{promise} Kept: {seen}", measured=measured)
