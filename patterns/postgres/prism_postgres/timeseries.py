"""TimeSeries on PostgreSQL: idempotent durable appends, ordered queries, SQL aggregates.

One table per namespace with PRIMARY KEY (series_id, time_ns, event_id): the key is the
idempotency key of an append (ON CONFLICT DO NOTHING keeps the first event) and its index
serves every time-range read in (time_ns, event_id) order, in either direction. Tag filters
(`tags @> filter`) and bucket aggregation run in SQL, so only matching rows or finished
buckets cross the wire.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from prism.errors import InvalidArgument, PrismError
from prism.plugins.api import AppendResult, Bucket, Event, EventCursor
from psycopg import sql

from prism_postgres.db import Conn, Database
from prism_postgres.provisioning import Names
from prism_postgres.txn import group_commit

_COLUMNS = "series_id, time_ns, event_id, tags, value, payload"


class TimeSeriesStore:
    """The `ts_<ns>` table of one namespace."""

    def __init__(self, db: Database, names: Names) -> None:
        self.db = db
        self.n = names
        # One statement per batch whatever its size; duplicates (stored before, or twice
        # in the batch) are skipped by ON CONFLICT DO NOTHING and rowcount counts the rest.
        self._insert = sql.SQL(
            "INSERT INTO {ts} (" + _COLUMNS + ") "
            "SELECT s, t, e, g::jsonb, v, p FROM unnest("
            "%s::text[], %s::int8[], %s::text[], %s::text[], %s::float8[], %s::bytea[]"
            ") AS u(s, t, e, g, v, p) "
            "ON CONFLICT DO NOTHING"
        ).format(ts=names.ts)

    async def append_many(
        self, batches: Sequence[Sequence[Event]]
    ) -> list[AppendResult | PrismError]:
        # COMMIT returns after the WAL is flushed (synchronous_commit=on, the server
        # default), so an acknowledged append is durable.
        async with self.db.connection() as conn:
            return await group_commit(conn, batches, self._append_batch)

    async def _append_batch(self, conn: Conn, batch: Sequence[Event]) -> AppendResult:
        if not batch:
            return (0, 0)
        columns: tuple[list[Any], ...] = ([], [], [], [], [], [])
        for series_id, time_ns, event_id, tags, value, payload in batch:
            columns[0].append(series_id)
            columns[1].append(time_ns)
            columns[2].append(event_id)
            columns[3].append(_canonical_tags(tags))
            columns[4].append(None if value is None else float(value))
            columns[5].append(bytes(payload or b""))
        cur = await conn.execute(self._insert, columns)
        appended = max(cur.rowcount, 0)
        return (appended, len(batch) - appended)

    async def query(
        self,
        series_id: str,
        start_ns: int,
        end_ns: int,
        tag_filter: Mapping[str, str],
        descending: bool,
        after: EventCursor | None,
        limit: int,
    ) -> list[Event]:
        if limit <= 0:
            return []
        where, params = self._range(series_id, start_ns, end_ns, tag_filter)
        order = "DESC" if descending else "ASC"
        if after is not None:
            # A row comparison on the index columns: keyset pagination in index order.
            where.append(
                f"(time_ns, event_id) {'<' if descending else '>'} "
                "(%(after_t)s::int8, %(after_e)s::text)"
            )
            params["after_t"], params["after_e"] = after
        params["limit"] = limit
        query = sql.SQL(
            "SELECT "
            + _COLUMNS
            + " FROM {ts} WHERE "
            + " AND ".join(where)
            + f" ORDER BY time_ns {order}, event_id {order} LIMIT %(limit)s"
        ).format(ts=self.n.ts)

        async def run(conn: Conn) -> list[Any]:
            cur = await conn.execute(query, params, binary=True)
            return await cur.fetchall()

        return [
            (s, int(t), e, dict(tags), None if v is None else float(v), bytes(p))
            for s, t, e, tags, v, p in await self.db.read(run)
        ]

    async def aggregate(
        self,
        series_id: str,
        start_ns: int,
        end_ns: int,
        width_ns: int,
        tag_filter: Mapping[str, str],
    ) -> list[Bucket]:
        if width_ns <= 0:
            raise InvalidArgument(f"bucket width must be > 0 ns, got {width_ns}")
        where, params = self._range(series_id, start_ns, end_ns, tag_filter)
        params["width"] = width_ns
        # time_ns >= start, so integer division floors; count(value), sum, min and max
        # ignore NULL values, as the Bucket contract wants.
        query = sql.SQL(
            "SELECT %(start)s::int8 + ((time_ns - %(start)s::int8) / %(width)s::int8)"
            " * %(width)s::int8 AS bucket,"
            " count(*), count(value), coalesce(sum(value), 0), min(value), max(value)"
            " FROM {ts} WHERE " + " AND ".join(where) + " GROUP BY bucket ORDER BY bucket"
        ).format(ts=self.n.ts)

        async def run(conn: Conn) -> list[Any]:
            cur = await conn.execute(query, params, binary=True)
            return await cur.fetchall()

        return [
            (int(b), int(n), int(nv), float(s), float(lo or 0.0), float(hi or 0.0))
            for b, n, nv, s, lo, hi in await self.db.read(run)
        ]

    @staticmethod
    def _range(
        series_id: str, start_ns: int, end_ns: int, tag_filter: Mapping[str, str]
    ) -> tuple[list[str], dict[str, Any]]:
        where = [
            "series_id = %(series)s::text",
            "time_ns >= %(start)s::int8",
            "time_ns < %(end)s::int8",
        ]
        params: dict[str, Any] = {"series": series_id, "start": start_ns, "end": end_ns}
        if tag_filter:
            where.append("tags @> %(tags)s::jsonb")
            params["tags"] = _canonical_tags(tag_filter)
        return where, params


def _canonical_tags(tags: Mapping[str, str] | None) -> str:
    return json.dumps(dict(tags or {}), sort_keys=True, separators=(",", ":"))
