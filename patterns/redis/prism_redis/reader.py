"""The read fast path: one pipelined connection that answers a batch of gets with ONE
EVALSHA, parsed by hiredis.

Why not redis-py for this: profiled under load (ADR-003, "Measured in session 2"), a
redis-py pipeline of 8 HMGETs cost ~370 us of CPU on the plugin host and a single
redis-py command ~120 us (pool checkout, retry and timeout wrappers, per-command
objects); the same batch as one EVALSHA written straight to an asyncio transport costs
~45 us. Gets are the hot path of the E lane, so they take this path; writes, scans and
TimeSeries keep redis-py (their Lua batches are already one round trip each).

Several batches may be in flight on the connection at once: Redis answers in order, so
replies resolve a FIFO of futures. A batch that gets no reply within `socket_timeout_s`
aborts the connection, failing every batch on it (UNAVAILABLE, as with redis-py); the
next batch reconnects. TLS (`rediss://`) is not handled here: such namespaces read
through redis-py (`supports` is False).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Sequence
from typing import Any

import hiredis
from redis import exceptions as rx
from redis.asyncio import Redis
from redis.asyncio.connection import Connection, UnixDomainSocketConnection

from prism_redis.scripts import Script

# Error reply prefix -> the redis-py exception it stands for (map_error knows those).
_REPLY_ERRORS: tuple[tuple[str, type[rx.RedisError]], ...] = (
    ("NOSCRIPT", rx.NoScriptError),
    ("WRONGPASS", rx.AuthenticationError),
    ("NOAUTH", rx.AuthenticationError),
    ("NOPERM", rx.NoPermissionError),
    ("READONLY", rx.ReadOnlyError),
)


def pack(*args: bytes | str | int) -> bytes:
    """One command in RESP: an array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def reply_error(reply: hiredis.ReplyError) -> rx.RedisError:
    text = str(reply)
    for prefix, cls in _REPLY_ERRORS:
        if text.startswith(prefix):
            return cls(text)
    return rx.ResponseError(text)


class _Protocol(asyncio.Protocol):
    """Feeds hiredis and resolves waiting futures in reply order."""

    def __init__(self) -> None:
        self.reader = hiredis.Reader()
        self.waiters: collections.deque[tuple[asyncio.Future[Any], float]] = collections.deque()
        self.transport: asyncio.Transport | None = None
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while True:
            try:
                reply = self.reader.gets()
            except hiredis.ProtocolError as exc:
                self.fail(rx.ConnectionError(f"redis protocol error: {exc}"))
                return
            if reply is False:
                return
            if not self.waiters:  # a reply nobody asked for: the stream is out of step
                self.fail(rx.ConnectionError("redis sent an unexpected reply"))
                return
            future, _ = self.waiters.popleft()
            if not future.done():  # its caller may have been cancelled
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(exc or rx.ConnectionError("redis closed the connection"))

    def fail(self, exc: BaseException) -> None:
        if self.lost is None:
            self.lost = exc
        while self.waiters:
            future, _ = self.waiters.popleft()
            if not future.done():
                future.set_exception(
                    exc if isinstance(exc, rx.RedisError) else rx.ConnectionError(str(exc))
                )
        if self.transport is not None:
            self.transport.abort()


