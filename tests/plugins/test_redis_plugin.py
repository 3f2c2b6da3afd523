"""What the conformance suite cannot see of the Redis plugin: config validation,
provisioning idempotence, namespace isolation, index upkeep, error mapping.

Tests needing a server use $PRISM_REDIS_URL (the local stack's Redis) and a fresh
namespace each, whose keys are removed afterwards.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from prism.errors import (
    AlreadyExists,
    ConfigError,
    FailedPrecondition,
    Internal,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
)
from prism_redis import RedisPlugin
from prism_redis.errors import is_retriable, map_error
from prism_redis.timeseries import decode_event, encode_body, member
from redis import exceptions as rx
from redis.asyncio import Redis

T0 = 1_700_000_000_000_000_000  # an event time in ns


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as r:
        yield r


@pytest.fixture
def redis_url(backend_stack: dict[str, str]) -> str:
    """The stack's Redis (started by the session fixture) or $PRISM_REDIS_URL."""
    url = os.environ.get("PRISM_REDIS_URL")
    assert url, "backend_stack did not export PRISM_REDIS_URL: is redis in claims.yaml?"
    return url


@pytest.fixture
def make(runner: asyncio.Runner, redis_url: str) -> Iterator[Any]:
    """Start plugins on fresh namespaces; close them and delete their keys afterwards."""
    started: list[RedisPlugin] = []

    def factory(namespace: str | None = None, **config: Any) -> RedisPlugin:
        p = RedisPlugin(namespace or f"t-{uuid.uuid4().hex[:10]}", {"url": redis_url, **config})
        runner.run(p.start())
        started.append(p)
        return p

    yield factory
    for p in started:
        runner.run(p.close())
    runner.run(_drop(redis_url, {p.keyspace.prefix for p in started}))


async def _drop(url: str, prefixes: set[bytes]) -> None:
    client = Redis.from_url(url)
    try:
        for prefix in prefixes:
            keys = [k async for k in client.scan_iter(match=prefix + b"*", count=1000)]
            if keys:
                await client.unlink(*keys)
    finally:
        await client.aclose()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- config -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({}, "url"),
        ({"url": ""}, "url"),
        ({"url": "http://localhost:6379"}, "url"),
        ({"url": "redis://h", "key_prefix": "has space"}, "key_prefix"),
        ({"url": "redis://h", "key_prefix": 7}, "key_prefix"),
        ({"url": "redis://h", "pool_size": 0}, "pool_size"),
        ({"url": "redis://h", "pool_size": True}, "pool_size"),
        ({"url": "redis://h", "socket_timeout_s": 0}, "socket_timeout_s"),
        ({"url": "redis://h", "connect_timeout_s": "2"}, "connect_timeout_s"),
        ({"url": "redis://h", "purge_interval_s": -1}, "purge_interval_s"),
        ({"url": "redis://h", "stream_maxlen": -1}, "stream_maxlen"),
        ({"url": "redis://h", "colour": "blue"}, "colour"),
    ],
)
def test_bad_config_names_the_field(config: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=f"'{field}'"):
        RedisPlugin("ns", config)


def test_metadata_and_defaults() -> None:
    p = RedisPlugin("orders.v1", {"url": "redis://127.0.0.1:6379/0"})
    assert p.keyspace.prefix == b"prism:orders.v1:"
    assert p.config.pool_size == 32 and p.config.stream_maxlen == 10_000
    assert RedisPlugin(
        "x", {"url": "unix:///tmp/r.sock", "key_prefix": "app:"}
    ).keyspace.prefix == (b"app:")
    assert RedisPlugin.name == "redis"
    assert RedisPlugin.patterns == ("keyvalue", "timeseries")
    assert RedisPlugin.capabilities["keyvalue"] == {"core", "batch", "scan", "ttl", "cas"}
    assert RedisPlugin.capabilities["timeseries"] == {"core", "aggregate", "tail"}


