"""Semantics of the SQLite plugin for every bridge op, against a real file in tmp_path."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prism.errors import (
    AlreadyExists,
    ConfigError,
    FailedPrecondition,
    InvalidArgument,
    PrismError,
    Unavailable,
)
from prism_sqlite import SqlitePlugin
from prism_sqlite.errors import is_retriable, map_error

T0 = 1_700_000_000_000_000_000  # an event time in ns


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as r:
        yield r


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "data" / "ns.db")


@pytest.fixture
def plugin(runner: asyncio.Runner, db: str) -> Iterator[SqlitePlugin]:
    p = SqlitePlugin("ns", {"path": db})
    runner.run(p.start())
    yield p
    runner.run(p.close())


class KV:
    """Synchronous helpers over the async plugin, to keep the tests short."""

    def __init__(self, runner: asyncio.Runner, plugin: SqlitePlugin) -> None:
        self.r, self.p = runner, plugin

    def put(self, *entries: tuple[Any, ...]) -> Any:
        full = [(e + (None, False, 0)[len(e) - 2 :]) for e in entries]
        return self.r.run(self.p.put_many([full]))[0]

    def get(self, *keys: bytes) -> list[Any]:
        return self.r.run(self.p.get_many(list(keys)))

    def delete(self, *entries: tuple[bytes, int]) -> Any:
        return self.r.run(self.p.delete_many([list(entries)]))[0]

    def scan(self, start: bytes, end: bytes | None, after: bytes | None, limit: int) -> list[Any]:
        return self.r.run(self.p.scan(start, end, after, limit))


@pytest.fixture
def kv(runner: asyncio.Runner, plugin: SqlitePlugin) -> KV:
    return KV(runner, plugin)


# -- config -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({}, "path"),
        ({"path": ""}, "path"),
        ({"path": "x.db", "synchronous": "off"}, "synchronous"),
        ({"path": "x.db", "busy_timeout_ms": -1}, "busy_timeout_ms"),
        ({"path": "x.db", "busy_timeout_ms": "5"}, "busy_timeout_ms"),
        ({"path": "x.db", "purge_interval_s": 0}, "purge_interval_s"),
        ({"path": "x.db", "colour": "blue"}, "colour"),
    ],
)
def test_bad_config_names_the_field(config: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=f"'{field}'"):
        SqlitePlugin("ns", config)


def test_metadata_and_defaults(db: str) -> None:
    p = SqlitePlugin("ns", {"path": db, "synchronous": "NORMAL"})
    assert p.config.synchronous == "normal" and p.config.busy_timeout_ms == 5000
    assert SqlitePlugin.name == "sqlite"
    assert SqlitePlugin.patterns == ("keyvalue", "timeseries")
    assert SqlitePlugin.capabilities["keyvalue"] == {"core", "batch", "scan", "ttl", "cas"}
    assert SqlitePlugin.capabilities["timeseries"] == {"core", "aggregate", "tail"}


def test_start_is_idempotent_and_provisions_wal(runner: asyncio.Runner, db: str) -> None:
    p = SqlitePlugin("ns", {"path": db})
    runner.run(p.start())
    runner.run(p.start())
    assert runner.run(p.health()) is True
    runner.run(p.close())
    runner.run(p.close())
    assert runner.run(p.health()) is False
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()
    # Provisioning again on an existing file is harmless.
    runner.run(p.start())
    runner.run(p.close())


def test_calls_before_start_are_unavailable(runner: asyncio.Runner, db: str) -> None:
    p = SqlitePlugin("ns", {"path": db})
    with pytest.raises(Unavailable, match="not started"):
        runner.run(p.get_many([b"k"]))


# -- KeyValue ---------------------------------------------------------------------------


def test_put_get_versions_and_order(kv: KV) -> None:
    (v1,), (v2,) = kv.put((b"a", b"1")), kv.put((b"b", b"2"))
    assert v1 == (1, None) and v2 == (2, None)
    assert kv.get(b"b", b"missing", b"a", b"b") == [
        (b"b", b"2", 2, None),
        None,
        (b"a", b"1", 1, None),
        (b"b", b"2", 2, None),
    ]
    # A multi-entry put applies in order; the same key twice keeps the last value.
    assert kv.put((b"a", b"x"), (b"a", b"y")) == [(3, None), (4, None)]
    assert kv.get(b"a") == [(b"a", b"y", 4, None)]


def test_ttl_expiry_and_purge(kv: KV, plugin: SqlitePlugin) -> None:
    exp = now_ms() + 150
    assert kv.put((b"t", b"v", exp)) == [(1, exp)]
    kv.put((b"keep", b"v"))
    assert kv.get(b"t") == [(b"t", b"v", 1, exp)]
    time.sleep(0.2)
    assert kv.get(b"t") == [None]
    assert [i[0] for i in kv.scan(b"", None, None, 10)] == [b"keep"]
    assert kv.put((b"t", b"new", None, True, 0)) == [(3, None)]  # expired counts as absent
    kv.put((b"t2", b"v", now_ms() - 1))
    assert plugin._kv is not None and plugin._kv.purge_expired() == 1
    assert kv.delete((b"t2", 0)) == [False]


def test_if_absent(kv: KV) -> None:
    kv.put((b"k", b"v"))
    err = kv.put((b"k", b"w", None, True, 0))
    assert isinstance(err, AlreadyExists) and err.message == "key 'k' already exists"
    assert kv.get(b"k")[0][1] == b"v"


def test_cas_success_and_failures_name_versions(kv: KV) -> None:
    ((version, _),) = kv.put((b"k", b"v"))
    assert kv.put((b"k", b"w", None, False, version)) == [(version + 1, None)]
    err = kv.put((b"k", b"x", None, False, version))
    assert isinstance(err, FailedPrecondition)
    assert err.message == f"key 'k' is at version {version + 1}, expected version {version}"
    err = kv.put((b"nope", b"x", None, False, 7))
    assert isinstance(err, FailedPrecondition)
    assert err.message == "key 'nope' does not exist, expected version 7"
    assert kv.get(b"k")[0][1] == b"w"


def test_batch_is_atomic_and_batches_are_independent(
    runner: asyncio.Runner, plugin: SqlitePlugin, kv: KV
) -> None:
    kv.put((b"exists", b"v"))
    results = runner.run(
        plugin.put_many(
            [
                [(b"a", b"1", None, False, 0), (b"b", b"2", None, False, 0)],
                [(b"c", b"3", None, False, 0), (b"exists", b"x", None, True, 0)],
                [(b"d", b"4", None, False, 0)],
            ]
        )
    )
    assert results[0] == [(2, None), (3, None)]
    assert isinstance(results[1], AlreadyExists)
    # The failed batch's version numbers were rolled back with it.
    assert results[2] == [(4, None)]
    assert [i is not None for i in kv.get(b"a", b"b", b"c", b"d")] == [True, True, False, True]
    assert kv.get(b"exists")[0][1] == b"v"


def test_versions_grow_across_delete(kv: KV) -> None:
    ((v1, _),) = kv.put((b"k", b"v"))
    assert kv.delete((b"k", v1)) == [True]
    ((v2, _),) = kv.put((b"k", b"v"))
    assert v2 > v1
    # A client still holding v1 cannot CAS the re-created key (no ABA).
    assert isinstance(kv.put((b"k", b"x", None, False, v1)), FailedPrecondition)


def test_delete(kv: KV, runner: asyncio.Runner, plugin: SqlitePlugin) -> None:
    ((v, _),) = kv.put((b"k", b"v"))
    kv.put((b"j", b"v"))
    assert kv.delete((b"missing", 0)) == [False]
    err = kv.delete((b"missing", 3))
    assert isinstance(err, FailedPrecondition) and "does not exist" in err.message
    err = kv.delete((b"j", 0), (b"k", v + 5))
    assert isinstance(err, FailedPrecondition) and f"expected version {v + 5}" in err.message
    assert kv.get(b"j")[0] is not None  # atomic: j was not deleted
    results = runner.run(plugin.delete_many([[(b"j", 0)], [(b"k", v)], [(b"k", 0)]]))
    assert results == [[True], [True], [False]]


def test_scan_bounds_after_limit_and_bytewise_order(kv: KV) -> None:
    keys = [b"a", b"a\x00", b"ab", b"b", b"b'; DROP TABLE kv; --", b"\x7f", b"\xff", b"\xff\x01"]
    for k in keys:
        kv.put((k, b"v"))
    everything = [i[0] for i in kv.scan(b"", None, None, 100)]
    assert everything == sorted(keys)
    assert [i[0] for i in kv.scan(b"a", b"b", None, 100)] == [b"a", b"a\x00", b"ab"]
    assert [i[0] for i in kv.scan(b"a", b"b", b"a\x00", 100)] == [b"ab"]
    assert [i[0] for i in kv.scan(b"", None, None, 3)] == sorted(keys)[:3]
    assert [i[0] for i in kv.scan(b"\x80", None, None, 100)] == [b"\xff", b"\xff\x01"]
    assert kv.scan(b"", None, None, 0) == []
    # Paging with `after` visits every key exactly once.
    seen: list[bytes] = []
    after = None
    while page := kv.scan(b"", None, after, 3):
        seen += [i[0] for i in page]
        after = page[-1][0]
    assert seen == sorted(keys)


def test_key_rendered_as_hex_when_not_text(kv: KV) -> None:
    kv.put((b"\xff\x00", b"v"))
    err = kv.put((b"\xff\x00", b"v", None, True, 0))
    assert isinstance(err, AlreadyExists) and err.message == "key '0xff00' already exists"


# -- TimeSeries -------------------------------------------------------------------------


def ev(t: int, eid: str, value: float | None = 1.0, **tags: str) -> tuple[Any, ...]:
    return ("s", T0 + t, eid, tags, value, b"p" + eid.encode())


def append(runner: asyncio.Runner, plugin: SqlitePlugin, events: list[Any]) -> Any:
    return runner.run(plugin.append_many([events]))[0]


def test_append_is_idempotent(runner: asyncio.Runner, plugin: SqlitePlugin) -> None:
    assert append(runner, plugin, [ev(1, "a"), ev(2, "b")]) == (2, 0)
    changed = ("s", T0 + 1, "a", {"x": "y"}, 99.0, b"other")
    assert append(runner, plugin, [changed, ev(3, "c"), ev(3, "c")]) == (1, 2)
    got = runner.run(plugin.query("s", T0, T0 + 10, {}, False, None, 10))
    assert got[0] == ("s", T0 + 1, "a", {}, 1.0, b"pa")  # the duplicate changed nothing
    assert len(got) == 3
    results = runner.run(plugin.append_many([[ev(4, "d")], [ev(4, "d"), ev(5, "e")]]))
    assert results == [(1, 0), (1, 1)]


def test_append_out_of_range_time_fails_only_its_batch(
    runner: asyncio.Runner, plugin: SqlitePlugin
) -> None:
    bad: tuple[Any, ...] = ("s", 2**70, "x", {}, None, b"")
    results = runner.run(plugin.append_many([[ev(1, "a"), bad], [ev(2, "b")]]))
    assert isinstance(results[0], InvalidArgument) and results[1] == (1, 0)
    assert [e[2] for e in runner.run(plugin.query("s", T0, T0 + 9, {}, False, None, 9))] == ["b"]


def test_query_order_filter_after_limit(runner: asyncio.Runner, plugin: SqlitePlugin) -> None:
    events = [ev(t, eid, float(t), host=f"h{t % 3}") for t in range(10) for eid in ("x", "a")]
    events.append(("other", T0 + 1, "z", {}, None, b""))
    append(runner, plugin, events)

    def q(**kw: Any) -> list[tuple[int, str]]:
        args: dict[str, Any] = {
            "series_id": "s",
            "start_ns": T0 + 2,
            "end_ns": T0 + 8,
            "tag_filter": {},
            "descending": False,
            "after": None,
            "limit": 100,
        }
        args.update(kw)
        return [(e[1] - T0, e[2]) for e in runner.run(plugin.query(**args))]

    asc = [(t, eid) for t in range(2, 8) for eid in ("a", "x")]
    assert q() == asc
    assert q(descending=True) == asc[::-1]
    assert q(limit=3) == asc[:3]
    assert q(after=(T0 + 3, "a")) == asc[3:]
    assert q(descending=True, after=(T0 + 3, "x")) == asc[::-1][9:]
    assert q(tag_filter={"host": "h1"}) == [(4, "a"), (4, "x"), (7, "a"), (7, "x")]
    assert q(tag_filter={"host": "h1"}, descending=True, limit=3) == [(7, "x"), (7, "a"), (4, "x")]
    assert q(tag_filter={"host": "h1", "dc": "eu"}) == []
    assert q(start_ns=T0 + 5, end_ns=T0 + 5) == []


def test_query_with_sparse_filter_keeps_fetching(
    runner: asyncio.Runner, plugin: SqlitePlugin
) -> None:
    events = [ev(t, "e", None, rare="yes" if t % 97 == 0 else "no") for t in range(5000)]
    append(runner, plugin, events)
    got = runner.run(plugin.query("s", T0, T0 + 5000, {"rare": "yes"}, False, None, 40))
    assert [e[1] - T0 for e in got] == list(range(0, 5000, 97))[:40]


@pytest.mark.parametrize("tag_filter", [{}, {"host": "h1"}])
def test_aggregate_matches_python(
    runner: asyncio.Runner, plugin: SqlitePlugin, tag_filter: dict[str, str]
) -> None:
    events = [
        ev(t * 7, f"e{t}", None if t % 5 == 0 else (t % 13) * 1.5 - 4, host=f"h{t % 2}")
        for t in range(300)
    ]
    append(runner, plugin, events)
    start, end, width = T0 + 10, T0 + 1500, 100
    expected: dict[int, list[Any]] = {}
    for _, t, _, tags, value, _ in events:
        if not start <= t < end or any(tags.get(k) != v for k, v in tag_filter.items()):
            continue
        b = start + ((t - start) // width) * width
        acc = expected.setdefault(b, [0, []])
        acc[0] += 1
        if value is not None:
            acc[1].append(value)
    got = runner.run(plugin.aggregate("s", start, end, width, tag_filter))
    assert [g[0] for g in got] == sorted(expected)
    for b, count, value_count, total, lo, hi in got:
        n, values = expected[b]
        assert (count, value_count) == (n, len(values))
        assert total == pytest.approx(sum(values))
        assert (lo, hi) == ((min(values), max(values)) if values else (0.0, 0.0))


def test_aggregate_rejects_zero_width(runner: asyncio.Runner, plugin: SqlitePlugin) -> None:
    with pytest.raises(InvalidArgument, match="width"):
        runner.run(plugin.aggregate("s", T0, T0 + 10, 0, {}))


# -- durability and errors --------------------------------------------------------------


def test_everything_reads_back_after_reopen(runner: asyncio.Runner, db: str) -> None:
    p = SqlitePlugin("ns", {"path": db})
    runner.run(p.start())
    runner.run(p.put_many([[(b"k%d" % i, b"v%d" % i, None, False, 0)] for i in range(50)]))
    runner.run(p.delete_many([[(b"k0", 0)]]))
    runner.run(p.append_many([[ev(i, "e") for i in range(50)]]))
    runner.run(p.close())

    q = SqlitePlugin("ns", {"path": db})
    runner.run(q.start())
    items = runner.run(q.scan(b"", None, None, 1000))
    assert len(items) == 49 and all(i[1] == b"v" + i[0][1:] for i in items)
    assert len(runner.run(q.query("s", T0, T0 + 100, {}, False, None, 100))) == 50
    # The version counter survived too.
    assert runner.run(q.put_many([[(b"new", b"v", None, False, 0)]])) == [[(51, None)]]
    runner.run(q.close())


def test_unopenable_path_is_a_prism_error(runner: asyncio.Runner, tmp_path: Path) -> None:
    p = SqlitePlugin("ns", {"path": str(tmp_path)})  # a directory
    with pytest.raises(PrismError):
        runner.run(p.start())


def test_error_mapping() -> None:
    busy = sqlite3.OperationalError("database is locked")
    busy.sqlite_errorcode = 5  # type: ignore[attr-defined]
    assert isinstance(map_error(busy), Unavailable) and is_retriable(busy)
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13  # type: ignore[attr-defined]
    assert map_error(full).code == "resource_exhausted"
    assert map_error(sqlite3.IntegrityError("x")).code == "internal"
    assert not is_retriable(sqlite3.IntegrityError("x"))
