"""The class registered as the `redis` backend: KeyValue and TimeSeries under one prefix.

Every call is a coroutine on the plugin host's loop; many in-flight calls share the
connection pool, and each batch call costs one pipelined round trip (plus one per scan
or query chunk).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from prism.plugins.delegating import DelegatingKeyValue, DelegatingTimeSeries
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


class RedisPlugin(DelegatingKeyValue, DelegatingTimeSeries):
    """One namespace stored under one key prefix of a Redis database."""

    name: ClassVar[str] = metadata.BACKEND_NAME
    patterns: ClassVar[tuple[str, ...]] = metadata.CLAIMED_PATTERNS
    capabilities: ClassVar[Mapping[str, frozenset[str]]] = metadata.CAPABILITIES
    driver_errors = (rx.RedisError, OSError, TimeoutError, ValueError, OverflowError)
    map_driver_error = staticmethod(map_error)

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
