"""pubsub: messages reach every subscriber, patterns match, order per publisher holds.

Channel names live under the check's own prefix (``nself-harness:<run>:...``), so
nothing else on the server hears them; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import redis
from redis.client import PubSub

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.probing import Broken, holds, probed, same
from pytest_nself_redis.live.clients import clone

# How long a subscriber may take to confirm or to receive, on a busy 2-core machine.
WAIT_SECONDS = 5.0
# How long we listen for a message that must NOT arrive.
SILENCE_SECONDS = 0.3
SUBSCRIBERS = 3
MESSAGES_PER_PUBLISHER = 300
PUBLISHERS = 2
LARGE_MESSAGE_BYTES = 1024 * 1024
MANY_CHANNELS = 1000


@contextlib.contextmanager
def _listener(client: redis.Redis) -> Iterator[PubSub]:
    pubsub = client.pubsub()
    try:
        yield pubsub
    finally:
        pubsub.close()


def _confirmed(pubsub: PubSub, kind: str, wanted: int) -> None:
    """Read until the server has confirmed ``wanted`` (un)subscriptions of ``kind``."""
    confirmed = 0
    deadline = time.monotonic() + WAIT_SECONDS
    while confirmed < wanted:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Broken(f"the server confirmed {confirmed} of {wanted} {kind} within {WAIT_SECONDS:.0f} s")
        message = pubsub.get_message(timeout=remaining)
        if message is not None and message["type"] == kind:
            confirmed += 1


def _subscribe(pubsub: PubSub, channels: Sequence[str] = (), patterns: Sequence[str] = ()) -> None:
    if channels:
        pubsub.subscribe(*channels)
        _confirmed(pubsub, "subscribe", len(channels))
    if patterns:
        pubsub.psubscribe(*patterns)
        _confirmed(pubsub, "psubscribe", len(patterns))


def _receive(pubsub: PubSub, count: int, timeout: float = WAIT_SECONDS) -> list[dict[str, Any]]:
    """Up to ``count`` messages (``message``/``pmessage``), waiting at most ``timeout``."""
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(received) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        message = pubsub.get_message(timeout=remaining)
        if message is not None and message["type"] in ("message", "pmessage"):
            received.append(message)
    return received


def _data(messages: list[dict[str, Any]]) -> list[Any]:
    return [message["data"] for message in messages]


@probed("pubsub.fan_out", safe=True)
def every_subscriber_receives(context: CheckContext, prefix: str) -> tuple[str, Any]:
    """every subscriber of a channel receives every message

    Promise: a message published to a channel reaches every subscriber ({SUBSCRIBERS} here)."""
    channel = f"{prefix}fanout"
    payloads = [f"message-{index}" for index in range(5)]
    with contextlib.ExitStack() as stack:
        subscribers = [stack.enter_context(_listener(context.client)) for _ in range(SUBSCRIBERS)]
        for subscriber in subscribers:
            _subscribe(subscriber, channels=[channel])
        counts = [context.client.publish(channel, payload) for payload in payloads]
        same(f"PUBLISH to a channel with {SUBSCRIBERS} subscribers returns", counts, [SUBSCRIBERS] * 5)
        for number, subscriber in enumerate(subscribers, 1):
            same(f"subscriber {number} of {SUBSCRIBERS} received", _data(_receive(subscriber, 5)), payloads)
    return f"each of {SUBSCRIBERS} subscribers received all 5 messages, PUBLISH counted {SUBSCRIBERS}", {
        "subscribers": SUBSCRIBERS,
        "messages": len(payloads),
    }


@probed("pubsub.patterns", safe=True)
def pattern_subscriptions_match(context: CheckContext, prefix: str) -> tuple[str, Any]:
    """pattern subscriptions receive matching channels only

    Promise: PSUBSCRIBE delivers messages of every matching channel (with the pattern and channel named)
    and of no other."""
    pattern = f"{prefix}orders.*"
    matching, other = f"{prefix}orders.created", f"{prefix}audit.created"
    with _listener(context.client) as by_pattern, _listener(context.client) as by_name:
        _subscribe(by_pattern, patterns=[pattern])
        _subscribe(by_name, channels=[matching])
        same(
            "PUBLISH to a channel with one subscriber and one matching pattern returns",
            context.client.publish(matching, "created"),
            2,
        )
        same("PUBLISH to a channel no pattern matches returns", context.client.publish(other, "audit"), 0)
        received = _receive(by_pattern, 1)
        holds(received, f"the pattern subscriber ({pattern}) received nothing within {WAIT_SECONDS:.0f} s")
        first = received[0]
        same(
            "the pattern subscriber received (type, pattern, channel, data)",
            (first["type"], first["pattern"], first["channel"], first["data"]),
            ("pmessage", pattern, matching, "created"),
        )
        same(
            "the pattern subscriber also received (from a channel it does not match)",
            _data(_receive(by_pattern, 1, timeout=SILENCE_SECONDS)),
            [],
        )
        same("the channel subscriber received", _data(_receive(by_name, 1)), ["created"])
    return "PSUBSCRIBE orders.* received orders.created with its pattern, not audit.created", None


@probed("pubsub.order", safe=True)
def order_per_publisher(context: CheckContext, prefix: str) -> tuple[str, Any]:
    """messages of one publisher arrive in the order sent

    Promise: a subscriber receives each publisher's messages in the order they were published."""
    channel = f"{prefix}ordered"
    publishers = [clone(context.client) for _ in range(PUBLISHERS)]
    failures: list[BaseException] = []

    def publish(number: int, publisher: redis.Redis) -> None:
        try:
            for sequence in range(MESSAGES_PER_PUBLISHER):
                publisher.publish(channel, f"{number}:{sequence}")
        except BaseException as failure:  # reported below, in the checking thread
            failures.append(failure)

    total = PUBLISHERS * MESSAGES_PER_PUBLISHER
    try:
        with _listener(context.client) as subscriber:
            _subscribe(subscriber, channels=[channel])
            started = time.monotonic()
            threads = [
                threading.Thread(target=publish, args=(number, publisher), daemon=True)
                for number, publisher in enumerate(publishers)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(WAIT_SECONDS * 2)
            if failures:
                raise failures[0]
            received = _data(_receive(subscriber, total, timeout=WAIT_SECONDS * 2))
            elapsed = time.monotonic() - started
    finally:
        for publisher in publishers:
            publisher.close()
    same(f"messages received from {PUBLISHERS} concurrent publishers", len(received), total)
    for number in range(PUBLISHERS):
        sequence = [int(item.split(":")[1]) for item in received if item.startswith(f"{number}:")]
        out_of_order = next((i for i in range(1, len(sequence)) if sequence[i] <= sequence[i - 1]), None)
        holds(
            out_of_order is None,
            f"publisher {number}'s messages arrived out of order: "
            f"{sequence[out_of_order - 1] if out_of_order else '?'} before "
            f"{sequence[out_of_order] if out_of_order else '?'}",
        )
    interleaved = sum(1 for a, b in itertools.pairwise(received) if a[0] != b[0])
    return (
        f"{total} messages from {PUBLISHERS} concurrent publishers, each publisher's in order "
        f"({interleaved} switches between publishers, {elapsed * 1000:.0f} ms)",
        {"messages": total, "publishers": PUBLISHERS, "interleavings": interleaved},
    )


@probed("pubsub.unsubscribe", safe=True)
def unsubscribe_stops_delivery(context: CheckContext, prefix: str) -> tuple[str, Any]:
    """UNSUBSCRIBE and PUNSUBSCRIBE stop delivery

    Promise: after UNSUBSCRIBE (or PUNSUBSCRIBE) no message of that channel (pattern) arrives, and PUBLISH
    stops counting the subscriber."""
    dropped, kept = f"{prefix}dropped", f"{prefix}kept"
    pattern = f"{prefix}pattern.*"
    with _listener(context.client) as subscriber:
        _subscribe(subscriber, channels=[dropped, kept], patterns=[pattern])
        subscriber.unsubscribe(dropped)
        _confirmed(subscriber, "unsubscribe", 1)
        subscriber.punsubscribe(pattern)
        _confirmed(subscriber, "punsubscribe", 1)
        same("PUBLISH to the channel unsubscribed from returns", context.client.publish(dropped, "late"), 0)
        same(
            "PUBLISH to a channel of the pattern unsubscribed from returns",
            context.client.publish(f"{prefix}pattern.x", "late"),
            0,
        )
        same("PUBLISH to the channel still subscribed returns", context.client.publish(kept, "kept"), 1)
        same(
            "after UNSUBSCRIBE and PUNSUBSCRIBE the subscriber received",
            _data(_receive(subscriber, 2, timeout=SILENCE_SECONDS)),
            ["kept"],
        )
    return "no delivery after UNSUBSCRIBE / PUNSUBSCRIBE; the other subscription still delivers", None


@probed("pubsub.no_subscriber", safe=True)
def publish_to_nobody_counts_zero(context: CheckContext, prefix: str) -> tuple[str, Any]:
    """PUBLISH to a channel without subscribers returns 0

    Promise: PUBLISH to a channel without subscribers is counted 0 (a publisher can tell nobody heard it)."""
    channel = f"{prefix}nobody"
    same("PUBLISH to a channel nobody subscribes to returns", context.client.publish(channel, "x"), 0)
    same("PUBSUB NUMSUB of that channel", context.client.pubsub_numsub(channel), [(channel, 0)])
    return "PUBLISH returned 0 and PUBSUB NUMSUB 0", 0


@probed("pubsub.large_message", safe=True)
def large_message_arrives_intact(context: CheckContext, prefix: str) -> tuple[str, Any]:
    """a 1 MiB message arrives intact

    Promise: a 1 MiB binary message arrives byte for byte (within the pubsub output buffer limit)."""
    channel = f"{prefix}large"
    payload = os.urandom(LARGE_MESSAGE_BYTES)
    raw = clone(context.client, decode_responses=False)
    try:
        with _listener(raw) as subscriber:
            _subscribe(subscriber, channels=[channel])
            started = time.monotonic()
            same("PUBLISH of the 1 MiB message returns", raw.publish(channel, payload), 1)
            received = _receive(subscriber, 1)
            elapsed = time.monotonic() - started
    finally:
        raw.close()
    holds(received, f"the 1 MiB message did not arrive within {WAIT_SECONDS:.0f} s")
    data = received[0]["data"]
    same("bytes received", len(data), LARGE_MESSAGE_BYTES)
    same("SHA-256 of what arrived", hashlib.sha256(data).hexdigest(), hashlib.sha256(payload).hexdigest())
    return f"{LARGE_MESSAGE_BYTES} random bytes arrived intact in {elapsed * 1000:.0f} ms", {
        "bytes": LARGE_MESSAGE_BYTES,
        "ms": round(elapsed * 1000, 1),
    }


@probed("pubsub.many_channels", safe=True)
def many_channels_on_one_connection(context: CheckContext, prefix: str) -> tuple[str, Any]:
    """one connection subscribed to many channels receives each on its channel

    Promise: one connection subscribed to {MANY_CHANNELS} channels receives every message on the channel
    it was published to, and unsubscribing releases them all."""
    channels = [f"{prefix}ch.{index}" for index in range(MANY_CHANNELS)]
    with _listener(context.client) as subscriber:
        started = time.monotonic()
        _subscribe(subscriber, channels=channels)
        listed = context.client.pubsub_channels(f"{prefix}ch.*")
        same("PUBSUB CHANNELS under the prefix counts", len(listed), MANY_CHANNELS)
        pipe = context.client.pipeline(transaction=False)
        for channel in channels:
            pipe.publish(channel, f"to {channel}")
        counts = pipe.execute()
        same("PUBLISH replies equal to 1", sum(1 for count in counts if count == 1), MANY_CHANNELS)
        received = _receive(subscriber, MANY_CHANNELS, timeout=WAIT_SECONDS * 2)
        same("messages received", len(received), MANY_CHANNELS)
        misrouted = [
            message["channel"] for message in received if message["data"] != f"to {message['channel']}"
        ]
        same("messages delivered on another channel than published", misrouted, [])
        subscriber.unsubscribe()
        _confirmed(subscriber, "unsubscribe", MANY_CHANNELS)
        same(
            "PUBSUB CHANNELS under the prefix after UNSUBSCRIBE",
            context.client.pubsub_channels(f"{prefix}ch.*"),
            [],
        )
        elapsed = time.monotonic() - started
    return f"{MANY_CHANNELS} channels on one connection, one message each, in {elapsed * 1000:.0f} ms", {
        "channels": MANY_CHANNELS,
        "ms": round(elapsed * 1000, 1),
    }
