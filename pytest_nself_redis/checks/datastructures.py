"""datastructures: the data types an nself backend relies on behave as Redis documents.

Each check runs a short, deterministic script of commands under its own prefix and
compares every reply with the documented one; the first that differs is named.
"""

from __future__ import annotations

import itertools
import time

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.probing import holds, kept_awake, probed, same, wait_until
from pytest_nself_redis.live.clients import clone
from pytest_nself_redis.live.expiring import without_ttls

HLL_ITEMS = 100_000
HLL_BATCH = 10_000
# Redis documents a standard error of 0.81% for PFCOUNT; 3 sigma covers 99.7% of runs.
HLL_STANDARD_ERROR = 0.0081
HLL_BOUND = 3 * HLL_STANDARD_ERROR
EXPIRY_WAIT_SECONDS = 3.0


@probed("datastructures.lists", safe=True)
def lists_behave(context: CheckContext, prefix: str) -> tuple[str, object]:
    """lists keep order; push, pop, move and blocking pop behave as documented

    Promise: lists keep insertion order and LPUSH/RPUSH/LPOP/RPOP/LINSERT/LMOVE/LTRIM/BLPOP reply as Redis
    documents."""
    client, key, other = context.client, f"{prefix}list", f"{prefix}list2"
    same("RPUSH key a b c returns the length", client.rpush(key, "a", "b", "c"), 3)
    same("LPUSH key z returns the length", client.lpush(key, "z"), 4)
    same("LRANGE key 0 -1", client.lrange(key, 0, -1), ["z", "a", "b", "c"])
    same("LINSERT key BEFORE b x returns the length", client.linsert(key, "BEFORE", "b", "x"), 5)
    same("LINDEX key 2", client.lindex(key, 2), "x")
    same("LPOP key", client.lpop(key), "z")
    same("RPOP key", client.rpop(key), "c")
    same("LMOVE key other LEFT RIGHT", client.lmove(key, other, "LEFT", "RIGHT"), "a")
    same("LRANGE key after the pops and the move", client.lrange(key, 0, -1), ["x", "b"])
    same("LTRIM key 0 0 then LLEN", (client.ltrim(key, 0, 0), client.llen(key)), (True, 1))
    started = time.monotonic()
    same("BLPOP on a list with an element (no wait)", client.blpop([other], timeout=1), (other, "a"))
    with kept_awake(client, after=0.1, bound=2.0):
        popped = client.blpop([f"{prefix}empty"], timeout=0.1)
    same("BLPOP on an empty list with a 0.1 s timeout", popped, None)
    elapsed = time.monotonic() - started
    holds(elapsed < 2.0, f"BLPOP with a 0.1 s timeout returned after {elapsed:.2f} s")
    same("EXISTS of the list emptied by BLPOP (empty lists are removed)", client.exists(other), 0)
    return "push/pop at both ends, LINSERT, LMOVE, LTRIM and BLPOP as documented", None


@probed("datastructures.sets", safe=True)
def sets_behave(context: CheckContext, prefix: str) -> tuple[str, object]:
    """sets hold unique members; set algebra is right

    Promise: sets hold each member once and SADD/SREM/SISMEMBER/SINTER/SUNION/SDIFF reply as Redis
    documents."""
    client, left, right = context.client, f"{prefix}set-a", f"{prefix}set-b"
    same("SADD a 1 2 3 returns the number added", client.sadd(left, "1", "2", "3"), 3)
    same("SADD a 3 (already a member) returns", client.sadd(left, "3"), 0)
    same("SADD b 3 4 returns", client.sadd(right, "3", "4"), 2)
    same("SCARD a", client.scard(left), 3)
    same("SISMEMBER a 2 / a 9", (client.sismember(left, "2"), client.sismember(left, "9")), (True, False))
    same("SINTER a b", client.sinter(left, right), {"3"})
    same("SUNION a b", client.sunion(left, right), {"1", "2", "3", "4"})
    same("SDIFF a b", client.sdiff(left, right), {"1", "2"})
    same("SREM a 1 9 returns the number removed", client.srem(left, "1", "9"), 1)
    same("SMEMBERS a", client.smembers(left), {"2", "3"})
    return "membership is unique; SINTER/SUNION/SDIFF/SREM as documented", None


