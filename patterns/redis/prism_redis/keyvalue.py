"""KeyValue on Redis: item hashes with native TTL, atomic Lua batches, ordered scans.

Ordered scan: Redis SCAN walks the hash table, so it is unordered and may return a key
twice while the table rehashes. Instead every stored key is a member of one sorted set
(`<prefix>keys`) with score 0; members of equal score are ordered bytewise (memcmp), so
ZRANGE ... BYLEX from `(last_key` pages through keys in order, exactly once, even while
other clients write. The put/delete scripts keep that index in step with the items.
Redis expires items by itself (PEXPIREAT); their index entries are dropped when a scan
meets them and by a periodic purge driven by the `<prefix>expiry` sorted set.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, cast

from prism.errors import AlreadyExists, FailedPrecondition, Internal, PrismError
from prism.plugins.api import DeleteEntry, Item, PutEntry, PutResult, render_key
from redis.asyncio import Redis

from prism_redis import scripts
from prism_redis.errors import map_error
from prism_redis.keyspace import Keyspace
from prism_redis.reader import FastReader

# Most stale index entries removed per cleanup script call (keeps each script short).
_PURGE_CHUNK = 500
# Extra members read per scan round: some may turn out expired and be skipped.
_SCAN_SLACK = 16


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class KeyValueStore:
    """The KeyValue keys of one namespace."""

    def __init__(self, client: Redis, keyspace: Keyspace, reader: FastReader | None = None):
        self.client = client
        self.ks = keyspace
        # The batched-get fast path (reader.py); None or unsupported: gets use redis-py.
        self.reader = reader if reader is not None and reader.supports else None

    async def get_many(self, keys: Sequence[bytes]) -> list[Item | None]:
        """One `get` script call for the whole batch (one round trip, one reply)."""
        unique = list(dict.fromkeys(bytes(k) for k in keys))
        item = self.ks.item
        hash_keys = [item(key) for key in unique]
        if self.reader is not None:
            rows = await self.reader.rows(hash_keys)
        else:
            (rows,) = await scripts.run(self.client, [(scripts.ALL["get"], hash_keys, ())])
            if isinstance(rows, BaseException):
                raise map_error(rows)
        if len(rows) != len(unique):
            raise Internal(f"redis: get script answered {len(rows)} rows for {len(unique)} keys")
        now = now_ms()
        found = {key: _item(key, row, now) for key, row in zip(unique, rows, strict=True)}
        return [found[bytes(k)] for k in keys]

    async def put_many(
        self, batches: Sequence[Sequence[PutEntry]]
    ) -> list[list[PutResult] | PrismError]:
        now = str(now_ms())
        calls: list[scripts.Call] = []
        for batch in batches:
            keys = [self.ks.version, self.ks.keys, self.ks.expiry]
            args: list[bytes | str | int] = [now]
            for key, value, expires_at_ms, if_absent, if_version in batch:
                keys.append(self.ks.item(bytes(key)))
                expires = "" if expires_at_ms is None else str(int(expires_at_ms))
                args += [bytes(key), bytes(value), expires, "1" if if_absent else "0", if_version]
            calls.append((scripts.ALL["put"], keys, args))
        replies = await scripts.run(self.client, calls)
        out: list[list[PutResult] | PrismError] = []
        for batch, reply in zip(batches, replies, strict=True):
            if isinstance(reply, BaseException):
                out.append(map_error(reply))
            elif int(reply[0]) == 1:
                base = int(reply[1])
                out.append([(base + i, e[2]) for i, e in enumerate(batch, start=1)])
            else:
                out.append(_condition_error(batch, reply))
        return out

    async def delete_many(
        self, batches: Sequence[Sequence[DeleteEntry]]
    ) -> list[list[bool] | PrismError]:
        now = str(now_ms())
        calls: list[scripts.Call] = []
        for batch in batches:
            keys = [self.ks.keys, self.ks.expiry]
            args: list[bytes | str | int] = [now]
            for key, if_version in batch:
                keys.append(self.ks.item(bytes(key)))
                args += [bytes(key), if_version]
            calls.append((scripts.ALL["delete"], keys, args))
        replies = await scripts.run(self.client, calls)
        out: list[list[bool] | PrismError] = []
        for batch, reply in zip(batches, replies, strict=True):
            if isinstance(reply, BaseException):
                out.append(map_error(reply))
            elif int(reply[0]) == 1:
                out.append([bool(int(d)) for d in reply[1]])
            else:
                out.append(_condition_error(batch, reply))
        return out

    async def scan(
        self, start: bytes, end: bytes | None, after: bytes | None, limit: int
    ) -> list[Item]:
        if limit <= 0:
            return []
        start = bytes(start)
        # ZRANGE BYLEX bounds: '[' inclusive, '(' exclusive, '-'/'+' open.
        low = b"[" + start if start else b"-"
        if after is not None and bytes(after) >= start:
            low = b"(" + bytes(after)
        high = b"+" if end is None else b"(" + bytes(end)
        out: list[Item] = []
        while len(out) < limit:
            want = limit - len(out) + _SCAN_SLACK
            # Members of the index are raw user keys (bytes: no decode_responses).
            members = cast(
                list[bytes],
                await self.client.zrange(self.ks.keys, low, high, bylex=True, offset=0, num=want),
            )
            if not members:
                break
            pipe = self.client.pipeline(transaction=False)
            for member in members:
                pipe.hmget(self.ks.item(member), "val", "ver", "exp")
            rows = await pipe.execute()
            now = now_ms()
            stale: list[bytes] = []
            for member, row in zip(members, rows, strict=True):
                item = _item(member, row, now)
                if item is None:
                    stale.append(member)
                elif len(out) < limit:
                    out.append(item)
            if stale:
                await self.remove_stale(stale)
            if len(members) < want:
                break
            low = b"(" + members[-1]
        return out

    async def purge_expired(self) -> int:
        """Drop index entries of expired items (Redis already dropped the items)."""
        removed = 0
        while True:
            members = cast(
                list[bytes],
                await self.client.zrangebyscore(
                    self.ks.expiry, "-inf", now_ms(), start=0, num=_PURGE_CHUNK
                ),
            )
            if not members:
                return removed
            removed += await self.remove_stale(members)
            if len(members) < _PURGE_CHUNK:
                return removed

    async def remove_stale(self, members: Sequence[bytes]) -> int:
        keys = [self.ks.keys, self.ks.expiry, *(self.ks.item(m) for m in members)]
        (reply,) = await scripts.run(
            self.client, [(scripts.ALL["cleanup"], keys, [str(now_ms()), *members])]
        )
        if isinstance(reply, BaseException):
            raise map_error(reply)
        return int(reply)


def _item(key: bytes, row: Sequence[Any], now: int) -> Item | None:
    value, version, expires = row
    if value is None or version is None:
        return None
    expires_at = None if expires is None else int(expires)
    if expires_at is not None and expires_at <= now:
        return None
    return (key, bytes(value), int(version), expires_at)


def _condition_error(batch: Sequence[PutEntry] | Sequence[DeleteEntry], reply: Any) -> PrismError:
    kind, index, actual = int(reply[1]), int(reply[2]), int(reply[3])
    entry = batch[index - 1]
    key = bytes(entry[0])
    if kind == 1:
        return AlreadyExists(f"key '{render_key(key)}' already exists")
    if kind == 2:
        expected = int(entry[-1])
        state = "does not exist" if actual == 0 else f"is at version {actual}"
        return FailedPrecondition(f"key '{render_key(key)}' {state}, expected version {expected}")
    return Internal(f"redis: unexpected script reply {reply!r}")
