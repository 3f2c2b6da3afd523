"""The class registered as the `redis` backend: KeyValue and TimeSeries under one prefix.

Every call is a coroutine on the plugin host's loop; many in-flight calls share the
connection pool, and each batch call costs one pipelined round trip (plus one per scan
or query chunk).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from prism.errors import PrismError, Unavailable
from prism.plugins.api import (
    AppendResult,
    Bucket,
    DeleteEntry,
    Event,
    EventCursor,
    Item,
    KeyValueBackend,
    PutEntry,
    PutResult,
    TimeSeriesBackend,
)
from prism.plugins.periodic import Periodic
from redis import exceptions as rx
from redis.asyncio import Redis

from prism_redis import health as health_check
from prism_redis import metadata, native, scripts
from prism_redis.config import RedisConfig
from prism_redis.errors import map_error
from prism_redis.keyspace import Keyspace
from prism_redis.keyvalue import KeyValueStore
from prism_redis.provisioning import connect, provision
from prism_redis.reader import FastReader
from prism_redis.timeseries import TimeSeriesStore

log = logging.getLogger(__name__)
T = TypeVar("T")


class RedisPlugin(KeyValueBackend, TimeSeriesBackend):
    """One namespace stored under one key prefix of a Redis database."""

    name: ClassVar[str] = metadata.BACKEND_NAME
    patterns: ClassVar[tuple[str, ...]] = metadata.CLAIMED_PATTERNS
    capabilities: ClassVar[Mapping[str, frozenset[str]]] = metadata.CAPABILITIES

    def __init__(self, namespace: str, config: Mapping[str, Any]) -> None:
        super().__init__(namespace, config)
        self.config = RedisConfig.from_mapping(config)  # ConfigError names the field
        self.keyspace = Keyspace.of(self.config.prefix_for(namespace))
        self._client: Redis | None = None
        self._reader: FastReader | None = None
        self._kv: KeyValueStore | None = None
        self._ts: TimeSeriesStore | None = None
        self._purger = Periodic(
            f"purge of namespace {namespace!r}", self.config.purge_interval_s, self._purge
        )

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        if self._client is not None:
            return
        client = connect(self.config)
        try:
            await provision(client, self.keyspace, self.namespace)
        except BaseException as exc:
            await client.aclose()
            if isinstance(exc, Exception):
                raise map_error(exc) from exc
            raise
        self._client = client
        self._reader = FastReader(
            client,
            scripts.ALL["get"],
            self.config.socket_timeout_s,
            self.config.connect_timeout_s,
        )
        self._kv = KeyValueStore(client, self.keyspace, self._reader)
        self._ts = TimeSeriesStore(client, self.keyspace, self.config.stream_maxlen)
        self._purger.start()

    async def close(self) -> None:
        await self._purger.stop()
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._client is not None:
            client, self._client, self._kv, self._ts = self._client, None, None, None
            await client.aclose()

    def native_reads(self) -> dict[str, Any] | None:
        """Where the Rust core reads this namespace's items itself (native.py); None:
        gets go through this plugin."""
        return native.native_reads(self.config, self.namespace)

    async def health(self) -> bool:
        return await health_check.check(self._client)

    async def _purge(self) -> None:
        if self._kv is not None:
            await self._kv.purge_expired()

    # -- KeyValue --------------------------------------------------------------------

    async def get_many(self, keys: Sequence[bytes]) -> list[Item | None]:
        return await _call(lambda: self._kv_store().get_many(keys))

    async def put_many(
        self, batches: Sequence[Sequence[PutEntry]]
    ) -> list[list[PutResult] | PrismError]:
        return await _call(lambda: self._kv_store().put_many(batches))

    async def delete_many(
        self, batches: Sequence[Sequence[DeleteEntry]]
    ) -> list[list[bool] | PrismError]:
        return await _call(lambda: self._kv_store().delete_many(batches))

    async def scan(
        self, start: bytes, end: bytes | None, after: bytes | None, limit: int
    ) -> list[Item]:
        return await _call(lambda: self._kv_store().scan(start, end, after, limit))

    # -- TimeSeries ------------------------------------------------------------------

    async def append_many(
        self, batches: Sequence[Sequence[Event]]
    ) -> list[AppendResult | PrismError]:
        return await _call(lambda: self._ts_store().append_many(batches))

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
        return await _call(
            lambda: self._ts_store().query(
                series_id, start_ns, end_ns, tag_filter, descending, after, limit
            )
        )

    async def aggregate(
        self,
        series_id: str,
        start_ns: int,
        end_ns: int,
        width_ns: int,
        tag_filter: Mapping[str, str],
    ) -> list[Bucket]:
        return await _call(
            lambda: self._ts_store().aggregate(series_id, start_ns, end_ns, width_ns, tag_filter)
        )

    # -- helpers ---------------------------------------------------------------------

    def _kv_store(self) -> KeyValueStore:
        if self._kv is None:
            raise self._not_started()
        return self._kv

    def _ts_store(self) -> TimeSeriesStore:
        if self._ts is None:
            raise self._not_started()
        return self._ts

    def _not_started(self) -> Unavailable:
        return Unavailable(f"redis backend of namespace '{self.namespace}' is not started")


async def _call(fn: Callable[[], Awaitable[T]]) -> T:
    """Await a store call, turning driver exceptions into Prism errors."""
    try:
        return await fn()
    except PrismError:
        raise
    except (rx.RedisError, OSError, TimeoutError, ValueError, OverflowError) as exc:
        raise map_error(exc) from exc