# -- errors -----------------------------------------------------------------------------


def test_unreachable_server_is_unavailable_fast(runner: asyncio.Runner) -> None:
    url = f"redis://127.0.0.1:{closed_port()}/0"
    p = RedisPlugin("ns", {"url": url, "connect_timeout_s": 1})
    began = time.monotonic()
    with pytest.raises(Unavailable) as info:
        runner.run(p.start())
    assert info.value.is_retriable() and time.monotonic() - began < 5
    assert runner.run(p.health()) is False
    with pytest.raises(Unavailable, match="not started"):
        runner.run(p.get_many([b"k"]))


def test_error_mapping() -> None:
    assert isinstance(map_error(rx.ConnectionError("reset")), Unavailable)
    assert isinstance(map_error(rx.TimeoutError("slow")), Unavailable)
    assert isinstance(map_error(rx.BusyLoadingError("loading")), Unavailable)
    assert isinstance(map_error(rx.ReadOnlyError("replica")), Unavailable)
    assert isinstance(map_error(ConnectionRefusedError(111, "refused")), Unavailable)
    assert isinstance(map_error(rx.ResponseError("BUSY Redis is busy")), Unavailable)
    assert isinstance(map_error(rx.ResponseError("OOM command not allowed")), ResourceExhausted)
    assert isinstance(map_error(rx.AuthenticationError("bad password")), PermissionDenied)
    assert isinstance(map_error(rx.ResponseError("WRONGTYPE")), Internal)
    assert is_retriable(rx.ConnectionError("x")) and not is_retriable(rx.ResponseError("x"))


# -- provisioning and isolation ---------------------------------------------------------


def test_start_is_idempotent_and_restart_keeps_versions(runner: asyncio.Runner, make: Any) -> None:
    p = make()
    runner.run(p.start())
    assert runner.run(p.health()) is True
    ((v1, _),) = runner.run(p.put_many([[(b"k", b"v", None, False, 0)]]))[0]
    runner.run(p.close())
    runner.run(p.close())
    assert runner.run(p.health()) is False
    runner.run(p.start())  # provisioning an existing prefix again is harmless
    ((v2, _),) = runner.run(p.put_many([[(b"k", b"w", None, False, 0)]]))[0]
    assert v2 == v1 + 1
    assert runner.run(p.get_many([b"k"])) == [(b"k", b"w", v2, None)]


def test_prefix_with_another_layout_is_refused(
    runner: asyncio.Runner, make: Any, redis_url: str
) -> None:
    p = make()

    async def tamper() -> None:
        client = Redis.from_url(redis_url)
        await client.hset(p.keyspace.meta, "format", "99")
        await client.aclose()

    runner.run(tamper())
    other = RedisPlugin(p.namespace, {"url": redis_url})
    with pytest.raises(ConfigError, match="'key_prefix'.*layout '99'"):
        runner.run(other.start())


def test_namespaces_are_isolated(runner: asyncio.Runner, make: Any) -> None:
    a, b = make(), make()
    runner.run(a.put_many([[(b"k", b"a", None, False, 0)]]))
    assert runner.run(b.get_many([b"k"])) == [None]
    assert runner.run(b.scan(b"", None, None, 10)) == []
    runner.run(a.append_many([[("s", T0, "e", {}, 1.0, b"")]]))
    assert runner.run(b.query("s", 0, 2**62, {}, False, None, 10)) == []
    assert runner.run(b.put_many([[(b"k", b"b", None, True, 0)]]))[0] == [(1, None)]


# -- KeyValue details the gRPC surface hides --------------------------------------------