class FastReader:
    """Batched gets of one namespace over one dedicated, pipelined connection."""

    def __init__(self, client: Redis, script: Script, timeout_s: float, connect_s: float):
        pool = client.connection_pool
        self._kwargs = dict(pool.connection_kwargs)
        self._unix = "path" in self._kwargs
        # Plain TCP and Unix sockets only; TLS (and any other class) reads via redis-py.
        self.supports = pool.connection_class in (Connection, UnixDomainSocketConnection)
        self._script = script
        self._timeout = timeout_s
        self._connect_timeout = connect_s
        self._proto: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None
        self._timer: asyncio.TimerHandle | None = None

    async def rows(self, hash_keys: Sequence[bytes]) -> list[Any]:
        """[val, ver, exp] of every hash key, in order (None fields where absent)."""
        proto = self._proto
        if proto is None or proto.lost is not None:
            proto = await self._connect()
        count = str(len(hash_keys)).encode()
        reply = await self._send(proto, _args(b"EVALSHA", self._script.sha, count, hash_keys))
        if isinstance(reply, hiredis.ReplyError):
            error = reply_error(reply)
            if not isinstance(error, rx.NoScriptError):
                raise error
            # Script cache flushed (restart, SCRIPT FLUSH): EVAL runs and caches it again.
            reply = await self._send(proto, _args(b"EVAL", self._script.source, count, hash_keys))
            if isinstance(reply, hiredis.ReplyError):
                raise reply_error(reply)
        return list(reply)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._proto is not None:
            self._proto.fail(rx.ConnectionError("the redis plugin is closing"))
            self._proto = None

    def _send(self, proto: _Protocol, payload: bytes) -> asyncio.Future[Any]:
        if proto.lost is not None or proto.transport is None:
            raise rx.ConnectionError(f"redis connection lost: {proto.lost}")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        proto.waiters.append((future, loop.time() + self._timeout))
        proto.transport.write(payload)
        if self._timer is None:
            self._timer = loop.call_later(self._timeout, self._check_timeouts)
        return future

    def _check_timeouts(self) -> None:
        """One timer per connection (not one per batch): fires when the oldest batch
        may be overdue, and aborts the connection if it is."""
        self._timer = None
        proto = self._proto
        if proto is None or not proto.waiters:
            return
        loop = asyncio.get_running_loop()
        deadline = proto.waiters[0][1]
        if deadline <= loop.time():
            proto.fail(rx.TimeoutError(f"redis did not answer within {self._timeout:g}s"))
            return
        self._timer = loop.call_at(deadline, self._check_timeouts)

    async def _connect(self) -> _Protocol:
        # Concurrent batches share one connection attempt.
        if self._connecting is not None:
            return await asyncio.shield(self._connecting)
        loop = asyncio.get_running_loop()
        self._connecting = loop.create_future()
        try:
            proto = await asyncio.wait_for(self._open(), self._connect_timeout)
        except BaseException as exc:
            error = exc
            if isinstance(exc, asyncio.TimeoutError | OSError):
                error = rx.ConnectionError(f"cannot connect to redis: {exc!r}")
            self._connecting.set_exception(error)
            self._connecting.exception()  # retrieved: no "never retrieved" warning
            self._connecting = None
            raise error from exc
        self._proto = proto
        self._connecting.set_result(proto)
        self._connecting = None
        return proto

    async def _open(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        kw = self._kwargs
        if self._unix:
            _, proto = await loop.create_unix_connection(_Protocol, kw["path"])
        else:  # asyncio sets TCP_NODELAY on TCP transports
            _, proto = await loop.create_connection(_Protocol, kw["host"], kw["port"])
        setup: list[bytes] = []
        if kw.get("password") is not None:
            user = kw.get("username")
            auth = ("AUTH", user, kw["password"]) if user else ("AUTH", kw["password"])
            setup.append(pack(*auth))
        if int(kw.get("db") or 0):
            setup.append(pack("SELECT", int(kw["db"])))
        try:
            replies = [await self._send(proto, cmd) for cmd in setup]
        except BaseException:
            proto.fail(rx.ConnectionError("redis connection setup failed"))
            raise
        for reply in replies:
            if isinstance(reply, hiredis.ReplyError):
                proto.fail(rx.ConnectionError("redis connection setup failed"))
                raise reply_error(reply)
        return proto


def _args(command: bytes, script: str, count: bytes, keys: Sequence[bytes]) -> bytes:
    """`command script numkeys key...` in RESP, built in one join."""
    parts = [b"*%d\r\n" % (len(keys) + 3)]
    for arg in (command, script.encode(), count, *keys):
        parts.append(b"$%d\r\n" % len(arg))
        parts.append(arg)
        parts.append(b"\r\n")
    return b"".join(parts)
