"""TimeSeries on Redis: an exactly ordered index per series plus a Redis Stream feed.

Why not the stream alone: stream entry ids are `<ms>-<seq>` and must grow with every
XADD, so an id derived from the event time cannot hold nanoseconds, cannot take an event
older than the newest one (backfill, out-of-order producers), and cannot tell a retried
event from a new one. So each series keeps:

- `tsidx:<series>`: a sorted set, all scores 0, member = 8-byte big-endian time_ns
  (offset by 2^63 so negative times sort first) followed by the UTF-8 event id. Equal
  scores order members bytewise, which is exactly (time_ns, event_id) order, so
  ZRANGE ... BYLEX [REV] LIMIT reads a time range in either direction, and a cursor is
  just the last member. ZADD NX makes appends idempotent.
- `tsev:<series>`: a hash member -> event body (tags, value, payload).
- `ts:<series>`: a Redis Stream (XADD `*`, trimmed with MAXLEN ~) carrying every newly
  appended event in arrival order, for consumers outside Prism (XREAD / XRANGE by
  arrival time). Queries never read it.

One Lua script appends a whole batch (all its series) atomically. Durability comes from
the server: run Redis with `appendonly yes` and `appendfsync always`, so the reply to
the script is sent only after the AOF write is fsynced.
"""

from __future__ import annotations

import json
import struct
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing

from prism.errors import PrismError
from prism.plugins.api import AppendResult, Bucket, Event, EventCursor
from prism.plugins.buckets import BucketAccumulator
from redis.asyncio import Redis

from prism_redis import scripts
from prism_redis.errors import map_error
from prism_redis.keyspace import Keyspace

_TIME = struct.Struct(">Q")
_OFFSET = 1 << 63
_VALUE = struct.Struct(">d")
_TAGS_LEN = struct.Struct(">I")
# Members per RANGE script call; stays below Lua's unpack() limit (~8000).
_MIN_CHUNK = 256
_MAX_CHUNK = 4000


def encode_time(time_ns: int) -> bytes:
    return _TIME.pack(min(max(time_ns, -_OFFSET), _OFFSET - 1) + _OFFSET)


def member(time_ns: int, event_id: str) -> bytes:
    return encode_time(time_ns) + event_id.encode()


def encode_body(tags: Mapping[str, str], value: float | None, payload: bytes) -> bytes:
    """[0 | 1 + f64 value] [u32 tags length] [tags JSON] [payload], big-endian."""
    tags_json = json.dumps(dict(tags), sort_keys=True, separators=(",", ":")).encode()
    head = b"\x00" if value is None else b"\x01" + _VALUE.pack(float(value))
    return head + _TAGS_LEN.pack(len(tags_json)) + tags_json + bytes(payload)


def decode_event(series_id: str, raw_member: bytes, body: bytes) -> Event:
    time_ns = _TIME.unpack_from(raw_member)[0] - _OFFSET
    event_id = raw_member[_TIME.size :].decode()
    pos, value = 1, None
    if body[0] == 1:
        value, pos = _VALUE.unpack_from(body, 1)[0], 1 + _VALUE.size
    (n,) = _TAGS_LEN.unpack_from(body, pos)
    pos += _TAGS_LEN.size
    tags = json.loads(body[pos : pos + n])
    return (series_id, time_ns, event_id, tags, value, bytes(body[pos + n :]))


class TimeSeriesStore:
    """The TimeSeries keys of one namespace."""

    def __init__(self, client: Redis, keyspace: Keyspace, stream_maxlen: int) -> None:
        self.client = client
        self.ks = keyspace
        self.stream_maxlen = stream_maxlen

    async def append_many(
        self, batches: Sequence[Sequence[Event]]
    ) -> list[AppendResult | PrismError]:
        calls: list[scripts.Call] = []
        for batch in batches:
            series_no: dict[str, int] = {}
            keys: list[bytes] = []
            args: list[bytes | str | int] = [self.stream_maxlen]
            for series_id, time_ns, event_id, tags, value, payload in batch:
                if series_id not in series_no:
                    series_no[series_id] = len(series_no) + 1
                    ks = self.ks
                    keys += [
                        ks.ts_index(series_id),
                        ks.ts_events(series_id),
                        ks.ts_stream(series_id),
                    ]
                args += [
                    series_no[series_id],
                    member(time_ns, event_id),
                    encode_body(tags or {}, value, payload or b""),
                    str(time_ns),
                    event_id,
                ]
            calls.append((scripts.ALL["append"], keys, args))
        replies = await scripts.run(self.client, calls)
        return [
            map_error(r) if isinstance(r, BaseException) else (int(r[0]), int(r[1]))
            for r in replies
        ]

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
        wanted = dict(tag_filter or {})
        # Without a filter every event matches, so one chunk of exactly `limit` suffices;
        # with one, keep reading chunks until `limit` matches or the range ends.
        chunk = (
            min(limit, _MAX_CHUNK) if not wanted else min(max(limit * 4, _MIN_CHUNK), _MAX_CHUNK)
        )
        out: list[Event] = []
        events = self._events(series_id, start_ns, end_ns, descending, after, chunk)
        async with aclosing(events):  # stop reading as soon as the page is full
            async for event in events:
                if _matches(event[3], wanted):
                    out.append(event)
                    if len(out) >= limit:
                        break
        return out

    async def aggregate(
        self,
        series_id: str,
        start_ns: int,
        end_ns: int,
        width_ns: int,
        tag_filter: Mapping[str, str],
    ) -> list[Bucket]:
        acc = BucketAccumulator(start_ns, width_ns)
        wanted = dict(tag_filter or {})
        async for _, time_ns, _, tags, value, _ in self._events(
            series_id, start_ns, end_ns, False, None, _MAX_CHUNK
        ):
            if _matches(tags, wanted):
                acc.add(time_ns, value)
        return acc.buckets()

    async def _events(
        self,
        series_id: str,
        start_ns: int,
        end_ns: int,
        descending: bool,
        after: EventCursor | None,
        chunk: int,
    ) -> AsyncGenerator[Event, None]:
        """Events of [start_ns, end_ns) in (time_ns, event_id) order, chunk by chunk."""
        if start_ns >= end_ns:
            return
        low, high = b"[" + encode_time(start_ns), b"(" + encode_time(end_ns)
        if after is not None:
            cursor = member(*after)
            if descending and cursor < encode_time(end_ns):
                high = b"(" + cursor
            elif not descending and cursor >= encode_time(start_ns):
                low = b"(" + cursor
        keys = [self.ks.ts_index(series_id), self.ks.ts_events(series_id)]
        while True:
            first, last, rev = (high, low, "1") if descending else (low, high, "0")
            (reply,) = await scripts.run(
                self.client, [(scripts.ALL["range"], keys, [first, last, rev, chunk])]
            )
            if isinstance(reply, BaseException):
                raise map_error(reply)
            members, bodies = reply
            for raw, body in zip(members, bodies, strict=True):
                if body is not None:  # written together; a gap would be a foreign write
                    yield decode_event(series_id, raw, body)
            if len(members) < chunk:
                return
            if descending:
                high = b"(" + members[-1]
            else:
                low = b"(" + members[-1]


def _matches(tags: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    return all(tags.get(k) == v for k, v in wanted.items())
