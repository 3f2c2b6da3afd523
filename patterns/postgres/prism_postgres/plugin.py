"""The class registered as the `postgres` backend: KeyValue and TimeSeries per namespace.

All calls are async (psycopg 3) on the plugin host's loop: a call waiting on the server
does not block the others, and each concurrent call uses its own pooled connection.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from prism.plugins.delegating import DelegatingKeyValue, DelegatingTimeSeries
from prism.plugins.periodic import Periodic

from prism_postgres import health as health_check
from prism_postgres import metadata, native
from prism_postgres.config import PostgresConfig
from prism_postgres.db import Database
from prism_postgres.keyvalue import KeyValueStore
from prism_postgres.provisioning import Names, provision
from prism_postgres.timeseries import TimeSeriesStore

log = logging.getLogger(__name__)


class PostgresPlugin(DelegatingKeyValue, DelegatingTimeSeries):
    """One namespace stored in its own tables of a PostgreSQL database."""

    name: ClassVar[str] = metadata.BACKEND_NAME
    patterns: ClassVar[tuple[str, ...]] = metadata.CLAIMED_PATTERNS
    capabilities: ClassVar[Mapping[str, frozenset[str]]] = metadata.CAPABILITIES

    def __init__(self, namespace: str, config: Mapping[str, Any]) -> None:
        super().__init__(namespace, config)
        self.config = PostgresConfig.from_mapping(config)  # ConfigError names the field
        self.names = Names.of(namespace)
        self._db: Database | None = None
        self._kv: KeyValueStore | None = None
        self._ts: TimeSeriesStore | None = None
        self._purger = Periodic(
            f"purge of namespace {namespace!r}", self.config.purge_interval_s, self._purge
        )

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        if self._db is not None:
            return
        db = Database(self.config, self.namespace)
        await db.open()  # Unavailable when the server cannot be reached
        try:
            async with db.connection() as conn:
                await provision(conn, self.names)
        except BaseException:
            await db.close()
            raise
        self._db = db
        self._kv = KeyValueStore(db, self.names, self.namespace)
        self._ts = TimeSeriesStore(db, self.names)
        self._purger.start()

    async def close(self) -> None:
        await self._purger.stop()
        if self._db is not None:
            db, self._db, self._kv, self._ts = self._db, None, None, None
            await db.close()

    def native_reads(self) -> dict[str, Any] | None:
        """Where the Rust core reads this namespace's items itself (native.py); None:
        gets go through this plugin."""
        return native.native_reads(self.config, self.namespace)

    async def health(self) -> bool:
        return await health_check.check(self._db)

    async def _purge(self) -> None:
        if self._kv is not None:
            await self._kv.purge_expired()
