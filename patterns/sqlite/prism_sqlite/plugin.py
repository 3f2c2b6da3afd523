"""The class registered as the `sqlite` backend: KeyValue and TimeSeries in one file.

SQLite calls are synchronous on the plugin host's loop thread: the database is local,
statements are short, and sqlite3 releases the GIL during I/O. No call awaits inside a
transaction, so concurrent host tasks never interleave statements.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from prism.plugins.delegating import DelegatingKeyValue, DelegatingTimeSeries
from prism.plugins.periodic import Periodic

from prism_sqlite import health as health_check
from prism_sqlite import metadata
from prism_sqlite.config import SqliteConfig
from prism_sqlite.errors import map_error
from prism_sqlite.keyvalue import KeyValueStore
from prism_sqlite.provisioning import open_database
from prism_sqlite.timeseries import TimeSeriesStore

log = logging.getLogger(__name__)
T = TypeVar("T")


class SqlitePlugin(DelegatingKeyValue, DelegatingTimeSeries):
    """One namespace stored in one SQLite database file (WAL mode)."""

    name: ClassVar[str] = metadata.BACKEND_NAME
    patterns: ClassVar[tuple[str, ...]] = metadata.CLAIMED_PATTERNS
    capabilities: ClassVar[Mapping[str, frozenset[str]]] = metadata.CAPABILITIES
    driver_errors = (sqlite3.Error, OverflowError)
    map_driver_error = staticmethod(map_error)

    def __init__(self, namespace: str, config: Mapping[str, Any]) -> None:
        super().__init__(namespace, config)
        self.config = SqliteConfig.from_mapping(config)  # ConfigError names the field
        self._conn: sqlite3.Connection | None = None
        self._kv: KeyValueStore | None = None
        self._ts: TimeSeriesStore | None = None
        self._purger = Periodic(
            f"purge of namespace {namespace!r}", self.config.purge_interval_s, self._purge
        )

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        if self._conn is not None:
            return
        try:
            conn = open_database(self.config)
        except sqlite3.Error as exc:
            raise map_error(exc) from exc
        self._conn = conn
        self._kv, self._ts = KeyValueStore(conn), TimeSeriesStore(conn)
        self._purger.start()

    async def close(self) -> None:
        await self._purger.stop()
        if self._conn is not None:
            conn, self._conn, self._kv, self._ts = self._conn, None, None, None
            conn.close()

    async def health(self) -> bool:
        return health_check.check(self._conn)

    async def deprovision(self) -> None:
        """Close, then delete the database file and its WAL and shared-memory files."""
        await self.close()
        if self.config.path == ":memory:":
            return
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.config.path + suffix)

    async def _purge(self) -> None:
        if self._kv is not None:
            self._kv.purge_expired()
