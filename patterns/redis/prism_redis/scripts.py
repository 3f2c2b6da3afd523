"""The Lua scripts that make batches atomic, and a pipelined EVALSHA runner.

A Lua script runs atomically in Redis: no other command interleaves with it. Each
script first checks every condition of its batch against a simulated per-key state
(so a batch naming one key twice behaves as if applied in order), and only then writes,
so a failed condition leaves nothing written. The `#!lua` shebang (Redis >= 7.0) makes
Redis refuse a writing script up front when memory is full, instead of failing it
half-way.

Items are hashes {val, ver, exp?}; "live" means the hash exists and `exp` is unset or
after `now` (the caller's clock, the same clock get and scan filter with).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from redis import exceptions as rx
from redis.asyncio import Redis

_LIVE = """
local now = tonumber(ARGV[1])
local state = {}
-- Version of the live item at hash key k as this batch has left it, or false.
local function current(k)
  local s = state[k]
  if s ~= nil then return s end
  local f = redis.call('HMGET', k, 'ver', 'exp')
  if not f[1] or (f[2] and tonumber(f[2]) <= now) then return false end
  return tonumber(f[1])
end
"""

# Failures return {0, kind, entry number (1-based), actual version or 0};
# kind 1 = exists (if_absent), 2 = version mismatch. Success returns {1, base} and
# entry i got version base + i.
PUT = (
    "#!lua\n"
    "-- KEYS: version counter, key index, expiry index, then the item hash of each entry.\n"
    "-- ARGV: now_ms, then per entry: raw key, value, expires_at_ms or '', if_absent\n"
    "-- ('1'/'0'), if_version.\n"
    + _LIVE
    + """
local n = #KEYS - 3
local base = tonumber(redis.call('GET', KEYS[1]) or '0')
for i = 1, n do
  local k, a = KEYS[3 + i], 2 + (i - 1) * 5
  local cur = current(k)
  if ARGV[a + 3] == '1' and cur then return {0, 1, i, cur} end
  local want = tonumber(ARGV[a + 4])
  if want > 0 and cur ~= want then return {0, 2, i, cur or 0} end
  local exp = ARGV[a + 2]
  if exp ~= '' and tonumber(exp) <= now then state[k] = false else state[k] = base + i end
end
redis.call('INCRBY', KEYS[1], n)
for i = 1, n do
  local k, a = KEYS[3 + i], 2 + (i - 1) * 5
  local raw, exp = ARGV[a], ARGV[a + 2]
  redis.call('DEL', k)
  if exp ~= '' and tonumber(exp) <= now then
    redis.call('ZREM', KEYS[2], raw)
    redis.call('ZREM', KEYS[3], raw)
  else
    if exp == '' then
      redis.call('HSET', k, 'val', ARGV[a + 1], 'ver', base + i)
      redis.call('ZREM', KEYS[3], raw)
    else
      redis.call('HSET', k, 'val', ARGV[a + 1], 'ver', base + i, 'exp', exp)
      redis.call('PEXPIREAT', k, exp)
      redis.call('ZADD', KEYS[3], exp, raw)
    end
    redis.call('ZADD', KEYS[2], 0, raw)
  end
end
return {1, base}
"""
)

# Success returns {1, {deleted 1/0 per entry}}; failure as PUT (kind 2 only).
DELETE = (
    "#!lua\n"
    "-- KEYS: key index, expiry index, then the item hash of each entry.\n"
    "-- ARGV: now_ms, then per entry: raw key, if_version.\n"
    + _LIVE
    + """
local n = #KEYS - 2
local out = {}
for i = 1, n do
  local k = KEYS[2 + i]
  local cur = current(k)
  local want = tonumber(ARGV[2 * i + 1])
  if want > 0 and cur ~= want then return {0, 2, i, cur or 0} end
  out[i] = cur and 1 or 0
  state[k] = false
end
for i = 1, n do
  redis.call('DEL', KEYS[2 + i])
  redis.call('ZREM', KEYS[1], ARGV[2 * i])
  redis.call('ZREM', KEYS[2], ARGV[2 * i])
