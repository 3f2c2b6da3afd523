"""TimeSeries on one Kafka topic: idempotent durable appends, range queries, aggregates.

Message key = series id, message timestamp = event time in ms, value = codec.encode(event).

Append idempotency. The idempotent producer (enable_idempotence, acks=all) removes the
duplicates its OWN retries would create, not a client re-sending an append. So before
producing, the events already stored at the batch's exact times are looked up (one
offsets_for_times per partition at the batch's oldest ms, then a forward read) and
skipped as duplicates. Appends of one plugin instance are serialized by a lock, so the
check and the produce cannot interleave within one proxy. Two proxies appending the same
event at the same moment can both store it; queries then keep the first copy in log order
(the same "first write wins" a reader of one copy would see), so only the counts reported
by those two appends are off.

Queries scan the series' partition from offsets_for_times(start) to the high watermark
(see reader.py), then filter, de-duplicate, sort and page in Python.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.partitioner import murmur2
from prism.errors import InvalidArgument, PrismError, Unavailable
from prism.plugins.api import AppendResult, Bucket, Event, EventCursor
from prism.plugins.buckets import BucketAccumulator

from prism_kafka import codec
from prism_kafka.config import KafkaConfig
from prism_kafka.errors import map_error
from prism_kafka.reader import LogReader

log = logging.getLogger(__name__)

NS_PER_MS = 1_000_000
#: Stay below the producer's max_request_size (1 MiB) with room for the batch header.
MAX_VALUE_BYTES = 1_000_000
Ident = tuple[str, int, str]  # (series_id, time_ns, event_id)


class Message:
    """One event ready to produce."""

    __slots__ = ("ident", "key", "ms", "partition", "value")

    def __init__(self, event: Event, partitions: int) -> None:
        series_id, time_ns, event_id = event[0], event[1], event[2]
        if time_ns < 0:
            raise InvalidArgument(
                f"event '{event_id}' of series '{series_id}': kafka cannot store event "
                "times before 1970-01-01 (message timestamps are unsigned)"
            )
        self.ident: Ident = (series_id, time_ns, event_id)
        self.key = series_id.encode("utf-8")
        self.ms = time_ns // NS_PER_MS
        self.partition = partition_of(self.key, partitions)
        self.value = codec.encode(event)
        if len(self.value) > MAX_VALUE_BYTES:
            raise InvalidArgument(
                f"event '{event_id}' of series '{series_id}' encodes to {len(self.value)} "
                f"bytes, over kafka's {MAX_VALUE_BYTES}-byte message limit"
            )


def partition_of(key: bytes, partitions: int) -> int:
    """The partition the Java client's default partitioner picks for `key`."""
    return int((murmur2(key) & 0x7FFFFFFF) % partitions)


