"""KeyValue on SQLite: versioned items, TTL, CAS, atomic batches, bytewise scans."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence

from prism.errors import AlreadyExists, FailedPrecondition, PrismError
from prism.plugins.api import DeleteEntry, Item, PutEntry, PutResult, render_key

from prism_sqlite.txn import group_commit

# SQLite's default limit of host parameters per statement is 32766; stay well below.
_IN_CHUNK = 500
_LIVE = "(expires_at_ms IS NULL OR expires_at_ms > ?)"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class KeyValueStore:
    """The `kv` table of one namespace; every method runs synchronously."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def get_many(self, keys: Sequence[bytes]) -> list[Item | None]:
        found: dict[bytes, Item] = {}
        now = now_ms()
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), _IN_CHUNK):
            chunk = unique[i : i + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT key, value, version, expires_at_ms FROM kv "
                f"WHERE key IN ({marks}) AND {_LIVE}",
                (*chunk, now),
            )
            for key, value, version, expires in rows:
                found[bytes(key)] = (bytes(key), bytes(value), version, expires)
        return [found.get(bytes(key)) for key in keys]

    def put_many(self, batches: Sequence[Sequence[PutEntry]]) -> list[list[PutResult] | PrismError]:
        now = now_ms()
        return group_commit(self.conn, batches, lambda batch: self._put_batch(batch, now))

    def delete_many(
        self, batches: Sequence[Sequence[DeleteEntry]]
    ) -> list[list[bool] | PrismError]:
        now = now_ms()
        return group_commit(self.conn, batches, lambda batch: self._delete_batch(batch, now))

    def scan(self, start: bytes, end: bytes | None, after: bytes | None, limit: int) -> list[Item]:
        if limit <= 0:
            return []
        sql = f"SELECT key, value, version, expires_at_ms FROM kv WHERE key >= ? AND {_LIVE}"
        params: list[object] = [bytes(start), now_ms()]
        if end is not None:
            sql += " AND key < ?"
            params.append(bytes(end))
        if after is not None:
            sql += " AND key > ?"
            params.append(bytes(after))
        sql += " ORDER BY key LIMIT ?"
        params.append(limit)
        return [
            (bytes(k), bytes(v), version, expires)
            for k, v, version, expires in self.conn.execute(sql, params)
        ]

    def purge_expired(self) -> int:
        """Delete expired rows (reads already hide them); returns how many."""
        cur = self.conn.execute(
            "DELETE FROM kv WHERE expires_at_ms IS NOT NULL AND expires_at_ms <= ?", (now_ms(),)
        )
        return cur.rowcount

    # -- one atomic batch, inside the caller's SAVEPOINT --------------------------------

    def _live_version(self, key: bytes, now: int) -> int | None:
        row = self.conn.execute(
            f"SELECT version FROM kv WHERE key = ? AND {_LIVE}", (key, now)
        ).fetchone()
        return None if row is None else int(row[0])

    def _put_batch(self, batch: Sequence[PutEntry], now: int) -> list[PutResult]:
        (version,) = self.conn.execute(
            "SELECT value FROM meta WHERE name = 'kv_version'"
        ).fetchone()
        results: list[PutResult] = []
        for key, value, expires_at_ms, if_absent, if_version in batch:
            key = bytes(key)
            current = self._live_version(key, now)
            if if_absent and current is not None:
                raise AlreadyExists(f"key '{render_key(key)}' already exists")
            if if_version > 0 and current != if_version:
                _raise_version_mismatch(key, if_version, current)
            version += 1
            self.conn.execute(
                "INSERT INTO kv (key, value, version, expires_at_ms) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                "version = excluded.version, expires_at_ms = excluded.expires_at_ms",
                (key, bytes(value), version, expires_at_ms),
            )
            results.append((version, expires_at_ms))
        # The counter only grows, also across deletes: a re-created key never gets a
        # version a client may still hold, so CAS has no ABA problem.
        self.conn.execute("UPDATE meta SET value = ? WHERE name = 'kv_version'", (version,))
        return results

    def _delete_batch(self, batch: Sequence[DeleteEntry], now: int) -> list[bool]:
        results: list[bool] = []
        for key, if_version in batch:
            key = bytes(key)
            current = self._live_version(key, now)
            if if_version > 0 and current != if_version:
                _raise_version_mismatch(key, if_version, current)
            # Also removes an expired row, which still reports "not deleted".
            self.conn.execute("DELETE FROM kv WHERE key = ?", (key,))
            results.append(current is not None)
        return results


def _raise_version_mismatch(key: bytes, expected: int, actual: int | None) -> None:
    state = "does not exist" if actual is None else f"is at version {actual}"
    raise FailedPrecondition(f"key '{render_key(key)}' {state}, expected version {expected}")
