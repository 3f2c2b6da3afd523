"""The connection pool of one namespace and the error boundary around every call.

Why a pool: the plugin host runs many calls of one namespace concurrently on its asyncio
loop (a scan, a query and a group of puts at once); each takes its own connection, and
connections are reused so no call pays for a TCP + auth handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg
from prism.errors import Unavailable
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from prism_postgres.config import PostgresConfig
from prism_postgres.errors import is_connection_error, map_error

log = logging.getLogger(__name__)

# Longest stretch of background reconnect attempts before the backoff starts over.
RECONNECT_WINDOW_S = 10.0
T = TypeVar("T")
Conn = psycopg.AsyncConnection[Any]


class Database:
    """A psycopg_pool pool with Prism error mapping; `open()` connects eagerly."""

    def __init__(self, config: PostgresConfig, namespace: str) -> None:
        self.config = config
        self.namespace = namespace
        self._pool: AsyncConnectionPool[Conn] | None = None
        self._checking: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Open the pool and wait for `pool_min_size` connections; Unavailable if the
        server does not answer within `connect_timeout_s`."""
        if self._pool is not None:
            return
        cfg = self.config
        options = f"-c statement_timeout={cfg.statement_timeout_ms}"
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            cfg.url,
            min_size=cfg.pool_min_size,
            max_size=cfg.pool_max_size,
            # autocommit: reads cost one round trip (no BEGIN/COMMIT); writes open an
            # explicit transaction.
            kwargs={
                "autocommit": True,
                "connect_timeout": max(1, round(cfg.connect_timeout_s)),
                "options": options,
                "application_name": f"prism:{self.namespace}"[:63],
            },
            timeout=cfg.connect_timeout_s,
            # A finite reconnect window: psycopg_pool doubles its retry delay without a cap
            # inside one window, so an infinite window made recovery after a long outage
            # take about as long as the outage. After each window the pool gives up and
            # the next call starts a fresh attempt (1 s delay again). Calls meanwhile fail
            # with UNAVAILABLE after `timeout`.
            reconnect_timeout=RECONNECT_WINDOW_S,
            name=f"prism-{self.namespace}",
            open=False,
        )
        try:
            await pool.open(wait=cfg.pool_min_size > 0, timeout=cfg.connect_timeout_s)
        except (psycopg.Error, PoolTimeout) as exc:
            await pool.close()
            raise Unavailable(
                f"postgres: cannot connect within {cfg.connect_timeout_s:g}s: {exc}"
            ) from exc
        self._pool = pool

    async def close(self) -> None:
        if self._checking is not None:
            self._checking.cancel()
            self._checking = None
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        """A pooled connection; psycopg and pool errors leave as PrismError."""
        pool = self._pool
        if pool is None:
            raise Unavailable(f"postgres backend of namespace '{self.namespace}' is not started")
        try:
            async with pool.connection() as conn:
                yield conn
        except (psycopg.Error, PoolTimeout, OverflowError, ValueError) as exc:
            if is_connection_error(exc):
                self._drop_stale_connections()
            raise map_error(exc) from exc

    async def read(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """Run a read; retried once on a fresh connection when the pooled one was dead
        (e.g. after a server restart), since a read has no effect to duplicate."""
        for attempt in (1, 2):
            try:
                async with self.connection() as conn:
                    return await fn(conn)
            except Unavailable as exc:
                if attempt == 2 or not is_connection_error(exc.__cause__ or exc):
                    raise
                # The other idle connections are likely dead too: sort them out first, so
                # the retry gets a live (or freshly opened) one.
                checking = self._checking
                if checking is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(
                            asyncio.shield(checking), self.config.connect_timeout_s
                        )
        raise AssertionError("unreachable")

    def _drop_stale_connections(self) -> None:
        # After a server restart every idle pooled connection is dead; check them all in
        # the background instead of failing one call per stale connection.
        pool = self._pool
        if pool is None or (self._checking is not None and not self._checking.done()):
            return
        self._checking = asyncio.get_running_loop().create_task(self._check(pool))

    async def _check(self, pool: AsyncConnectionPool[Conn]) -> None:
        try:
            await pool.check()
        except Exception as exc:  # best effort; the next failing call tries again
            log.debug("namespace %r: pool check failed: %s", self.namespace, exc)

    async def ping(self, timeout: float) -> bool:
        pool = self._pool
        if pool is None:
            return False
        try:
            async with pool.connection(timeout=timeout) as conn:
                cur = await conn.execute("SELECT 1")
                return (await cur.fetchone()) == (1,)
        except (psycopg.Error, PoolTimeout):
            return False