class TimeSeriesStore:
    """The topic of one namespace."""

    def __init__(
        self,
        config: KafkaConfig,
        topic: str,
        partitions: int,
        producer: Callable[[], Awaitable[AIOKafkaProducer]],
        on_produce_failure: Callable[[], None],
    ) -> None:
        self.config = config
        self.topic = topic
        self.partitions = partitions
        self.reader = LogReader(config, topic, partitions)
        self._producer = producer
        self._on_produce_failure = on_produce_failure
        self._append_lock = asyncio.Lock()

    # -- append ------------------------------------------------------------------------

    async def append_many(
        self, batches: Sequence[Sequence[Event]]
    ) -> list[AppendResult | PrismError]:
        results: list[AppendResult | PrismError | None] = [None] * len(batches)
        prepared: list[list[Message]] = []
        for i, batch in enumerate(batches):
            try:
                prepared.append([Message(event, self.partitions) for event in batch])
            except (PrismError, ValueError, TypeError, OverflowError, AttributeError) as exc:
                results[i] = exc if isinstance(exc, PrismError) else InvalidArgument(str(exc))
                prepared.append([])
        # Waiting behind an earlier, failing append counts against the same timeout, so a
        # broker outage is answered with UNAVAILABLE rather than left to the deadline.
        wait_s = self.config.request_timeout_ms / 1000
        try:
            async with asyncio.timeout(wait_s):
                await self._append_lock.acquire()
        except TimeoutError:
            busy = Unavailable(f"kafka: an earlier append is still pending after {wait_s:g} s")
            return [r if r is not None else busy for r in results]
        try:
            seen = await self._stored([m for msgs in prepared for m in msgs])
            plans: list[tuple[list[Message], int]] = []
            for msgs in prepared:
                fresh = []
                for m in msgs:
                    if m.ident not in seen:
                        seen.add(m.ident)  # also a duplicate later in this same call
                        fresh.append(m)
                plans.append((fresh, len(msgs) - len(fresh)))
            errors = await self._produce([fresh for fresh, _ in plans])
        finally:
            self._append_lock.release()
        for i, ((fresh, dups), error) in enumerate(zip(plans, errors, strict=True)):
            if results[i] is None:
                results[i] = error if error is not None else (len(fresh), dups)
        return [r for r in results if r is not None]

    async def _stored(self, messages: Sequence[Message]) -> set[Ident]:
        """Which of `messages` are already in the topic (reads each partition from the
        oldest ms of the batch)."""
        if not messages:
            return set()
        starts: dict[int, int] = {}
        for m in messages:
            starts[m.partition] = min(m.ms, starts.get(m.partition, m.ms))
        wanted = {m.ident for m in messages}
        keys = {m.key for m in messages}
        times = {m.ms for m in messages}
        found: set[Ident] = set()

        def visit(record: ConsumerRecord[bytes, bytes]) -> None:
            if record.key in keys and record.timestamp in times:
                ident = _ident(codec.decode(record.value))
                if ident in wanted:
                    found.add(ident)

        await self._read(self.reader.read(starts, visit))
        return found

    async def _produce(self, plans: Sequence[Sequence[Message]]) -> list[PrismError | None]:
        """Send every message, then wait for all acknowledgements (acks=all): one flush
        per call. Returns per batch None or the error of its first failed send."""
        if not any(plans):
            return [None] * len(plans)
        try:
            producer = await self._producer()
        except Exception as exc:
            down = map_error(exc)
            return [down if msgs else None for msgs in plans]
        futures: list[list[asyncio.Future[Any]]] = [[] for _ in plans]

        async def send_all() -> None:
            for i, msgs in enumerate(plans):
                for m in msgs:
                    fut = await producer.send(
                        self.topic, m.value, key=m.key, partition=m.partition, timestamp_ms=m.ms
                    )
                    futures[i].append(fut)
            await asyncio.wait([f for fs in futures for f in fs])

        timeout_s = self.config.request_timeout_ms / 1000
        failed: PrismError | None = None
        try:
            async with asyncio.timeout(timeout_s):
                await send_all()
        except Exception as exc:
            failed = map_error(exc)
            if isinstance(exc, TimeoutError):
                failed = Unavailable(f"kafka: append not acknowledged within {timeout_s:g} s")
        errors: list[PrismError | None] = []
        for i, msgs in enumerate(plans):
            error: PrismError | None = None
            for fut in futures[i]:
                if not fut.done():
                    error = failed or Unavailable("kafka: append not acknowledged")
                elif fut.exception() is not None:
                    error = map_error(fut.exception() or Exception())
                if error is not None:
                    break
            if error is None and len(futures[i]) < len(msgs):
                error = failed or Unavailable("kafka: append was not sent")
            errors.append(error)
        if any(e is not None for e in errors):
            # An idempotent producer that lost track of a sequence (e.g. after a timeout)
            # may refuse later sends: start a fresh one for the next call.
            self._on_produce_failure()
        return errors

    # -- query / aggregate ---------------------------------------------------------------

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
        events = await self._range(series_id, start_ns, end_ns, tag_filter)
        if after is not None:
            cursor = (after[0], after[1])
            if descending:
                events = [e for e in events if (e[1], e[2]) < cursor]
            else:
                events = [e for e in events if (e[1], e[2]) > cursor]
        if descending:
            events.reverse()
        return events[:limit]

    async def aggregate(
        self,
        series_id: str,
        start_ns: int,
        end_ns: int,
        width_ns: int,
        tag_filter: Mapping[str, str],
    ) -> list[Bucket]:
        acc = BucketAccumulator(start_ns, width_ns)
        for _, time_ns, _, _, value, _ in await self._range(
            series_id, start_ns, end_ns, tag_filter
        ):
            acc.add(time_ns, value)
        return acc.buckets()

    async def _range(
        self, series_id: str, start_ns: int, end_ns: int, tag_filter: Mapping[str, str]
    ) -> list[Event]:
        """Events of the series in [start_ns, end_ns) matching the filter, ascending by
        (time_ns, event_id), the first stored copy of each."""
        if end_ns <= start_ns or end_ns <= 0:
            return []
        start_ns = max(start_ns, 0)
        key = series_id.encode("utf-8")
        first_ms, last_ms = start_ns // NS_PER_MS, (end_ns - 1) // NS_PER_MS
        wanted = dict(tag_filter or {})
        found: dict[tuple[int, str], Event] = {}

        def visit(record: ConsumerRecord[bytes, bytes]) -> None:
            if record.key != key or not first_ms <= record.timestamp <= last_ms:
                return
            event = codec.decode(record.value)
            if start_ns <= event[1] < end_ns:
                found.setdefault((event[1], event[2]), event)

        partition = partition_of(key, self.partitions)
        await self._read(self.reader.read({partition: first_ms}, visit))
        return [
            found[k]
            for k in sorted(found)
            if all(found[k][3].get(t) == v for t, v in wanted.items())
        ]

    async def _read(self, read: Awaitable[None]) -> None:
        """Run a read; the reader reports stalls itself, driver errors are mapped here."""
        try:
            await read
        except PrismError:
            raise
        except Exception as exc:
            raise map_error(exc) from exc


def _ident(event: Event) -> Ident:
    return (event[0], event[1], event[2])
