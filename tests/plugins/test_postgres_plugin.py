"""The PostgreSQL plugin beyond what the conformance suite can see: config validation,
provisioning, namespace isolation and naming, concurrency of conditional writes across
proxies, group commit, purge, and error mapping (Unavailable when the server is gone).

Runs against the real server of the local stack (PRISM_POSTGRES_URL, or the stack is
brought up for the module). Every test uses fresh namespaces and drops their tables.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from prism.errors import (
    AlreadyExists,
    ConfigError,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    PrismError,
    ResourceExhausted,
    Unavailable,
)
from prism_postgres import PostgresPlugin
from prism_postgres.errors import is_retriable, map_error
from prism_postgres.provisioning import Names, sanitize

T0 = 1_700_000_000_000_000_000  # an event time in ns


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    if os.environ.get("PRISM_POSTGRES_URL"):
        yield os.environ["PRISM_POSTGRES_URL"]
        return
    from tooling.stack import api

    with api.running(["postgres"], out=lambda _msg: None) as eps:
        yield eps["postgres"].url


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as r:
        yield r


@pytest.fixture
def make(runner: asyncio.Runner, url: str) -> Iterator[Callable[..., PostgresPlugin]]:
    """Start plugins on fresh namespaces; close them and drop their relations afterwards."""
    started: list[PostgresPlugin] = []

    def factory(namespace: str | None = None, **config: Any) -> PostgresPlugin:
        p = PostgresPlugin(namespace or f"t_{uuid.uuid4().hex[:10]}", {"url": url, **config})
        runner.run(p.start())
        started.append(p)
        return p

    yield factory
    for p in started:
        runner.run(p.close())
    with psycopg.connect(url, autocommit=True) as conn:
        for ns in {p.namespace for p in started}:
            n = Names.of(ns)
            conn.execute(psycopg.sql.SQL("DROP TABLE IF EXISTS {}, {}").format(n.kv, n.ts))
            conn.execute(psycopg.sql.SQL("DROP SEQUENCE IF EXISTS {}").format(n.kv_seq))


def put(runner: asyncio.Runner, p: PostgresPlugin, *entries: tuple[Any, ...]) -> Any:
    full = [(e + (None, False, 0)[len(e) - 2 :]) for e in entries]
    return runner.run(p.put_many([full]))[0]


def relations(url: str, namespace: str) -> set[str]:
    s = sanitize(namespace)
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT relname FROM pg_class WHERE relname = ANY(%s)",
            ([f"kv_{s}", f"kvseq_{s}", f"ts_{s}", f"kvpk_{s}", f"tspk_{s}", f"kvexp_{s}"],),
        ).fetchall()
    return {r[0] for r in rows}


# -- config -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({}, "url"),
        ({"url": ""}, "url"),
        ({"url": "mysql://x"}, "url"),
        ({"url": "postgresql://h/db", "pool_min_size": -1}, "pool_min_size"),
        ({"url": "postgresql://h/db", "pool_max_size": 0}, "pool_max_size"),
        ({"url": "postgresql://h/db", "pool_min_size": 5, "pool_max_size": 2}, "pool_max_size"),
        ({"url": "postgresql://h/db", "statement_timeout_ms": "1s"}, "statement_timeout_ms"),
        ({"url": "postgresql://h/db", "connect_timeout_s": 0}, "connect_timeout_s"),
        ({"url": "postgresql://h/db", "purge_interval_s": True}, "purge_interval_s"),
        ({"url": "postgresql://h/db", "colour": "blue"}, "colour"),
    ],
)
def test_bad_config_names_the_field(config: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=f"'{field}'"):
        PostgresPlugin("ns", config)


def test_metadata_and_defaults() -> None:
    p = PostgresPlugin("ns", {"url": "postgresql://prism@127.0.0.1:1/prism"})
    assert (p.config.pool_min_size, p.config.pool_max_size) == (1, 10)
    assert PostgresPlugin.name == "postgres"
    assert PostgresPlugin.patterns == ("keyvalue", "timeseries")
    assert PostgresPlugin.capabilities["keyvalue"] == {"core", "batch", "scan", "ttl", "cas"}
    assert PostgresPlugin.capabilities["timeseries"] == {"core", "aggregate", "tail"}


# -- provisioning and naming ------------------------------------------------------------


def test_start_is_idempotent_and_provisioning_repeats_harmlessly(
    runner: asyncio.Runner, make: Callable[..., PostgresPlugin], url: str
) -> None:
    p = make()
    runner.run(p.start())  # no-op
    assert runner.run(p.health()) is True
    put(runner, p, (b"k", b"v"))
    # A second plugin (another proxy) provisions the same namespace again: data survives.
    q = make(p.namespace)
    assert runner.run(q.get_many([b"k"]))[0][1] == b"v"
    s = sanitize(p.namespace)
    assert relations(url, p.namespace) == {
        f"kv_{s}",
        f"kvseq_{s}",
        f"ts_{s}",
        f"kvpk_{s}",
        f"tspk_{s}",
        f"kvexp_{s}",
    }
    runner.run(p.close())
    runner.run(p.close())
    assert runner.run(p.health()) is False
    with pytest.raises(Unavailable, match="not started"):
        runner.run(p.get_many([b"k"]))


def test_names_are_sanitized_and_injective() -> None:
    assert sanitize("pg") == "pg"
    odd = ["a.b", "a_b", "a-b", "A_b", "x" * 200, "Robert'); DROP TABLE kv_pg;--"]
    names = [sanitize(ns) for ns in odd]
    assert len(set(names)) == len(odd)
    for name in names:
        assert name.replace("_", "").isalnum() and name == name.lower()
        assert len("kvseq_" + name) <= 63


def test_namespaces_are_isolated(
    runner: asyncio.Runner, make: Callable[..., PostgresPlugin]
) -> None:
    tag = uuid.uuid4().hex[:8]
    a, b = make(f"iso.{tag}"), make(f"iso_{tag}")  # would collide under naive sanitizing
    put(runner, a, (b"k", b"from-a"))
    assert runner.run(b.get_many([b"k"])) == [None]
    assert runner.run(b.scan(b"", None, None, 10)) == []
    ((vb, _),) = put(runner, b, (b"k", b"from-b"))
    assert vb == 1, "each namespace has its own version sequence"
    runner.run(a.append_many([[("s", T0, "e", {}, 1.0, b"")]]))
    assert runner.run(b.query("s", 0, 2**63 - 1, {}, False, None, 10)) == []


def test_hostile_keys_and_tags_are_parameters(
    runner: asyncio.Runner, make: Callable[..., PostgresPlugin]
) -> None:
    p = make()
    nasty = [b"'; DROP TABLE x; --", b"\x00\xff", b"%s %(now)s", b"\\x00"]
    put(runner, p, *[(k, k) for k in nasty])
    assert [i[1] for i in runner.run(p.get_many(nasty))] == nasty
    assert [i[0] for i in runner.run(p.scan(b"", None, None, 10))] == sorted(nasty)
    tags = {"q\"uo'te": "a\\b", "k": "%s"}
    runner.run(p.append_many([[("s'x", T0, "e%s", tags, None, b"\x00")]]))
    got = runner.run(p.query("s'x", 0, 2**63 - 1, {"k": "%s"}, False, None, 10))
    assert got == [("s'x", T0, "e%s", tags, None, b"\x00")]


# -- KeyValue semantics the suite cannot observe ----------------------------------------


def test_group_commit_batches_fail_alone_with_named_versions(
    runner: asyncio.Runner, make: Callable[..., PostgresPlugin]
) -> None:
    p = make()
    ((v, _),) = put(runner, p, (b"exists", b"v"))
    results = runner.run(
        p.put_many(
            [
                [(b"a", b"1", None, False, 0), (b"a", b"2", None, False, 0)],
                [(b"c", b"3", None, False, 0), (b"exists", b"x", None, True, 0)],
                [(b"d", b"4", None, False, v + 100)],
                [(b"exists", b"y", None, False, v)],
            ]
        )
    )
    assert [r[1] for r in results[0]] == [None, None] and results[0][0][0] < results[0][1][0]
    assert isinstance(results[1], AlreadyExists)
    assert isinstance(results[2], FailedPrecondition)
    assert results[2].message == f"key 'd' does not exist, expected version {v + 100}"
    assert results[3][0][0] > results[0][1][0]
    got = runner.run(p.get_many([b"a", b"c", b"d", b"exists"]))
    assert got[0] is not None and (got[0][1], got[0][2]) == (b"2", results[0][1][0])
    assert got[1] is None and got[2] is None
    assert got[3] is not None and got[3][1] == b"y"
    # Delete batches: a failed CAS rolls its batch back alone.
    dels = runner.run(p.delete_many([[(b"a", 0), (b"a", 0)], [(b"exists", 1), (b"c", 0)]]))
    assert dels[0] == [True, False] and isinstance(dels[1], FailedPrecondition)


def test_concurrent_if_absent_across_proxies_has_one_winner(
    runner: asyncio.Runner, make: Callable[..., PostgresPlugin]
) -> None:
    # Two plugin instances = two proxies on one namespace; the key does not exist yet,
    # so only the advisory key lock (not a row lock) can serialize them.
    a = make(pool_max_size=8)
    b = make(a.namespace, pool_max_size=8)

    async def race(key: bytes) -> list[Any]:
        calls = [
            p.put_many([[(key, name, None, True, 0)]])
            for p, name in ((a, b"a"), (b, b"b"))
            for _ in range(4)
        ]
        return [r[0] for r in await asyncio.gather(*calls)]

    for i in range(20):
        results = runner.run(race(f"race{i}".encode()))
        winners = [r for r in results if isinstance(r, list)]
        assert len(winners) == 1, results
        assert all(isinstance(r, AlreadyExists) for r in results if r not in winners)


def test_versions_of_a_key_only_grow_under_concurrent_writers(
    runner: asyncio.Runner, make: Callable[..., PostgresPlugin]
) -> None:
    a = make(pool_max_size=8)
    b = make(a.namespace, pool_max_size=8)

    async def writes() -> list[int]:
        calls = [p.put_many([[(b"hot", b"v", None, False, 0)]]) for p in (a, b) * 20]
        return [r[0][0][0] for r in await asyncio.gather(*calls)]

    versions = runner.run(writes())
    assert len(set(versions)) == len(versions)
    item = runner.run(a.get_many([b"hot"]))[0]
    assert item is not None and item[2] == max(versions), "an older version overwrote a newer"


def test_ttl_purge_removes_expired_rows(
    runner: asyncio.Runner, make: Callable[..., PostgresPlugin], url: str
) -> None:
    p = make(purge_interval_s=0.2)
    put(runner, p, (b"old", b"v", now_ms() - 1), (b"keep", b"v"))
    assert runner.run(p.get_many([b"old"])) == [None]
    # Expired counts as absent for if_absent, and a delete reports False.
    assert put(runner, p, (b"old2", b"v", now_ms() - 1))
    assert isinstance(put(runner, p, (b"old2", b"w", None, True, 0)), list)
    deadline = time.monotonic() + 5
    s = sanitize(p.namespace)
    while time.monotonic() < deadline:
        runner.run(asyncio.sleep(0.1))  # let the purge task run on the plugin's loop
        with psycopg.connect(url) as conn:
            keys = [bytes(r[0]) for r in conn.execute(f"SELECT key FROM kv_{s} ORDER BY key")]
        if keys == [b"keep", b"old2"]:
            break
    assert keys == [b"keep", b"old2"]


# -- TimeSeries ---------------------------------------------------------------------------


def test_append_dedups_within_a_batch_and_rejects_nul_text(
    runner: asyncio.Runner, make: Callable[..., PostgresPlugin]
) -> None:
    p = make()
    ev = ("s", T0, "e", {"h": "a"}, 1.0, b"")
    results = runner.run(
        p.append_many([[ev, ("s", T0, "e", {}, 2.0, b"")], [("bad\x00", T0, "e", {}, None, b"")]])
    )
    assert results[0] == (1, 1)
    assert isinstance(results[1], InvalidArgument), results[1]
    assert runner.run(p.query("s", 0, 2**63 - 1, {}, False, None, 10)) == [ev]


def test_event_ids_order_by_code_point_not_locale(
    runner: asyncio.Runner, make: Callable[..., PostgresPlugin]
) -> None:
    p = make()
    ids = ["B", "a", "_", "é", "Z", "a b"]
    runner.run(p.append_many([[("s", T0, e, {}, None, b"") for e in ids]]))
    got = [e[2] for e in runner.run(p.query("s", 0, 2**63 - 1, {}, False, None, 10))]
    assert got == sorted(ids)
    after = runner.run(p.query("s", 0, 2**63 - 1, {}, True, (T0, "a"), 10))
    assert [e[2] for e in after] == sorted(i for i in ids if i < "a")[::-1]


# -- errors -------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the socket is


def test_unreachable_server_is_unavailable_quickly(runner: asyncio.Runner) -> None:
    url = f"postgresql://prism@127.0.0.1:{closed_port()}/prism"
    p = PostgresPlugin("ns", {"url": url, "connect_timeout_s": 1})
    began = time.monotonic()
    with pytest.raises(Unavailable) as info:
        runner.run(p.start())
    assert time.monotonic() - began < 10
    assert info.value.is_retriable()
    assert runner.run(p.health()) is False


def test_dead_pooled_connections_recover(
    runner: asyncio.Runner, make: Callable[..., PostgresPlugin], url: str
) -> None:
    # What a server restart does to the pool, done only to this plugin's own sessions.
    p = make(pool_min_size=2, pool_max_size=2)
    put(runner, p, (b"k", b"v"))
    with psycopg.connect(url, autocommit=True) as conn:
        killed = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s",
            (f"prism:{p.namespace}",),
        ).fetchone()
    assert killed is not None and killed[0] >= 1
    # Reads retry once on a fresh connection; the pool drops the other dead ones.
    assert runner.run(p.get_many([b"k"]))[0] is not None
    deadline = time.monotonic() + 10
    while True:
        try:
            assert isinstance(put(runner, p, (b"k2", b"v")), list)
            break
        except Unavailable:
            assert time.monotonic() < deadline, "writes did not recover"
            runner.run(asyncio.sleep(0.1))
    assert runner.run(p.health()) is True


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (psycopg.OperationalError("connection refused"), Unavailable),
        (psycopg.errors.QueryCanceled("canceling statement due to statement timeout"), Unavailable),
        (psycopg.errors.DeadlockDetected("deadlock"), Unavailable),
        (psycopg.errors.AdminShutdown("terminating connection"), Unavailable),
        (psycopg.errors.TooManyConnections("too many"), Unavailable),
        (psycopg.errors.DiskFull("disk full"), ResourceExhausted),
        (psycopg.errors.NumericValueOutOfRange("out of range"), InvalidArgument),
        (psycopg.errors.UndefinedTable("no table"), Internal),
    ],
)
def test_error_mapping(exc: Exception, expected: type[PrismError]) -> None:
    mapped = map_error(exc)
    assert type(mapped) is expected
    assert is_retriable(exc) == mapped.is_retriable()


# -- the batched-get fast path (prism_postgres.fastread) ---------------------------------


def test_fast_get_reprepares_a_lost_statement_and_maps_errors(
    runner: asyncio.Runner, make: Callable[..., PostgresPlugin], url: str
) -> None:
    p = make(pool_min_size=1, pool_max_size=1)
    v = put(runner, p, (b"k", b"v", now_ms() + 3_600_000))[0][0]
    expires = now_ms() + 3_600_000
    put(runner, p, (b"e", b"gone", now_ms() - 1))  # already expired: hidden
    put(runner, p, (b"t", b"ttl", expires))
    (k, e, t, missing) = runner.run(p.get_many([b"k", b"e", b"t", b"zz"]))
    assert k is not None and k[:3] == (b"k", b"v", v) and e is None and missing is None
    assert t is not None and t[1] == b"ttl" and t[3] == expires

    async def deallocate() -> None:
        async with p._kv.db.connection() as conn:  # the pool's only connection
            await conn.execute("DEALLOCATE ALL")

    runner.run(deallocate())  # what a pooler's DISCARD ALL does to the session
    assert runner.run(p.get_many([b"t", b"t"])) == [t, t]

    with psycopg.connect(url, autocommit=True) as conn:  # a server error keeps its type
        conn.execute(psycopg.sql.SQL("DROP TABLE {}").format(Names.of(p.namespace).kv))
    with pytest.raises(Internal, match="42P01: relation .* does not exist"):
        runner.run(p.get_many([b"k"]))
