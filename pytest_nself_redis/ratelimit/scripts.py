"""The limiters' Lua: one atomic script each, run by EVALSHA, loaded again on NOSCRIPT.

Every script takes ``ARGV[1]`` = now in microseconds from an injected clock, or ``""``
to read Redis ``TIME`` inside the script (one clock for every caller). Replies are
``{allowed (0/1), remaining, retry_after_us, reset_after_us}`` with -1 for "never".
Integers stay exact: Lua numbers are doubles, and every value here stays below 2^53
(microsecond timestamps are ~1.7e15); divisions go through ``floor_div``/``ceil_div``,
which correct the double's rounding.

TTLs: with Redis ``TIME`` a key expires exactly when its state stops mattering. With an
injected clock Redis cannot follow the injected time, so keys get the longest TTL their
state can need (one window; two for the sliding-window counter) and the state itself
carries the timestamps that decide.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from typing import Any

import redis
from redis import exceptions as redis_errors

PRELUDE = r"""
local function floor_div(a, b)
  local q = math.floor(a / b)
  if q * b > a then q = q - 1 elseif (q + 1) * b <= a then q = q + 1 end
  return q
end
local function ceil_div(a, b) return floor_div(a + b - 1, b) end
local function fmt(n) return string.format('%.0f', n) end
local function clock()
  local injected = tonumber(ARGV[1])
  if injected then return injected, true end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2]), false
end
local function ttl_ms(us) return math.max(1, ceil_div(us, 1000)) end
"""

TOKEN_BUCKET = (
    PRELUDE
    + r"""
-- Token bucket with continuous refill, kept as GCRA's "theoretical arrival time" (TAT):
-- the moment the bucket would be full again. Tokens now = capacity - (tat - now) / interval.
-- KEYS[1] tat; ARGV: now, capacity, interval_us (one token per interval), cost
local now, injected = clock()
local capacity = tonumber(ARGV[2])
local interval = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local burst = capacity * interval
local tat = tonumber(redis.call('GET', KEYS[1]) or '')
if not tat or tat < now then tat = now end
if cost > capacity then
  return {0, floor_div(burst - (tat - now), interval), -1, tat - now}
end
local new_tat = tat + cost * interval
if new_tat - now <= burst then
  local ttl = new_tat - now
  if injected then ttl = burst end
  redis.call('SET', KEYS[1], fmt(new_tat), 'PX', ttl_ms(ttl))
  return {1, floor_div(burst - (new_tat - now), interval), 0, new_tat - now}
end
return {0, floor_div(burst - (tat - now), interval), new_tat - now - burst, tat - now}
"""
)

SLIDING_LOG = (
    PRELUDE
    + r"""
-- Sliding-window log: a sorted set of the allowed hits, scored by time. A hit at s counts
-- while now - s < window. Denied hits are not recorded.
-- KEYS[1] zset; ARGV: now, limit, window_us, cost, unit (1: scores in us, 1000: in ms)
local now_us, injected = clock()
local unit = tonumber(ARGV[5])
local now = floor_div(now_us, unit)
local limit = tonumber(ARGV[2])
local window = floor_div(tonumber(ARGV[3]), unit)
local cost = tonumber(ARGV[4])
local key = KEYS[1]
redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(now - window))
local count = redis.call('ZCARD', key)
local function until_empty()
  local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if #newest == 0 then return 0 end
  return (tonumber(newest[2]) + window - now) * unit
end
if cost > limit then
  return {0, limit - count, -1, until_empty()}