@probed("datastructures.sorted_sets", safe=True)
def sorted_sets_behave(context: CheckContext, prefix: str) -> tuple[str, object]:
    """sorted sets order by score, then member

    Promise: sorted sets order members by score, then lexicographically, and
    ZADD/ZINCRBY/ZRANGE/ZRANK/ZPOPMIN reply as Redis documents (rate limiters and queues rely on it)."""
    client, key = context.client, f"{prefix}zset"
    same("ZADD 3 members returns", client.zadd(key, {"b": 2, "a": 1, "c": 3}), 3)
    same("ZADD of an existing member (score update) returns", client.zadd(key, {"a": 5}), 0)
    same("ZADD of a tie with c (score 3)", client.zadd(key, {"bb": 3}), 1)
    same(
        "ZRANGE 0 -1 WITHSCORES (ties ordered lexicographically)",
        client.zrange(key, 0, -1, withscores=True),
        [("b", 2.0), ("bb", 3.0), ("c", 3.0), ("a", 5.0)],
    )
    same("ZINCRBY key 0.5 b", client.zincrby(key, 0.5, "b"), 2.5)
    same("ZRANGEBYSCORE key 2 3", client.zrangebyscore(key, 2, 3), ["b", "bb", "c"])
    same("ZRANK key a / ZREVRANK key a", (client.zrank(key, "a"), client.zrevrank(key, "a")), (3, 0))
    same("ZSCORE of a missing member", client.zscore(key, "zz"), None)
    same("ZPOPMIN key", client.zpopmin(key), [("b", 2.5)])
    same("ZREMRANGEBYSCORE key -inf 3", client.zremrangebyscore(key, "-inf", 3), 2)
    same("ZCARD after the removals", client.zcard(key), 1)
    return (
        "ordered by score then member, ZINCRBY/ZRANGEBYSCORE/ZRANK/ZPOPMIN/ZREMRANGEBYSCORE as documented",
        None,
    )


@probed("datastructures.hashes", safe=True)
def hashes_behave(context: CheckContext, prefix: str) -> tuple[str, object]:
    """hashes store fields; increments are exact

    Promise: hashes store, update, increment and delete fields as Redis documents."""
    client, key = context.client, f"{prefix}hash"
    same("HSET of 3 new fields returns", client.hset(key, mapping={"name": "nself", "n": "1", "f": "1.5"}), 3)
    same("HSET of an existing field returns", client.hset(key, "name", "redis"), 0)
    same("HGET name", client.hget(key, "name"), "redis")
    same("HINCRBY n 41", client.hincrby(key, "n", 41), 42)
    same("HINCRBYFLOAT f 0.25", client.hincrbyfloat(key, "f", 0.25), 1.75)
    same(
        "HEXISTS name / HEXISTS nope",
        (client.hexists(key, "name"), client.hexists(key, "nope")),
        (True, False),
    )
    same("HDEL name nope returns", client.hdel(key, "name", "nope"), 1)
    same("HGETALL", client.hgetall(key), {"n": "42", "f": "1.75"})
    same("HLEN", client.hlen(key), 2)
    same("HGET of a missing field", client.hget(key, "name"), None)
    return "HSET/HGET/HINCRBY/HINCRBYFLOAT/HDEL/HGETALL as documented", None


