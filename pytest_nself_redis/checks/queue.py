"""queue: the server is fit for BullMQ (docs/suites/queue.md), and a real BullMQ job goes round.

BullMQ keeps jobs, their locks (keys with TTLs) and queue state in Redis, runs every
operation as a Lua script using cjson and cmsgpack, publishes events on streams,
waits with BZPOPMIN, names its connections and reads INFO. Each requirement is one
check; the last runs BullMQ itself through Node (``nself-redis node-setup``).
A project passes the eviction check with ``REDIS_MAXMEMORY_POLICY=noeviction`` for
the env that runs queues (nself's default, allkeys-lru, is a cache's policy). Where no
queue runs (``REDIS_QUEUES`` not true and no BullMQ key on the server) another policy is
a warning, not an error.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from redis import exceptions as redis_errors

from pytest_nself_redis import node
from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.probing import Later, holds, kept_awake, probed, same, scratch
from pytest_nself_redis.checks.registry import check
from pytest_nself_redis.checks.results import Outcome, error, ok, skipped, warning
from pytest_nself_redis.live.address import ServerAddress
from pytest_nself_redis.live.clients import clone
from pytest_nself_redis.live.expiring import HARNESS_PREFIX
from pytest_nself_redis.live.reads import config_get, info, version_tuple
from pytest_nself_redis.live.refusals import explain
from pytest_nself_redis.remedy import Consequence, set_setting

# Looking for BullMQ's keys: at most this many SCAN calls (of 1000) and seconds, this many named.
QUEUE_SCAN_CALLS = 100
QUEUE_SCAN_SECONDS = 1.0
QUEUE_KEYS_SHOWN = 3
MINIMUM_VERSION = (5, 0, 0)
RECOMMENDED_VERSION = (6, 2, 0)
BLOCK_SECONDS = 0.1
WAKE_BOUND_SECONDS = 3.0
REQUIRE_NODE_ENV = "NSELF_REQUIRE_NODE"
LUA_LIBRARIES = """
local packed = cmsgpack.pack({name = ARGV[1], attempts = tonumber(ARGV[2])})
local job = cmsgpack.unpack(packed)
local encoded = cjson.encode({name = job.name, attempts = job.attempts})
local decoded = cjson.decode(encoded)
return {decoded.name, tostring(decoded.attempts), string.len(packed)}
"""


@check("queue.version", safe=True)
def version_is_supported(context: CheckContext) -> Outcome:
    """the Redis version is one BullMQ accepts (>= 5.0.0; >= 6.2.0 recommended)"""
    promise = "Promise: BullMQ accepts this Redis (it refuses below 5.0.0 and warns below 6.2.0)."
    try:
        version = str(info(context.client, "server")["redis_version"])
    except redis_errors.RedisError as redis_error:
        return error(f"{promise} Seen: INFO server {explain(redis_error)}")
    parsed = version_tuple(version)
    if parsed < MINIMUM_VERSION:
        return error(
            f"{promise} Seen: redis_version={version}; BullMQ says: Redis version needs to be greater or "
            f"equal than 5.0.0 Current: {version}",
            str(context.settings.version.source),
            version,
        )
    if parsed < RECOMMENDED_VERSION:
        return warning(
            f"{promise} Seen: redis_version={version}; BullMQ says: It is highly recommended to use a "
            "minimum Redis version of 6.2.0",
            str(context.settings.version.source),
            version,
        )
    return ok(f"{promise} Kept: redis_version={version}", measured=version)


def _bullmq_keys(client: redis.Redis) -> tuple[list[str], str]:
    """BullMQ queue keys on the server (a queue's ``<prefix>:<name>:meta`` hash holds
    opts.maxLenEvents), by a SCAN bounded in calls and time; and how far it looked."""
    found: list[str] = []
    cursor, calls, scanned = 0, 0, 0
    ends = time.monotonic() + QUEUE_SCAN_SECONDS
    while calls < QUEUE_SCAN_CALLS and time.monotonic() < ends and len(found) < QUEUE_KEYS_SHOWN:
        cursor, batch = client.scan(cursor, match="*:meta", count=1000, _type="hash")
        calls += 1
        scanned += 1000
        for key in batch:
            if not str(key).startswith(HARNESS_PREFIX) and client.hexists(key, "opts.maxLenEvents"):
                found.append(str(key))
        if int(cursor) == 0:
            return found[:QUEUE_KEYS_SHOWN], "the whole keyspace"
    return found[:QUEUE_KEYS_SHOWN], f"the first ~{scanned} keys"


def queues_here(context: CheckContext) -> tuple[bool, str]:
    """Whether queues live on this server (declared in the env, or BullMQ keys found), and why."""
    setting = context.settings.queues
    if setting.value:
        return True, f"queues run here: {setting.cite()}"
    try:
        found, looked = _bullmq_keys(context.client)
    except redis_errors.RedisError as problem:
        return False, f"no queue here: {setting.cite()}; BullMQ keys not looked for ({explain(problem)})"
    if found:
        return True, f"queues run here: BullMQ keys found ({', '.join(found)})"
    return False, f"no queue here: {setting.cite()} and no BullMQ key in {looked}"


@check("queue.eviction_policy", safe=True)
def eviction_policy_is_noeviction(context: CheckContext) -> Outcome:
    """maxmemory-policy is noeviction, as BullMQ requires (where queues run)"""
    setting = context.settings.maxmemory_policy
    promise = f"Promise: no queue key is ever evicted: maxmemory-policy is noeviction ({setting.cite()})."
    try:
        policy = str(info(context.client, "memory")["maxmemory_policy"])
    except (redis_errors.RedisError, KeyError) as failure:
        cause = explain(failure) if isinstance(failure, redis_errors.RedisError) else "no maxmemory_policy"
        return error(f"{promise} Seen: INFO memory {cause}", str(setting.source))
    if policy == "noeviction":
        return ok(
            f"{promise} Kept: maxmemory_policy=noeviction",
            str(setting.source),
            policy,
        )
    why = (
        "volatile-* evicts keys with a TTL, and BullMQ's job locks carry TTLs: a worker loses its lock, "
        "the job stalls and runs twice"
        if policy.startswith("volatile-")
        else "an evicted job key is a lost job, an evicted lock a job run twice"
    )
    running, where = queues_here(context)
    seen = (
        f'{promise} Seen: IMPORTANT! Eviction policy is {policy}. It should be "noeviction" (BullMQ\'s '
        f"words); {why}."
    )
    # nself's default (allkeys-lru) is a cache's policy, right for a Redis without queues: a warning.
    advice = (
        f"An error: {where}. Set REDIS_MAXMEMORY_POLICY=noeviction for the env that runs queues "
        "(as examples/complete/.env.prod does), or give queues a Redis of their own."
        if running
        else f"A warning, not an error: {where}. If this env runs queues, set REDIS_QUEUES=true "
        "and REDIS_MAXMEMORY_POLICY=noeviction for it."
    )
    return (error if running else warning)(
        f"{seen} {advice}",
        str(setting.source),
        policy,
        set_setting(setting, "noeviction", Consequence.DATA_LOSS, context.settings.env),
    )


@check("queue.aof", safe=True)
def aof_is_on(context: CheckContext) -> Outcome:
    """the append-only file is on (appendfsync everysec recommended)"""
    setting = context.settings.aof_enabled
    promise = (
        "Promise: accepted jobs survive a crash: AOF on with appendfsync everysec, as BullMQ recommends "
        f"({setting.cite()})."
    )
    try:
        aof = int(info(context.client, "persistence")["aof_enabled"])
    except (redis_errors.RedisError, KeyError) as failure:
        cause = explain(failure) if isinstance(failure, redis_errors.RedisError) else "no aof_enabled"
        return error(f"{promise} Seen: INFO persistence {cause}", str(setting.source))
    fsync = config_get(context.client, "appendfsync")  # None: CONFIG denied or renamed, judge by INFO
    measured = {"aof_enabled": aof, "appendfsync": fsync}
    if not aof:
        return warning(
            f"{promise} Seen: aof_enabled=0: jobs added since the last RDB snapshot are lost if Redis "
            "crashes",
            str(setting.source),
            measured,
            set_setting(setting, "true", Consequence.DATA_LOSS, context.settings.env),
        )
    if fsync == "no":
        return warning(
            f"{promise} Seen: AOF on but appendfsync=no: the OS decides when jobs reach the disk "
            "(up to ~30 s lost on a power cut)",
            str(setting.source),
            measured,
            set_setting(context.settings.aof_fsync, "everysec", Consequence.DATA_LOSS, context.settings.env),
        )
    return ok(
        f"{promise} Kept: aof_enabled=1, appendfsync={fsync or '?'}",
        str(setting.source),
        measured,
    )


@probed("queue.lua", safe=True)
def lua_libraries_available(context: CheckContext, prefix: str) -> tuple[str, object]:
    """Lua scripting with cjson and cmsgpack is allowed

    Promise: this client may run Lua scripts (EVAL/EVALSHA) and the cjson and cmsgpack libraries are
    there: BullMQ runs every queue operation as a script."""
    client = context.client
    same("EVAL with cjson and cmsgpack", client.eval(LUA_LIBRARIES, 0, "job", "3")[:2], ["job", "3"])
    sha = client.script_load(LUA_LIBRARIES)
    same(
        "EVALSHA of the loaded script (how ioredis runs BullMQ's scripts)",
        client.evalsha(sha, 0, "j", "1")[:2],
        ["j", "1"],
    )
    key = f"{prefix}lua"
    same(
        "EVAL writing a declared key",
        client.eval("return redis.call('INCRBY', KEYS[1], ARGV[1])", 1, key, "5"),
        5,
    )
    return "EVAL and EVALSHA run; cjson and cmsgpack encode and decode", None


@dataclass(frozen=True)
class Blocking:
    """What a blocking read did with nothing to wait for, and when a write woke it."""

    idle_s: float
    woken: Any
    wake_s: float

    def measured(self) -> dict[str, float]:
        return {"idle_ms": round(self.idle_s * 1000, 1), "wake_ms": round(self.wake_s * 1000, 1)}


def _block_then_wake(
    context: CheckContext,
    what: str,
    nothing: tuple[str, str, Any],
    block: Callable[[redis.Redis, str, float], Any],
    woken: tuple[str, Callable[[], object]],
) -> Blocking:
    """``block(connection, key, seconds)`` twice side by side, each on a connection of its own
    (its socket timeout outlasts the block, whatever the client's is), so the check costs one
    wait, not two: for ``BLOCK_SECONDS`` on the key ``nothing`` names, with nothing to wait for,
    when it must return the reply ``nothing`` names in time; and on the key ``woken`` names,
    whose write runs 50 ms into the wait and must wake it. The idle wait is ``kept_awake``: it
    ends at its timeout, not at a random point of an idle server's tick."""
    timeout = WAKE_BOUND_SECONDS + 2
    idle_waiter, woken_waiter = (clone(context.client, socket_timeout=timeout) for _ in range(2))
    label, idle_key, empty = nothing
    key, write = woken
    idle: list[tuple[Any, float]] = []

    def wait_idle() -> None:
        started = time.monotonic()
        with kept_awake(context.client, after=BLOCK_SECONDS, bound=WAKE_BOUND_SECONDS):
            reply = block(idle_waiter, idle_key, BLOCK_SECONDS)
        idle.append((reply, time.monotonic() - started))

    try:
        for waiter in (idle_waiter, woken_waiter):
            waiter.ping()  # connected (and, on TLS, the handshake done) before the write's 50 ms run
        beside = Later(0, wait_idle).start()
        writer = Later(0.05, write)
        started = time.monotonic()
        writer.start()
        reply = block(woken_waiter, key, WAKE_BOUND_SECONDS)
        wake = time.monotonic() - started
        writer.join(WAKE_BOUND_SECONDS)
        beside.join(WAKE_BOUND_SECONDS + 2)
    finally:
        idle_waiter.close()
        woken_waiter.close()
    holds(bool(idle), f"{what} {label} did not return within {timeout:.0f} s")
    same(f"{what} {label}", idle[0][0], empty)
    holds(idle[0][1] < WAKE_BOUND_SECONDS, f"{what} returned after {idle[0][1]:.2f} s")
    return Blocking(idle[0][1], reply, wake)


@probed("queue.streams", safe=True, waits=True)
def streams_work(context: CheckContext, prefix: str) -> tuple[str, object]:
    """streams: XADD, XTRIM and XREAD BLOCK

    Promise: XADD, XTRIM and XREAD BLOCK work for this client (BullMQ's QueueEvents read the events stream
    with XREAD BLOCK)."""
    client, key = context.client, f"{prefix}events"
    first = client.xadd(key, {"event": "added"}, maxlen=10, approximate=True)
    same("XREAD from 0 (ids)", [entry[0] for entry in client.xread({key: "0"}, block=100)[0][1]], [first])
    # After the last entry seen, as QueueEvents reads (not "$": an XADD that lands before the
    # read arrives would then never be read).
    read = _block_then_wake(
        context,
        f"XREAD BLOCK {int(BLOCK_SECONDS * 1000)}",
        ("with nothing new", f"{prefix}quiet", []),
        lambda reader, stream, seconds: reader.xread({stream: first}, block=int(seconds * 1000)),
        (key, lambda: client.xadd(key, {"event": "completed"})),
    )
    holds(read.woken, f"XREAD BLOCK was not woken by an XADD within {WAKE_BOUND_SECONDS:.0f} s")
    same("the entry that woke XREAD BLOCK", read.woken[0][1][0][1], {"event": "completed"})
    same("XTRIM MAXLEN 1", client.xtrim(key, maxlen=1, approximate=False), 1)
    return (
        f"XADD/XTRIM work; XREAD BLOCK times out ({read.idle_s * 1000:.0f} ms for 100) and wakes on XADD "
        f"({read.wake_s * 1000:.0f} ms)",
        read.measured(),
    )


@probed("queue.blocking_pop", safe=True, waits=True)
def bzpopmin_with_subsecond_timeout(context: CheckContext, prefix: str) -> tuple[str, object]:
    """BZPOPMIN accepts a sub-second timeout and wakes on ZADD

    Promise: BZPOPMIN accepts a sub-second timeout and is woken by a ZADD (BullMQ workers wait for jobs
    this way)."""
    client, key = context.client, f"{prefix}marker"
    pop = _block_then_wake(
        context,
        f"BZPOPMIN with a {BLOCK_SECONDS} s timeout",
        ("on an empty key", f"{prefix}empty", None),
        lambda waiter, sorted_set, seconds: waiter.bzpopmin(sorted_set, seconds),
        (key, lambda: client.zadd(key, {"job-1": 0})),
    )
    same("BZPOPMIN woken by a ZADD returns", pop.woken, (key, "job-1", 0.0))
    return (
        f"a {BLOCK_SECONDS} s timeout is honoured ({pop.idle_s * 1000:.0f} ms) and a ZADD wakes the waiter "
        f"({pop.wake_s * 1000:.0f} ms)",
        pop.measured(),
    )


@probed("queue.client_commands", safe=True)
def client_commands_allowed(context: CheckContext, prefix: str) -> tuple[str, object]:
    """CLIENT SETNAME / CLIENT LIST and INFO are allowed

    Promise: this client may name its connections (CLIENT SETNAME), list them (CLIENT LIST) and read INFO,
    as BullMQ does on every connection."""
    name = "nself-harness-" + prefix.split(":")[1]
    connection = clone(context.client)
    try:
        same("CLIENT SETNAME", connection.client_setname(name), True)
        same("CLIENT GETNAME", connection.client_getname(), name)
        listed = [entry for entry in context.client.client_list() if entry.get("name") == name]
        same("CLIENT LIST entries carrying the name", len(listed), 1)
        version = info(connection, "server").get("redis_version")
        holds(version, "INFO server has no redis_version")
    finally:
        connection.close()
    return f"CLIENT SETNAME/GETNAME/LIST and INFO allowed (redis_version {version})", None


def _require_node() -> bool:
    return os.environ.get(REQUIRE_NODE_ENV, "").lower() in ("1", "true", "yes")


# Not for doctor: slow (a Node round trip), and BullMQ writes its keys without a TTL.
@check("queue.bullmq", safe=False)
def bullmq_round_trip(context: CheckContext) -> Outcome:
    """a real BullMQ job round trip (Node) succeeds"""
    promise = (
        "Promise: BullMQ works on this server: jobs added by a producer are processed by a worker and "
        "their results come back, a delayed job waits its delay, a failed job is retried."
    )
    readiness = node.status()
    if not readiness.ready:
        reason = f"the BullMQ round trip needs Node and its modules: {readiness.reason}"
        if _require_node():
            return error(f"{promise} Not run: {reason} (and ${REQUIRE_NODE_ENV} is set)")
        return skipped(reason)
    address = ServerAddress.of(context.client)
    with scratch(context, "bullmq") as prefix:
        result = node.run_roundtrip(address, prefix.rstrip(":"), readiness.directory)
    versions = ", ".join(f"{name} {result.get(name, '?')}" for name in ("bullmq", "ioredis", "node"))
    said = [text for text in result.get("warnings", []) if text]
    bullmq_said = f" BullMQ said: {' | '.join(said)}" if said else ""
    measured = {
        key: result.get(key)
        for key in ("bullmq", "ioredis", "node", "jobs", "latency_ms", "delayed", "retry", "total_ms")
    }
    if not result.get("ok"):
        return error(
            f"{promise} Broken ({versions}) at {result.get('stage')}: {result.get('error')}.{bullmq_said}",
            measured=measured,
        )
    jobs, latency = result["jobs"], result["latency_ms"]
    delayed, retry = result["delayed"], result["retry"]
    seen = (
        f"{jobs['correct']}/{jobs['added']} jobs came back right (p50 {latency['p50']} ms, max "
        f"{latency['max']} ms from add to result); the {delayed['delay_ms']} ms delayed job ran after "
        f"{delayed['waited_ms']} ms; the failing job succeeded on attempt {retry['attempts']} "
        f"('{retry['first_error']}'); {result.get('total_ms')} ms in all ({versions})"
    )
    if said:
        # The jobs went round, but BullMQ itself objected (eviction policy, old version).
        return warning(f"{promise} Kept: {seen}, but{bullmq_said}", measured=measured)
    return ok(f"{promise} Kept: {seen}", measured=measured)