def test_batch_naming_a_key_twice_applies_in_order(runner: asyncio.Runner, make: Any) -> None:
    p = make()
    ok = runner.run(p.put_many([[(b"k", b"x", None, True, 0), (b"k", b"y", None, False, 1)]]))
    assert ok[0] == [(1, None), (2, None)]
    (err,) = runner.run(p.put_many([[(b"n", b"1", None, False, 0), (b"n", b"2", None, True, 0)]]))
    assert isinstance(err, AlreadyExists) and err.message == "key 'n' already exists"
    assert runner.run(p.get_many([b"n", b"k"])) == [None, (b"k", b"y", 2, None)]
    (err,) = runner.run(p.delete_many([[(b"k", 0), (b"k", 2)]]))
    assert isinstance(err, FailedPrecondition)
    assert err.message == "key 'k' does not exist, expected version 2"
    assert runner.run(p.delete_many([[(b"k", 2), (b"k", 0)]])) == [[True, False]]


def test_expired_keys_leave_the_scan_index(
    runner: asyncio.Runner, make: Any, redis_url: str
) -> None:
    p = make()
    soon = now_ms() + 100
    runner.run(p.put_many([[(b"a", b"1", soon, False, 0), (b"b", b"2", soon, False, 0)]]))
    runner.run(p.put_many([[(b"c", b"3", None, False, 0), (b"d", b"4", now_ms() - 1, False, 0)]]))
    assert [i[0] for i in runner.run(p.scan(b"", None, None, 10))] == [b"a", b"b", b"c"]
    time.sleep(0.15)
    assert [i[0] for i in runner.run(p.scan(b"", None, None, 1))] == [b"c"]  # skips, cleans

    async def index() -> list[Any]:
        client = Redis.from_url(redis_url)
        try:
            return [
                await client.zrange(p.keyspace.keys, 0, -1),
                await client.zrange(p.keyspace.expiry, 0, -1),
            ]
        finally:
            await client.aclose()

    assert runner.run(index()) == [[b"c"], []]
    runner.run(p.put_many([[(b"e", b"5", now_ms() + 50, False, 0)]]))
    time.sleep(0.1)
    assert runner.run(p._kv_store().purge_expired()) == 1
    assert runner.run(index()) == [[b"c"], []]


def test_scan_bounds_with_binary_keys(runner: asyncio.Runner, make: Any) -> None:
    p = make()
    keys = [b"", b"\x00", b"\x00\x01", b"[", b"(", b"-", b"+", b"a", b"\xff", b"\xff\xff"]
    runner.run(p.put_many([[(k, b"v", None, False, 0) for k in keys]]))
    got = [i[0] for i in runner.run(p.scan(b"", None, None, 100))]
    assert got == sorted(keys)
    got = [i[0] for i in runner.run(p.scan(b"\x00", b"a", b"(", 100))]
    assert got == [k for k in sorted(keys) if b"(" < k < b"a"]


# -- TimeSeries -------------------------------------------------------------------------


def test_event_encoding_round_trips_and_orders() -> None:
    body = encode_body({"h": "é"}, -0.5, b"\x00p")
    assert decode_event("s", member(-5, "id"), body) == ("s", -5, "id", {"h": "é"}, -0.5, b"\x00p")
    assert decode_event("s", member(T0, ""), encode_body({}, None, b""))[3:] == ({}, None, b"")
    ordered = [(-(2**63), "z"), (-1, "b"), (0, ""), (0, "a"), (0, "ab"), (1, "a"), (2**63 - 1, "")]
    assert sorted(ordered, key=lambda e: member(*e)) == ordered


def test_append_writes_the_arrival_stream(
    runner: asyncio.Runner, make: Any, redis_url: str
) -> None:
    p = make(stream_maxlen=100)
    ev = [("s", T0 + 2, "b", {}, None, b""), ("s", T0 + 1, "a", {"h": "x"}, 1.0, b"p")]
    assert runner.run(p.append_many([ev, ev[:1]])) == [(2, 0), (0, 1)]

    async def stream() -> list[Any]:
        client = Redis.from_url(redis_url)
        try:
            entries = await client.xrange(p.keyspace.ts_stream("s")) or []
            return [fields[b"id"] for _, fields in entries if fields]
        finally:
            await client.aclose()

    assert runner.run(stream()) == [b"b", b"a"], "arrival order, duplicates not repeated"
    q = runner.run(p.query("s", T0, T0 + 3, {}, True, (T0 + 2, "b"), 10))
    assert [(e[1], e[2], e[5]) for e in q] == [(T0 + 1, "a", b"p")]
    no_stream = make(stream_maxlen=0)
    runner.run(no_stream.append_many([ev]))
    assert runner.run(no_stream.query("s", 0, 2**62, {"h": "x"}, False, None, 5))[0][2] == "a"