@probed("datastructures.streams", safe=True)
def streams_behave(context: CheckContext, prefix: str) -> tuple[str, object]:
    """streams: consumer groups, XPENDING, XCLAIM, XACK

    Promise: a stream's consumer group delivers each entry to one consumer, XPENDING lists what is not
    acknowledged, XCLAIM hands it over, XACK settles it (BullMQ's events use streams)."""
    client, key, group = context.client, f"{prefix}stream", "workers"
    ids = [client.xadd(key, {"n": str(n)}) for n in range(5)]
    holds(
        all(_stream_id(a) < _stream_id(b) for a, b in itertools.pairwise(ids)),
        f"XADD returned ids that do not increase: {ids}",
    )
    same("XLEN after 5 XADD", client.xlen(key), 5)
    same("XRANGE - + COUNT 2 (ids)", [entry[0] for entry in client.xrange(key, count=2)], ids[:2])
    same("XGROUP CREATE key workers 0", client.xgroup_create(key, group, id="0"), True)
    read = client.xreadgroup(group, "alice", {key: ">"}, count=3)
    same("XREADGROUP alice COUNT 3 > (ids delivered)", [entry[0] for entry in read[0][1]], ids[:3])
    pending = client.xpending(key, group)
    same(
        "XPENDING summary (count, consumers)",
        (pending["pending"], pending["consumers"]),
        (3, [{"name": "alice", "pending": 3}]),
    )
    same("XACK of 2 delivered entries returns", client.xack(key, group, ids[0], ids[1]), 2)
    same("XPENDING count after XACK", client.xpending(key, group)["pending"], 1)
    claimed = client.xclaim(key, group, "bob", min_idle_time=0, message_ids=[ids[2]])
    same("XCLAIM by bob of alice's pending entry (ids)", [entry[0] for entry in claimed], [ids[2]])
    detail = client.xpending_range(key, group, min="-", max="+", count=10)
    same(
        "XPENDING - + 10 after the claim (id, consumer)",
        [(row["message_id"], row["consumer"]) for row in detail],
        [(ids[2], "bob")],
    )
    read = client.xreadgroup(group, "bob", {key: ">"}, count=10)
    same("XREADGROUP bob > (the never-delivered rest)", [entry[0] for entry in read[0][1]], ids[3:])
    same("XACK of the rest", client.xack(key, group, *ids[2:]), 3)
    same("XPENDING count when all are acknowledged", client.xpending(key, group)["pending"], 0)
    same("XTRIM MAXLEN 2 returns the number removed", client.xtrim(key, maxlen=2, approximate=False), 3)
    same("XLEN after XTRIM", client.xlen(key), 2)
    return "ids increase; consumer groups deliver once, XPENDING tracks, XCLAIM moves, XACK settles", {
        "entries": len(ids)
    }


def _stream_id(text: str) -> tuple[int, int]:
    milliseconds, _, sequence = text.partition("-")
    return int(milliseconds), int(sequence or 0)


