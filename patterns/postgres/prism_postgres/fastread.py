"""The batched-get fast path: one prepared statement run straight on libpq.

Why: profiled under load (ADR-003, "Measured in session 2"), `AsyncConnection.execute`
+ `fetchall` of the get query cost ~200 us of CPU per call on the plugin host: the
generic parameter adaptation (a bytea[] is dumped as text through a regex per element),
the prepared-statement bookkeeping and psycopg's generator-driven wait loop. The get
query never changes shape: its parameters are a binary bytea[] and an int8, its four
result columns are binary bytea, bytea, int8 and int8-or-NULL, so they are packed and
unpacked here directly (~half the CPU). Everything else keeps psycopg's normal path.

The statement is prepared once per connection (named, so the server plans it once).
A server error becomes the psycopg exception psycopg itself would raise, so the error
mapping and the dead-connection retry of `Database` apply unchanged.
"""

from __future__ import annotations

import asyncio
import struct
import weakref
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import errors as pgerr
from psycopg import pq

from prism_postgres.db import Conn

_INT8 = struct.Struct("!q")
_LEN = struct.Struct("!i")
# 1-dimensional, no NULLs, element type bytea (oid 17); then the dimension and lower bound.
_ARRAY_HEAD = struct.Struct("!iiIii")
_BYTEA_OID = 17
_BINARY = 1

Row = tuple[bytes, bytes, int, int | None]


class PreparedRead:
    """A read statement with fixed binary parameters, prepared lazily per connection."""

    def __init__(self, name: bytes, query: bytes) -> None:
        """`query` uses $1 (bytea[]) and $2 (int8) placeholders."""
        self.name = name
        self.query = query
        self._prepared: weakref.WeakSet[Conn] = weakref.WeakSet()

    async def rows(self, conn: Conn, keys: Sequence[bytes], now_ms: int) -> list[Row]:
        params = [_bytea_array(keys), _INT8.pack(now_ms)]
        if conn not in self._prepared:
            await self._prepare(conn)
        try:
            result = await _run(conn, self.name, params)
        except pgerr.InvalidSqlStatementName:
            # The session lost the statement (e.g. DISCARD ALL by a pooler): prepare again.
            self._prepared.discard(conn)
            await self._prepare(conn)
            result = await _run(conn, self.name, params)
        get = result.get_value
        out: list[Row] = []
        for i in range(result.ntuples):
            expires = get(i, 3)
            out.append(
                (
                    bytes(get(i, 0) or b""),
                    bytes(get(i, 1) or b""),
                    _INT8.unpack(get(i, 2) or b"")[0],
                    None if expires is None else _INT8.unpack(expires)[0],
                )
            )
        return out

    async def _prepare(self, conn: Conn) -> None:
        pgconn = conn.pgconn
        pgconn.send_prepare(self.name, self.query)
        try:
            await _result(conn, pq.ExecStatus.COMMAND_OK)
        except pgerr.DuplicatePreparedStatement:
            pass  # prepared by an earlier attempt whose answer was lost
        self._prepared.add(conn)


def _bytea_array(keys: Sequence[bytes]) -> bytes:
    """PostgreSQL's binary array format for a bytea[] without NULLs."""
    parts = [_ARRAY_HEAD.pack(1, 0, _BYTEA_OID, len(keys), 1)]
    for key in keys:
        parts.append(_LEN.pack(len(key)))
        parts.append(key)
    return b"".join(parts)


async def _run(conn: Conn, name: bytes, params: Sequence[bytes | None]) -> pq.abc.PGresult:
    conn.pgconn.send_query_prepared(
        name, params, param_formats=[_BINARY] * len(params), result_format=_BINARY
    )
    return await _result(conn, pq.ExecStatus.TUPLES_OK)


async def _result(conn: Conn, expected: pq.ExecStatus) -> pq.abc.PGresult:
    """Flush, wait for the answer on the connection's socket, return its one result."""
    pgconn = conn.pgconn
    loop = asyncio.get_running_loop()
    fd = pgconn.socket
    while pgconn.flush():  # 1: more to send (socket buffer full); rare for these sizes
        await _wait(loop, fd, write=True)
    results: list[pq.abc.PGresult] = []
    while True:
        pgconn.consume_input()
        while not pgconn.is_busy():
            result = pgconn.get_result()
            if result is None:
                return _one(conn, results, expected)
            results.append(result)
        await _wait(loop, fd, write=False)


async def _wait(loop: asyncio.AbstractEventLoop, fd: int, *, write: bool) -> None:
    future: asyncio.Future[None] = loop.create_future()
    if write:
        loop.add_writer(fd, _wake, future)
    else:
        loop.add_reader(fd, _wake, future)
    try:
        await future
    finally:
        if write:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _one(conn: Conn, results: list[Any], expected: pq.ExecStatus) -> pq.abc.PGresult:
    for result in results:
        if result.status == pq.ExecStatus.FATAL_ERROR:
            raise pgerr.error_from_result(result, encoding=conn.info.encoding)
    if len(results) != 1 or results[0].status != expected:
        statuses = [pq.ExecStatus(r.status).name for r in results]
        raise psycopg.InternalError(f"unexpected results {statuses} for a prepared read")
    return results[0]
