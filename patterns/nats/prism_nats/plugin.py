"""The class registered as the `nats` backend: KeyValue and TimeSeries on JetStream.

start() connects once (nats-py then reconnects on its own forever) and provisions both
the namespace's KV bucket and its TimeSeries stream: the plugin is not told which
patterns the namespace serves, and an unused empty stream costs next to nothing.
Every call is a coroutine on the host's loop; many requests share the one connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from nats.aio.client import Client
from nats.js import JetStreamContext
from prism.plugins.delegating import DelegatingKeyValue, DelegatingTimeSeries

from prism_nats import health as health_check
from prism_nats import metadata
from prism_nats.config import NatsConfig
from prism_nats.errors import map_error
from prism_nats.keyvalue import KeyValueStore
from prism_nats.names import Names
from prism_nats.provisioning import connect, ensure_stream, kv_stream_config, ts_stream_config
from prism_nats.timeseries import TimeSeriesStore

log = logging.getLogger(__name__)
T = TypeVar("T")


class NatsPlugin(DelegatingKeyValue, DelegatingTimeSeries):
    """One namespace: the KV bucket `<prefix>_<ns>` and the stream `<prefix>_ts_<ns>`."""

    name: ClassVar[str] = metadata.BACKEND_NAME
    patterns: ClassVar[tuple[str, ...]] = metadata.CLAIMED_PATTERNS
    capabilities: ClassVar[Mapping[str, frozenset[str]]] = metadata.CAPABILITIES
    driver_errors = (Exception,)
    map_driver_error = staticmethod(map_error)

    def __init__(self, namespace: str, config: Mapping[str, Any]) -> None:
        super().__init__(namespace, config)
        self.config = NatsConfig.from_mapping(config)  # ConfigError names the field
        self.names = Names(self.config.name_prefix, namespace)
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._kv: KeyValueStore | None = None
        self._ts: TimeSeriesStore | None = None
        self._sweeper: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        if self._nc is not None:
            return
        try:
            nc = await connect(self.config)
        except Exception as exc:
            raise map_error(exc) from exc
        try:
            js = nc.jetstream(timeout=self.config.request_timeout_s)
            await ensure_stream(js, kv_stream_config(self.names, self.config))
            await ensure_stream(js, ts_stream_config(self.names, self.config))
        except Exception as exc:
            await nc.close()
            raise map_error(exc) from exc
        timeout = self.config.request_timeout_s
        self._nc, self._js = nc, js
        self._kv = KeyValueStore(js, self.names, timeout)
        self._ts = TimeSeriesStore(js, self.names, timeout)
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_loop())

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self._nc is not None:
            nc, self._nc, self._js, self._kv, self._ts = self._nc, None, None, None, None
            with contextlib.suppress(Exception):
                await nc.close()

    async def health(self) -> bool:
        return await health_check.check(self._nc, self._js, self.config.request_timeout_s)

    async def _sweep_loop(self) -> None:
        interval = self.config.purge_interval_s
        while True:
            await asyncio.sleep(interval)
            kv = self._kv
            if kv is None:
                return
            try:
                await kv.sweep(marker_age_s=interval)
            except Exception as exc:  # retried on the next tick
                log.warning(
                    "namespace %r: sweeping expired keys failed: %s", self.namespace, map_error(exc)
                )