@probed("datastructures.hyperloglog", safe=True)
def hyperloglog_within_standard_error(context: CheckContext, prefix: str) -> tuple[str, object]:
    """PFCOUNT of 100k items is within 3 x 0.81% standard error

    Promise: PFCOUNT estimates {HLL_ITEMS} distinct items within Redis's stated standard error of 0.81% at
    3 sigma (±{HLL_BOUND:.2%}), also for a union."""
    client, key, other = context.client, f"{prefix}hll", f"{prefix}hll2"
    started = time.monotonic()
    pipe = context.client.pipeline(transaction=False)
    for start in range(0, HLL_ITEMS, HLL_BATCH):
        pipe.pfadd(key, *(f"item-{n}" for n in range(start, start + HLL_BATCH)))
    pipe.execute()
    count = int(client.pfcount(key))
    relative = (count - HLL_ITEMS) / HLL_ITEMS
    # A second set overlapping half of the first: the union must count 150k.
    pipe = context.client.pipeline(transaction=False)
    for start in range(HLL_ITEMS // 2, HLL_ITEMS + HLL_ITEMS // 2, HLL_BATCH):
        pipe.pfadd(other, *(f"item-{n}" for n in range(start, start + HLL_BATCH)))
    pipe.execute()
    union_expected = HLL_ITEMS + HLL_ITEMS // 2
    union = int(client.pfcount(key, other))
    union_relative = (union - union_expected) / union_expected
    elapsed = time.monotonic() - started
    measured = {
        "items": HLL_ITEMS,
        "pfcount": count,
        "error": round(relative, 5),
        "union_expected": union_expected,
        "union_pfcount": union,
        "union_error": round(union_relative, 5),
        "bound": HLL_BOUND,
    }
    holds(
        abs(relative) <= HLL_BOUND,
        f"PFCOUNT of {HLL_ITEMS} distinct items is {count}: error {relative:+.2%}, beyond "
        f"3 x 0.81% = {HLL_BOUND:.2%}",
    )
    holds(
        abs(union_relative) <= HLL_BOUND,
        f"PFCOUNT of the union of two HyperLogLogs ({union_expected} distinct) is {union}: error "
        f"{union_relative:+.2%}, beyond {HLL_BOUND:.2%}",
    )
    same("PFADD of an item already counted (0: estimate unchanged)", client.pfadd(key, "item-0"), 0)
    return (
        f"PFCOUNT {count} for {HLL_ITEMS} distinct items (error {relative:+.3%}), union {union} for "
        f"{union_expected} (error {union_relative:+.3%}); bound ±{HLL_BOUND:.2%}; {elapsed * 1000:.0f} ms",
        measured,
    )


@probed("datastructures.ttl", safe=True)
def key_ttl_semantics(context: CheckContext, prefix: str) -> tuple[str, object]:
    """key TTLs: set, kept, cleared and expired as documented

    Promise: key expiry behaves as Redis documents: SET EX/PX set a TTL, a plain SET clears it, KEEPTTL
    and APPEND/RENAME keep it, PERSIST removes it, an expired key is gone."""
    client, key = context.client, f"{prefix}ttl"
    same("TTL of a missing key", client.ttl(f"{prefix}missing"), -2)
    same("SET key v EX 100", client.set(key, "v", ex=100), True)
    ttl = client.ttl(key)
    holds(0 < ttl <= 100, f"TTL after SET EX 100 is {ttl} (expected 1..100)")
    same("INCR-like write keeps the TTL: APPEND key x", client.append(key, "x"), 2)
    holds(client.ttl(key) > 0, f"APPEND removed the TTL (TTL {client.ttl(key)})")
    same(
        "SET key v2 KEEPTTL keeps the TTL",
        (client.set(key, "v2", keepttl=True), client.ttl(key) > 0),
        (True, True),
    )
    # A step that leaves the key without a TTL runs in one transaction that gives it one back,
    # so the key is never without one for a moment (a run killed here leaves nothing for ever).
    with without_ttls(client).pipeline(transaction=True) as pipe:
        persisted, after, expired, ttl = pipe.persist(key).ttl(key).expire(key, 50).ttl(key).execute()
    same("PERSIST removes the TTL", (persisted, after), (True, -1))
    same("EXPIRE key 50 sets a TTL", (expired, 0 < ttl <= 50), (True, True))
    same("EXPIRE key 10 GT (shorter) is refused", client.expire(key, 10, gt=True), False)
    with without_ttls(client).pipeline(transaction=True) as pipe:
        written, cleared, applied = pipe.set(key, "v3").ttl(key).expire(key, 30, nx=True).execute()
    same("a plain SET clears the TTL", (written, cleared), (True, -1))
    same("EXPIRE NX on a key without TTL applies", applied, True)
    with without_ttls(client).pipeline(transaction=True) as pipe:
        value, cleared, _ = pipe.getex(key, persist=True).ttl(key).expire(key, 40).execute()
    same("GETEX key PERSIST returns the value and clears the TTL", (value, cleared), ("v3", -1))
    renamed = f"{prefix}ttl-renamed"
    same("RENAME keeps the TTL", (client.rename(key, renamed), 0 < client.ttl(renamed) <= 40), (True, True))
    short = f"{prefix}short"
    same("SET short v PX 150", client.set(short, "v", px=150), True)
    gone = wait_until(lambda: client.get(short) is None, EXPIRY_WAIT_SECONDS)
    holds(gone, f"a key SET with PX 150 was still readable after {EXPIRY_WAIT_SECONDS:.0f} s")
    same("EXISTS after expiry", client.exists(short), 0)
    same(
        "EXPIRE with a negative time deletes the key",
        (client.expire(renamed, -1), client.exists(renamed)),
        (True, 0),
    )
    return (
        "TTL -2/-1 semantics, EX/PX, KEEPTTL, PERSIST, EXPIRE NX/GT, GETEX, RENAME and expiry as documented",
        None,
    )


@probed("datastructures.strings", safe=True)
def strings_are_binary_safe(context: CheckContext, prefix: str) -> tuple[str, object]:
    """strings are binary safe

    Promise: strings store any bytes unchanged (serialised JSON, msgpack and images alike)."""
    raw = clone(context.client, decode_responses=False)
    try:
        key = f"{prefix}bin".encode()
        payload = bytes(range(256)) * 4
        same("SET of 1 KiB of every byte value", raw.set(key, payload), True)
        same("GET returns the same bytes", raw.get(key), payload)
        same("STRLEN", raw.strlen(key), len(payload))
        same("INCRBYFLOAT on a string number", raw.incrbyfloat(f"{prefix}float", 0.1), 0.1)
        same("GETRANGE 0 3", raw.getrange(key, 0, 3), bytes(range(4)))
    finally:
        raw.close()
    return "binary-safe strings and numeric increments as documented", None
