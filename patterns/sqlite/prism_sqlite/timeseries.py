"""TimeSeries on SQLite: idempotent durable appends, ordered queries, bucket aggregates.

Tags are stored as canonical JSON and filtered in Python after the SQL range selection
(keeps the schema free of per-tag indexes); queries keep fetching chunks until they have
`limit` matches or the range is exhausted.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from prism.errors import InvalidArgument, PrismError
from prism.plugins.api import AppendResult, Bucket, Event, EventCursor
from prism.plugins.buckets import BucketAccumulator

from prism_sqlite.txn import group_commit

_MIN_CHUNK = 256
_MAX_CHUNK = 8192
_COLUMNS = "series_id, time_ns, event_id, tags, value, payload"


class TimeSeriesStore:
    """The `ts_events` table of one namespace; every method runs synchronously."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def append_many(self, batches: Sequence[Sequence[Event]]) -> list[AppendResult | PrismError]:
        return group_commit(self.conn, batches, self._append_batch)

    def query(
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
        wanted = dict(tag_filter or {})
        # Without a filter every row matches, so one chunk of exactly `limit` suffices.
        chunk = limit if not wanted else min(max(limit * 4, _MIN_CHUNK), _MAX_CHUNK)
        out: list[Event] = []
        for row in self._rows(series_id, start_ns, end_ns, descending, after, chunk):
            event = _event(row)
            if _matches(event[3], wanted):
                out.append(event)
                if len(out) >= limit:
                    break
        return out

    def aggregate(
        self,
        series_id: str,
        start_ns: int,
        end_ns: int,
        width_ns: int,
        tag_filter: Mapping[str, str],
    ) -> list[Bucket]:
        if width_ns <= 0:
            raise InvalidArgument(f"bucket width must be > 0 ns, got {width_ns}")
        wanted = dict(tag_filter or {})
        if not wanted:  # let SQLite do the arithmetic; t >= start_ns so `/` floors.
            rows = self.conn.execute(
                "SELECT ? + ((time_ns - ?) / ?) * ? AS bucket, count(*), count(value), "
                "total(value), min(value), max(value) FROM ts_events "
                "WHERE series_id = ? AND time_ns >= ? AND time_ns < ? "
                "GROUP BY bucket ORDER BY bucket",
                (start_ns, start_ns, width_ns, width_ns, series_id, start_ns, end_ns),
            )
            return [
                (int(b), int(n), int(nv), float(s), float(lo or 0.0), float(hi or 0.0))
                for b, n, nv, s, lo, hi in rows
            ]
        acc = BucketAccumulator(start_ns, width_ns)
        for row in self._rows(series_id, start_ns, end_ns, False, None, _MAX_CHUNK):
            time_ns, tags, value = row[1], json.loads(row[3]), row[4]
            if _matches(tags, wanted):
                acc.add(time_ns, value)
        return acc.buckets()

    # -- helpers -------------------------------------------------------------------------

    def _append_batch(self, batch: Sequence[Event]) -> AppendResult:
        appended = 0
        for series_id, time_ns, event_id, tags, value, payload in batch:
            cur = self.conn.execute(
                f"INSERT OR IGNORE INTO ts_events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    series_id,
                    time_ns,
                    event_id,
                    json.dumps(dict(tags or {}), sort_keys=True, separators=(",", ":")),
                    None if value is None else float(value),
                    bytes(payload or b""),
                ),
            )
            appended += cur.rowcount
        return (appended, len(batch) - appended)

    def _rows(
        self,
        series_id: str,
        start_ns: int,
        end_ns: int,
        descending: bool,
        after: EventCursor | None,
        chunk: int,
    ) -> Iterator[tuple[Any, ...]]:
        """Rows of the range in (time_ns, event_id) order, fetched in keyset-paged chunks."""
        cmp, order = ("<", "DESC") if descending else (">", "ASC")
        cursor = after
        while True:
            sql = (
                f"SELECT {_COLUMNS} FROM ts_events "
                "WHERE series_id = ? AND time_ns >= ? AND time_ns < ?"
            )
            params: list[Any] = [series_id, start_ns, end_ns]
            if cursor is not None:
                sql += f" AND (time_ns, event_id) {cmp} (?, ?)"
                params += [cursor[0], cursor[1]]
            sql += f" ORDER BY time_ns {order}, event_id {order} LIMIT ?"
            params.append(chunk)
            rows = self.conn.execute(sql, params).fetchall()
            yield from rows
            if len(rows) < chunk:
                return
            cursor = (rows[-1][1], rows[-1][2])


def _event(row: tuple[Any, ...]) -> Event:
    series_id, time_ns, event_id, tags, value, payload = row
    return (series_id, time_ns, event_id, json.loads(tags), value, bytes(payload))


def _matches(tags: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    return all(tags.get(k) == v for k, v in wanted.items())
