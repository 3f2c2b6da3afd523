"""TimeSeries on a JetStream stream: one subject per series, events as messages.

- Append: one publish per event, all in flight at once, each acknowledged by the server
  after it is stored (and replicated, with replicas > 1): the PubAck is the durability
  point. Idempotency: `Nats-Msg-Id` = hash(series, time_ns, event_id), so the server
  drops a re-append within the stream's duplicate window (counted as a duplicate). A
  re-append after the window is stored again; reads keep the first copy only, so the
  stored event is never changed, but that late re-append counts as appended.
- Query / aggregate: streams are ordered by arrival, not event time, so a read consumes
  every message of the series subject (an ephemeral consumer, see reader.py), then
  de-duplicates, filters, sorts and pages in Python: O(events of the series) per page.
- Message body: a one-line JSON head `[time_ns, event_id, tags, value]`, a newline, then
  the raw payload bytes (JSON escapes newlines, so the first one ends the head).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from nats.js import JetStreamContext
from prism.errors import InvalidArgument, PrismError
from prism.plugins.api import AppendResult, Bucket, Event, EventCursor
from prism.plugins.buckets import BucketAccumulator

from prism_nats.errors import map_error
from prism_nats.names import Names, event_msg_id
from prism_nats.reader import read_all

MSG_ID = "Nats-Msg-Id"
# Series ids become 2 subject characters per byte; see keyvalue.MAX_KEY_BYTES.
MAX_SERIES_BYTES = 1000
MAX_IN_FLIGHT = 256

# (time_ns, event_id, tags, value, payload): an event of a known series.
Stored = tuple[int, str, dict[str, str], float | None, bytes]


def encode_event(
    time_ns: int, event_id: str, tags: Mapping[str, str], value: float | None, payload: bytes
) -> bytes:
    head = json.dumps(
        [int(time_ns), str(event_id), dict(tags or {}), None if value is None else float(value)],
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return head.encode("ascii") + b"\n" + bytes(payload or b"")


def decode_event(data: bytes) -> Stored:
    head, _, payload = data.partition(b"\n")
    time_ns, event_id, tags, value = json.loads(head)
    return (int(time_ns), event_id, tags, value, payload)


class TimeSeriesStore:
    """The TimeSeries stream of one namespace."""

    def __init__(self, js: JetStreamContext, names: Names, timeout_s: float) -> None:
        self.js, self.names, self.timeout_s = js, names, timeout_s
        self._gate = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def append_many(
        self, batches: Sequence[Sequence[Event]]
    ) -> list[AppendResult | PrismError]:
        return list(await asyncio.gather(*(self._append_batch(b) for b in batches)))

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
        selected = [
            e
            for e in await self._series(series_id, start_ns, end_ns, tag_filter)
            if after is None
            or ((e[0], e[1]) < tuple(after) if descending else (e[0], e[1]) > tuple(after))
        ]
        selected.sort(key=lambda e: (e[0], e[1]), reverse=descending)
        return [
            (series_id, t, eid, tags, value, payload)
            for t, eid, tags, value, payload in selected[:limit]
        ]

    async def aggregate(
        self,
        series_id: str,
        start_ns: int,
        end_ns: int,
        width_ns: int,
        tag_filter: Mapping[str, str],
    ) -> list[Bucket]:
        acc = BucketAccumulator(start_ns, width_ns)
        for time_ns, _, _, value, _ in await self._series(series_id, start_ns, end_ns, tag_filter):
            acc.add(time_ns, value)
        return acc.buckets()

    # -- helpers -------------------------------------------------------------------------

    async def _append_batch(self, batch: Sequence[Event]) -> AppendResult | PrismError:
        try:
            for series_id, *_ in batch:
                _check_series(series_id)
            duplicates = await asyncio.gather(*(self._append_one(e) for e in batch))
        except Exception as exc:  # one request's failure is its own answer
            return map_error(exc)
        dups = sum(duplicates)
        return (len(batch) - dups, dups)

    async def _append_one(self, event: Event) -> bool:
        """Publish one event; True when the server reports it as a duplicate."""
        series_id, time_ns, event_id, tags, value, payload = event
        async with self._gate:
            ack = await self.js.publish(
                self.names.series_subject(series_id),
                encode_event(time_ns, event_id, tags, value, payload),
                headers={MSG_ID: event_msg_id(series_id, int(time_ns), str(event_id))},
            )
        return bool(ack.duplicate)

    async def _series(
        self, series_id: str, start_ns: int, end_ns: int, tag_filter: Mapping[str, str]
    ) -> list[Stored]:
        """Events of the series in [start_ns, end_ns) matching the filter, first copies only."""
        if len(series_id.encode("utf-8")) > MAX_SERIES_BYTES:
            return []  # never stored: appends refuse such series ids
        msgs = await read_all(
            self.js,
            self.names.ts_stream,
            self.names.series_subject(series_id),
            last_per_subject=False,
            timeout_s=self.timeout_s,
        )
        return list(_select(msgs_data(msgs), start_ns, end_ns, dict(tag_filter or {})))


def msgs_data(msgs: Iterable[Any]) -> Iterable[bytes]:
    return (m.data for m in msgs)


def _select(
    bodies: Iterable[bytes], start_ns: int, end_ns: int, wanted: Mapping[str, str]
) -> Iterable[Stored]:
    seen: set[tuple[int, str]] = set()
    for body in bodies:
        event = decode_event(body)
        ident = (event[0], event[1])
        if ident in seen:  # a re-append after the duplicate window: keep the first
            continue
        seen.add(ident)
        if start_ns <= event[0] < end_ns and all(event[2].get(k) == v for k, v in wanted.items()):
            yield event


def _check_series(series_id: str) -> None:
    size = len(series_id.encode("utf-8"))
    if size > MAX_SERIES_BYTES:
        raise InvalidArgument(
            f"series id is {size} bytes; the nats backend takes at most {MAX_SERIES_BYTES}"
        )
