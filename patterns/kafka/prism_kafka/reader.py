"""Time-range reads of the namespace topic with a small pool of dedicated consumers.

A read finds, per partition, the first offset whose timestamp is >= the start time
(`offsets_for_times`), and reads forward from there up to the high watermark taken when
the read began. It does NOT stop at the first timestamp past the end of the range:
appends may arrive out of time order (back-fills, several clients), so a later offset can
still carry an earlier time. Kafka's guarantee is only that every offset before the one
offsets_for_times returns has an older timestamp — which is what makes the start cut safe.

Consumers have no group (manual assignment, nothing committed). Each is assigned every
partition but keeps them paused between reads, so an idle consumer sends no fetches; one
consumer serves one read at a time, hence the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from prism.errors import Unavailable

from prism_kafka.config import KafkaConfig

log = logging.getLogger(__name__)

#: Broker-side wait of a fetch with no new data. Partitions are paused as soon as a read
#: reaches its high watermark, so a short wait costs nothing while idle, and it bounds how
#: long a leftover in-flight fetch can delay the next read on the same consumer.
FETCH_MAX_WAIT_MS = 20
#: Records per getmany() call: large enough to amortize, small enough to stay responsive.
MAX_RECORDS = 2000

Keep = Callable[[ConsumerRecord[bytes, bytes]], None]


class LogReader:
    """Reads `[offsets_for_times(start), high watermark)` of partitions of one topic."""

    def __init__(self, config: KafkaConfig, topic: str, partitions: int) -> None:
        self.config = config
        self.topic = topic
        self.tps = [TopicPartition(topic, p) for p in range(partitions)]
        self._idle: list[AIOKafkaConsumer] = []
        self._slots = asyncio.Semaphore(config.readers)
        self._closing: set[asyncio.Task[None]] = set()

    async def read(self, starts: Mapping[int, int], visit: Keep) -> None:
        """Call `visit` on every record at or after each partition's start time (ms)."""
        async with self._consumer() as consumer:
            found = await consumer.offsets_for_times(
                {self.tps[p]: max(0, ms) for p, ms in starts.items()}
            )
            # None: no record of that partition is as new as the start time.
            lows = {tp: hit.offset for tp, hit in found.items() if hit is not None}
            if not lows:
                return
            highs = await consumer.end_offsets(list(lows))
            for tp, low in lows.items():
                if low < highs[tp]:
                    await self._read_range(consumer, tp, low, highs[tp], visit)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for consumer in idle:
            self._discard(consumer)
        if self._closing:
            await asyncio.wait(set(self._closing), timeout=self.config.request_timeout_ms / 1000)

    # -- helpers ---------------------------------------------------------------------

    async def _read_range(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, low: int, high: int, visit: Keep
    ) -> None:
        timeout_ms = self.config.request_timeout_ms
        consumer.seek(tp, low)
        consumer.resume(tp)
        try:
            position = low
            while position < high:
                batch = await consumer.getmany(tp, timeout_ms=timeout_ms, max_records=MAX_RECORDS)
                records = batch.get(tp, [])
                for record in records:
                    if record.offset >= high:
                        return  # appended after the read began
                    visit(record)
                if records:
                    position = records[-1].offset + 1
                    continue
                # Nothing within the timeout: done if only non-data offsets (e.g.
                # transaction markers) were left, else the broker is not answering.
                position = await consumer.position(tp)
                if position < high:
                    raise Unavailable(
                        f"kafka: no records from {tp.topic}[{tp.partition}] at offset "
                        f"{position} within {timeout_ms} ms"
                    )
        finally:
            consumer.pause(tp)

    @contextlib.asynccontextmanager
    async def _consumer(self) -> AsyncIterator[AIOKafkaConsumer]:
        async with self._slots:
            consumer = self._idle.pop() if self._idle else await self._new_consumer()
            try:
                yield consumer
            except BaseException:
                # Its fetch state is unknown after a failure: start afresh next time.
                self._discard(consumer)
                raise
            self._idle.append(consumer)

    async def _new_consumer(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.config.servers,
            client_id=f"prism-reader-{self.topic}",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_uncommitted",
            request_timeout_ms=self.config.request_timeout_ms,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        )
        try:
            await consumer.start()
            consumer.assign(self.tps)
            consumer.pause(*self.tps)
        except BaseException:
            self._discard(consumer)
            raise
        return consumer

    def _discard(self, consumer: AIOKafkaConsumer) -> None:
        """Stop a consumer in the background: stop() may wait on a dead broker."""

        async def stop() -> None:
            try:
                await consumer.stop()
            except Exception as exc:  # nothing to do about it but log
                log.debug("stopping a kafka reader failed: %s", exc)

        task = asyncio.get_running_loop().create_task(stop())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
