"""The class registered as the `kafka` backend: TimeSeries on one topic per namespace.

Every call runs on the plugin host's asyncio loop. The producer is started eagerly (so a
namespace on an unreachable cluster fails at start) and replaced after a failed append:
an idempotent producer whose batch timed out may keep refusing sends, and a fresh one
also reconnects cleanly once the broker is back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from aiokafka import AIOKafkaProducer
from prism.plugins.delegating import DelegatingTimeSeries

from prism_kafka import health as health_check
from prism_kafka import metadata
from prism_kafka.config import KafkaConfig
from prism_kafka.errors import map_error
from prism_kafka.provisioning import ensure_topic
from prism_kafka.timeseries import TimeSeriesStore

log = logging.getLogger(__name__)

#: Producer batches up to this size per partition (Kafka's message.max.bytes is ~1 MiB).
MAX_BATCH_BYTES = 512 * 1024
HEALTH_TIMEOUT_S = 5.0


class KafkaPlugin(DelegatingTimeSeries):
    """One namespace stored in one Kafka topic (`topic_prefix` + namespace)."""

    name: ClassVar[str] = metadata.BACKEND_NAME
    patterns: ClassVar[tuple[str, ...]] = metadata.CLAIMED_PATTERNS
    capabilities: ClassVar[Mapping[str, frozenset[str]]] = metadata.CAPABILITIES

    def __init__(self, namespace: str, config: Mapping[str, Any]) -> None:
        super().__init__(namespace, config)
        self.config = KafkaConfig.from_mapping(config)  # ConfigError names the field
        self.topic = self.config.topic(namespace)
        self._ts: TimeSeriesStore | None = None
        self._producer: AIOKafkaProducer | None = None
        self._producer_lock = asyncio.Lock()
        self._stopping: set[asyncio.Task[None]] = set()

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        if self._ts is not None:
            return
        try:
            partitions = await ensure_topic(self.config, self.topic)
            await self._get_producer()
        except Exception as exc:
            raise map_error(exc) from exc
        self._ts = TimeSeriesStore(
            self.config, self.topic, partitions, self._get_producer, self._reset_producer
        )

    async def close(self) -> None:
        ts, self._ts = self._ts, None
        if ts is not None:
            await ts.reader.close()
        self._reset_producer()
        if self._stopping:
            await asyncio.wait(set(self._stopping), timeout=self.config.request_timeout_ms / 1000)

    async def health(self) -> bool:
        try:
            producer = await self._get_producer()
        except Exception:
            return False
        return await health_check.check(producer, HEALTH_TIMEOUT_S)

    # -- helpers ---------------------------------------------------------------------

    async def _get_producer(self) -> AIOKafkaProducer:
        async with self._producer_lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.config.servers,
                    client_id=f"prism-{self.topic}",
                    # Durable before answering: every in-sync replica has the batch; the
                    # producer's own retries cannot duplicate or reorder it.
                    acks="all",
                    enable_idempotence=True,
                    request_timeout_ms=self.config.request_timeout_ms,
                    linger_ms=0,  # the host already batches; do not add latency
                    max_batch_size=MAX_BATCH_BYTES,
                )
                try:
                    await producer.start()
                except BaseException:
                    self._stop_in_background(producer)
                    raise
                self._producer = producer
            return self._producer

    def _reset_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            self._stop_in_background(producer)

    def _stop_in_background(self, producer: AIOKafkaProducer) -> None:
        """stop() flushes pending sends and may wait on a dead broker: do not block."""

        async def stop() -> None:
            try:
                await producer.stop()
            except Exception as exc:  # nothing to do about it but log
                log.debug("namespace %r: stopping a kafka producer failed: %s", self.namespace, exc)

        task = asyncio.get_running_loop().create_task(stop())
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)