# -- the batched-get fast path (prism_redis.reader) --------------------------------------


def test_fast_reader_serves_gets_and_tls_falls_back(make: Any) -> None:
    p = make()
    assert p._kv.reader is not None  # plain TCP: gets take the one-EVALSHA path
    tls = RedisPlugin("x", {"url": "rediss://127.0.0.1:1/0"})
    from prism_redis.provisioning import connect
    from prism_redis.reader import FastReader
    from prism_redis.scripts import ALL

    reader = FastReader(connect(tls.config), ALL["get"], 1.0, 1.0)
    assert reader.supports is False  # TLS reads through redis-py


def test_fast_reader_recovers_from_an_unknown_script(runner: asyncio.Runner, make: Any) -> None:
    """NOSCRIPT (script cache flushed) makes the reader send EVAL, which also caches it."""
    from prism_redis import scripts
    from prism_redis.reader import FastReader

    p = make()
    runner.run(p.put_many([[(b"k", b"v", None, False, 0)]]))
    fresh = scripts.Script(scripts.GET + f"-- {uuid.uuid4().hex}\n")  # never loaded
    reader = FastReader(p._client, fresh, 2.0, 2.0)
    item = p.keyspace.item
    try:
        rows = runner.run(reader.rows([item(b"k"), item(b"missing")]))
        assert rows[0][0] == b"v" and int(rows[0][1]) == 1 and rows[0][2] is None
        assert rows[1] == [None, None, None]
        assert runner.run(reader.rows([item(b"k")]))[0][0] == b"v"  # now by EVALSHA
    finally:
        reader.close()


def test_fast_reader_reconnects_after_its_connection_is_killed(
    runner: asyncio.Runner, make: Any, redis_url: str
) -> None:
    p = make()
    runner.run(p.put_many([[(b"k", b"v", None, False, 0)]]))
    assert runner.run(p.get_many([b"k"]))[0] is not None
    host, port = p._reader._proto.transport.get_extra_info("sockname")[:2]

    async def kill() -> int:
        client = Redis.from_url(redis_url)
        try:
            return int(await client.execute_command("CLIENT", "KILL", "ADDR", f"{host}:{port}"))
        finally:
            await client.aclose()

    assert runner.run(kill()) == 1
    # At most the batch already on the dead connection fails, as UNAVAILABLE; the next
    # batch opens a new connection.
    try:
        runner.run(p.get_many([b"k"]))
    except Unavailable:
        pass
    assert runner.run(p.get_many([b"k"])) == [(b"k", b"v", 1, None)]


def test_fast_reader_times_out_on_a_silent_server(runner: asyncio.Runner) -> None:
    """A server that accepts but never answers: the batch fails after socket_timeout_s,
    as a retriable error, instead of hanging the plugin host."""
    from prism_redis.config import RedisConfig
    from prism_redis.provisioning import connect
    from prism_redis.reader import FastReader
    from prism_redis.scripts import ALL

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = connect(RedisConfig(url=f"redis://127.0.0.1:{port}/0"))
        reader = FastReader(client, ALL["get"], 0.2, 1.0)
        started = time.monotonic()
        with pytest.raises(rx.TimeoutError) as caught:
            runner.run(reader.rows([b"k"]))
        assert 0.15 < time.monotonic() - started < 2.0
        assert isinstance(map_error(caught.value), Unavailable)
        reader.close()
        runner.run(client.aclose())