end
if count + cost <= limit then
  local members = {}
  for i = 1, cost do
    members[#members + 1] = fmt(now)
    members[#members + 1] = fmt(now) .. '-' .. (count + i)
    if #members >= 1000 or i == cost then
      redis.call('ZADD', key, unpack(members))
      members = {}
    end
  end
  redis.call('PEXPIRE', key, ttl_ms(window * unit))
  return {1, limit - count - cost, 0, window * unit}
end
-- the (count + cost - limit)-th oldest hit has to age out first
local k = count + cost - limit
local oldest = redis.call('ZRANGE', key, k - 1, k - 1, 'WITHSCORES')
return {0, limit - count, (tonumber(oldest[2]) + window - now) * unit, until_empty()}
"""
)

SLIDING_COUNTER = (
    PRELUDE
    + r"""
-- Sliding-window counter: counts of the current and previous aligned windows; the previous
-- one is weighted by how much of it still overlaps the sliding window:
--   prev * (window - elapsed) / window + curr + cost <= limit   (kept in integers)
-- KEYS[1] hash {window, curr, prev}; ARGV: now, limit, window_us, cost
local now, injected = clock()
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local key = KEYS[1]
local state = redis.call('HMGET', key, 'window', 'curr', 'prev')
local index = tonumber(state[1])
local curr = tonumber(state[2]) or 0
local prev = tonumber(state[3]) or 0
local i = floor_div(now, window)
if not index then
  index = i; curr = 0; prev = 0
elseif i < index then
  -- a clock behind the stored window: count the request at that window's start
  now = index * window; i = index
elseif i == index + 1 then
  prev = curr; curr = 0; index = i
elseif i > index + 1 then
  prev = 0; curr = 0; index = i
end
local start = i * window
local elapsed = now - start
local function remaining(c)
  return math.max(0, floor_div(limit * window - prev * (window - elapsed) - c * window, window))
end
local function reset_us(c)
  if c > 0 then return start + 2 * window - now end
  if prev > 0 then return start + window - now end
  return 0
end
if cost > limit then
  return {0, remaining(curr), -1, reset_us(curr)}
end
if prev * (window - elapsed) + (curr + cost) * window <= limit * window then
  curr = curr + cost
  redis.call('HSET', key, 'window', fmt(i), 'curr', curr, 'prev', prev)
  local ttl = start + 2 * window - now
  if injected then ttl = 2 * window end
  redis.call('PEXPIRE', key, ttl_ms(ttl))
  return {1, remaining(curr), 0, reset_us(curr)}
end
local retry = nil
local room = limit - curr - cost
if room >= 0 and prev > 0 then
  local needed = ceil_div((prev - room) * window, prev)
  if needed < window then retry = needed - elapsed end
end
if not retry then
  local next_elapsed = 0
  if curr > 0 then next_elapsed = math.max(0, ceil_div((curr - (limit - cost)) * window, curr)) end
  retry = window - elapsed + next_elapsed
end
return {0, remaining(curr), retry, reset_us(curr)}
"""
)

NSELF_COUNTDOWN = (
    PRELUDE
    + r"""
-- nself's fixed-window countdown (docs/nself.md): the first hit sets ratelimit:<key> to
-- max - 1 with expiry = window; later hits DECR while > 0; 0 means limited until the key
-- expires. With an injected clock the window's end is also kept in KEYS[2] (Redis cannot
-- expire keys on an injected clock); with TIME only KEYS[1] is written, exactly as nself.
-- KEYS[1] counter, KEYS[2] window end (injected clock only); ARGV: now, limit, window_us, cost
local now, injected = clock()
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local remaining = tonumber(redis.call('GET', KEYS[1]) or '')
local left = 0
if remaining then
  if injected then
    local ends = tonumber(redis.call('GET', KEYS[2]) or '')
    if not ends or now >= ends then remaining = nil else left = ends - now end
  else
    local pttl = redis.call('PTTL', KEYS[1])
    -- no TTL: limited for ever, as nself would be (the ttl check reports such keys)
    if pttl < 0 then left = -1 else left = pttl * 1000 end
  end
end
if cost > limit then
  return {0, remaining or limit, -1, left}
end
if not remaining then
  redis.call('SET', KEYS[1], limit - cost, 'PX', ttl_ms(window))
  if injected then redis.call('SET', KEYS[2], fmt(now + window), 'PX', ttl_ms(window)) end
  return {1, limit - cost, 0, window}
end
if remaining >= cost then
  redis.call('DECRBY', KEYS[1], cost)
  return {1, remaining - cost, 0, left}
end
return {0, remaining, left, left}
"""
)


class LuaScript:
    """A script run by EVALSHA; on NOSCRIPT (never loaded, SCRIPT FLUSH, a restart) it is
    loaded once more and the call repeated. ``loads`` counts SCRIPT LOADs by this process."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()
        self.loads = 0
        self._lock = threading.Lock()

    def __call__(self, client: redis.Redis, keys: Sequence[str], args: Sequence[str | int]) -> Any:
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except redis_errors.NoScriptError:
            self.load(client)
            return client.evalsha(self.sha, len(keys), *keys, *args)

    def load(self, client: redis.Redis) -> None:
        sha = client.script_load(self.source)
        if sha != self.sha:
            raise RuntimeError(f"SCRIPT LOAD answered {sha}, expected {self.sha}")
        with self._lock:
            self.loads += 1