end
return {1, out}
"""
)

# Drops index entries whose item is gone or expired; re-checks under atomicity, so an
# item re-created since the caller looked is kept. Returns how many were removed.
CLEANUP = (
    "#!lua\n"
    "-- KEYS: key index, expiry index, then item hashes. ARGV: now_ms, then raw keys.\n"
    + _LIVE
    + """
local removed = 0
for i = 1, #KEYS - 2 do
  if not current(KEYS[2 + i]) then
    redis.call('DEL', KEYS[2 + i])
    redis.call('ZREM', KEYS[1], ARGV[1 + i])
    redis.call('ZREM', KEYS[2], ARGV[1 + i])
    removed = removed + 1
  end
end
return removed
"""
)

# Idempotent append: ZADD NX on the series index decides "new or duplicate".
APPEND = """#!lua
-- KEYS: per series s: index zset (3s-2), event hash (3s-1), arrival stream (3s).
-- ARGV: stream maxlen (0: no stream), then per event: series number s, member, body,
-- time_ns, event_id.
local maxlen = tonumber(ARGV[1])
local appended, duplicates = 0, 0
for a = 2, #ARGV, 5 do
  local s = tonumber(ARGV[a]) * 3
  if redis.call('ZADD', KEYS[s - 2], 'NX', 0, ARGV[a + 1]) == 1 then
    redis.call('HSET', KEYS[s - 1], ARGV[a + 1], ARGV[a + 2])
    if maxlen > 0 then
      redis.call('XADD', KEYS[s], 'MAXLEN', '~', maxlen, '*',
        't', ARGV[a + 3], 'id', ARGV[a + 4], 'body', ARGV[a + 2])
    end
    appended = appended + 1
  else
    duplicates = duplicates + 1
  end
end
return {appended, duplicates}
"""

# One round trip per chunk of a series range: members in reading order and their bodies.
RANGE = """#!lua flags=no-writes
-- KEYS: index zset, event hash. ARGV: first bound, last bound (ZRANGE BYLEX bounds in
-- reading order), '1' for descending, count.
local m
if ARGV[3] == '1' then
  m = redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2], 'BYLEX', 'REV', 'LIMIT', 0, ARGV[4])
else
  m = redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2], 'BYLEX', 'LIMIT', 0, ARGV[4])
end
if #m == 0 then return {m, {}} end
return {m, redis.call('HMGET', KEYS[2], unpack(m))}
"""


# One round trip for a batch of gets. The source lives in lua/get.lua because the Rust
# core's native reads (proxy/engine/src/backend/redis) compile in the same file: one text,
# one SHA1, so the two sides cannot drift.
GET = resources.files("prism_redis").joinpath("lua", "get.lua").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Script:
    source: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.source.encode()).hexdigest())


ALL = {
    name: Script(src)
    for name, src in (
        ("put", PUT),
        ("delete", DELETE),
        ("cleanup", CLEANUP),
        ("append", APPEND),
        ("range", RANGE),
        ("get", GET),
    )
}

Call = tuple[Script, Sequence[bytes], Sequence[bytes | str | int]]


async def load(client: Redis) -> None:
    """SCRIPT LOAD every script (idempotent; done by provisioning and after NOSCRIPT)."""
    pipe = client.pipeline(transaction=False)
    for script in ALL.values():
        pipe.script_load(script.source)
    await pipe.execute()


async def run(client: Redis, calls: Sequence[Call]) -> list[Any]:
    """EVALSHA every call in ONE pipelined round trip; a call's error is its result.

    A NOSCRIPT reply (server restarted or SCRIPT FLUSH) means that call did not run, so
    those calls alone are retried once after reloading the scripts.
    """
    results = await _pipelined(client, calls)
    missing = [i for i, r in enumerate(results) if isinstance(r, rx.NoScriptError)]
    if missing:
        await load(client)
        again = await _pipelined(client, [calls[i] for i in missing])
        for i, result in zip(missing, again, strict=True):
            results[i] = result
    return results


async def _pipelined(client: Redis, calls: Sequence[Call]) -> list[Any]:
    if not calls:
        return []
    pipe = client.pipeline(transaction=False)
    for script, keys, args in calls:
        pipe.evalsha(script.sha, len(keys), *keys, *args)
    return list(await pipe.execute(raise_on_error=False))
