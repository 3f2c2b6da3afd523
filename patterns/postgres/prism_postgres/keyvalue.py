"""KeyValue on PostgreSQL: versioned items, TTL, CAS, atomic batches, bytewise scans.

Concurrency: every write transaction first takes a transaction-scoped advisory lock per
key it touches (a 64-bit hash of namespace + key), all keys of all its batches at once in
ascending order. That serializes writers of the same key, also of keys that do not exist
yet (which `SELECT ... FOR UPDATE` cannot lock), across connections and proxies, without
deadlocks (one global lock order). Inside the locks, a batch reads the live state of its
keys, checks if_absent / if_version in Python, takes its versions from the namespace's
sequence (after the locks, so a key's version only grows) and upserts in one statement.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from typing import Any

from prism.errors import AlreadyExists, FailedPrecondition, PrismError
from prism.plugins.api import DeleteEntry, Item, PutEntry, PutResult, render_key
from psycopg import sql

from prism_postgres.db import Conn, Database
from prism_postgres.fastread import PreparedRead, Row
from prism_postgres.provisioning import Names
from prism_postgres.txn import group_commit

_LIVE = "(expires_at_ms IS NULL OR expires_at_ms > %(now)s)"
# Rows per purge statement: keeps each purge transaction (and its locks) short.
_PURGE_CHUNK = 5000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class KeyValueStore:
    """The `kv_<ns>` table and `kvseq_<ns>` sequence of one namespace."""

    def __init__(self, db: Database, names: Names, namespace: str) -> None:
        self.db = db
        self.n = names
        self._lock_salt = namespace.encode() + b"\x00"
        # The hot read: run on libpq directly (fastread.py), prepared once per connection.
        self._get = PreparedRead(
            b"prism_kv_get",
            sql.SQL(
                "SELECT key, value, version, expires_at_ms FROM {kv} "
                "WHERE key = ANY($1::bytea[]) AND (expires_at_ms IS NULL OR expires_at_ms > $2)"
            )
            .format(kv=names.kv)
            .as_bytes(None),
        )
        self._state = sql.SQL(
            "SELECT key, version, expires_at_ms FROM {kv} WHERE key = ANY(%(keys)s::bytea[])"
        ).format(kv=names.kv)
        self._upsert = sql.SQL(
            "INSERT INTO {kv} (key, value, version, expires_at_ms) "
            "SELECT * FROM unnest(%s::bytea[], %s::bytea[], %s::int8[], %s::int8[]) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
            "version = excluded.version, expires_at_ms = excluded.expires_at_ms"
        ).format(kv=names.kv)
        self._delete = sql.SQL("DELETE FROM {kv} WHERE key = ANY(%s::bytea[])").format(kv=names.kv)
        self._purge = sql.SQL(
            "DELETE FROM {kv} WHERE key IN (SELECT key FROM {kv} "
            "WHERE expires_at_ms <= %s LIMIT %s)"
        ).format(kv=names.kv)

    # -- reads ---------------------------------------------------------------------------

    async def get_many(self, keys: Sequence[bytes]) -> list[Item | None]:
        unique = list(dict.fromkeys(bytes(k) for k in keys))
        now = now_ms()

        async def run(conn: Conn) -> list[Row]:
            return await self._get.rows(conn, unique, now)

        found: dict[bytes, Item] = {row[0]: row for row in await self.db.read(run)}
        return [found.get(bytes(k)) for k in keys]

    async def scan(
        self, start: bytes, end: bytes | None, after: bytes | None, limit: int
    ) -> list[Item]:
        if limit <= 0:
            return []
        # A range on the primary key: bytea compares bytewise, so the index order is the
        # pattern's order and each page is one index range scan.
        where = ["key >= %(start)s", _LIVE]
        params: dict[str, Any] = {"start": bytes(start), "now": now_ms(), "limit": limit}
        if end is not None:
            where.append("key < %(end)s")
            params["end"] = bytes(end)
        if after is not None:
            where.append("key > %(after)s")
            params["after"] = bytes(after)
        query = sql.SQL(
            "SELECT key, value, version, expires_at_ms FROM {kv} WHERE "
            + " AND ".join(where)
            + " ORDER BY key LIMIT %(limit)s"
        ).format(kv=self.n.kv)

        async def run(conn: Conn) -> list[Any]:
            cur = await conn.execute(query, params, binary=True)
            return await cur.fetchall()

        return [
            (bytes(k), bytes(v), int(version), expires)
            for k, v, version, expires in await self.db.read(run)
        ]

    # -- writes --------------------------------------------------------------------------

    async def put_many(
        self, batches: Sequence[Sequence[PutEntry]]
    ) -> list[list[PutResult] | PrismError]:
        keys = [bytes(e[0]) for batch in batches for e in batch]
        async with self.db.connection() as conn:
            return await group_commit(conn, batches, self._put_batch, lambda c: self._lock(c, keys))

    async def delete_many(
        self, batches: Sequence[Sequence[DeleteEntry]]
    ) -> list[list[bool] | PrismError]:
        keys = [bytes(e[0]) for batch in batches for e in batch]
        async with self.db.connection() as conn:
            return await group_commit(
                conn, batches, self._delete_batch, lambda c: self._lock(c, keys)
            )

    async def purge_expired(self) -> int:
        """Delete expired rows (reads already hide them); returns how many."""
        total = 0
        while True:
            async with self.db.connection() as conn:
                cur = await conn.execute(self._purge, (now_ms(), _PURGE_CHUNK))
                total += cur.rowcount
            if cur.rowcount < _PURGE_CHUNK:
                return total

    # -- one atomic batch, inside the caller's transaction (and savepoint) ---------------

    async def _lock(self, conn: Conn, keys: Sequence[bytes]) -> None:
        ids = sorted({self._lock_id(k) for k in keys})
        if ids:
            # unnest yields the sorted array in order, so locks are taken in that order.
            await conn.execute(
                "SELECT count(pg_advisory_xact_lock(id)) FROM unnest(%s::int8[]) AS id", (ids,)
            )

    def _lock_id(self, key: bytes) -> int:
        digest = hashlib.blake2b(self._lock_salt + key, digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)

    async def _live_versions(self, conn: Conn, keys: list[bytes]) -> dict[bytes, int]:
        """Version of each live key among `keys` (missing and expired keys are absent)."""
        now = now_ms()
        cur = await conn.execute(self._state, {"keys": keys}, binary=True)
        return {
            bytes(k): int(v)
            for k, v, expires in await cur.fetchall()
            if expires is None or expires > now
        }

    async def _put_batch(self, conn: Conn, batch: Sequence[PutEntry]) -> list[PutResult]:
        keys = list(dict.fromkeys(bytes(e[0]) for e in batch))
        live = await self._live_versions(conn, keys)
        # Check every entry in order against the state the earlier entries leave behind.
        for key, _value, _expires, if_absent, if_version in batch:
            key = bytes(key)
            _check(key, live.get(key), if_absent, if_version)
            live[key] = -1  # written by this batch; its real version is assigned below
        versions = await self._next_versions(conn, len(batch))
        results: list[PutResult] = []
        final: dict[bytes, tuple[bytes, int, int | None]] = {}
        for (key, value, expires, _a, _v), version in zip(batch, versions, strict=True):
            final[bytes(key)] = (bytes(value), version, expires)  # a later entry wins
            results.append((version, expires))
        await conn.execute(
            self._upsert,
            (
                list(final),
                [v for v, _, _ in final.values()],
                [ver for _, ver, _ in final.values()],
                [exp for _, _, exp in final.values()],
            ),
        )
        return results

    async def _next_versions(self, conn: Conn, count: int) -> list[int]:
        cur = await conn.execute(
            "SELECT nextval(%s::regclass) FROM generate_series(1, %s)",
            (self.n.kv_seq_text, count),
        )
        # Sorted: entries of a batch get increasing versions in entry order.
        return sorted(int(v) for (v,) in await cur.fetchall())

    async def _delete_batch(self, conn: Conn, batch: Sequence[DeleteEntry]) -> list[bool]:
        keys = list(dict.fromkeys(bytes(e[0]) for e in batch))
        live: dict[bytes, int | None] = dict(await self._live_versions(conn, keys))
        results: list[bool] = []
        for key, if_version in batch:
            key = bytes(key)
            current = live.get(key)
            if if_version > 0 and current != if_version:
                _raise_version_mismatch(key, if_version, current)
            results.append(current is not None)
            live[key] = None
        # Also removes expired rows, which still report "not deleted".
        await conn.execute(self._delete, (keys,))
        return results


def _check(key: bytes, current: int | None, if_absent: bool, if_version: int) -> None:
    if if_absent and current is not None:
        raise AlreadyExists(f"key '{render_key(key)}' already exists")
    if if_version > 0 and current != if_version:
        _raise_version_mismatch(key, if_version, current)


def _raise_version_mismatch(key: bytes, expected: int, actual: int | None) -> None:
    if actual == -1:
        state = "was written earlier in the same batch"
    elif actual is None:
        state = "does not exist"
    else:
        state = f"is at version {actual}"
    raise FailedPrecondition(f"key '{render_key(key)}' {state}, expected version {expected}")
