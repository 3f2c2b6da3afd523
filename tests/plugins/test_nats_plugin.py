"""The NATS plugin beyond what the conformance suite can see: config validation, names,
provisioning idempotence, namespace isolation, conditional writes racing across proxies,
the expiry sweep, read-side de-duplication of late re-appends, and error mapping
(Unavailable when the server is unreachable or goes away).

Runs against the NATS server of the local stack (PRISM_NATS_URL, or the stack is brought
up for the module). Every test uses fresh namespaces and deletes their streams.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
import nats.js.errors
import pytest
from prism.errors import (
    AlreadyExists,
    ConfigError,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    Unavailable,
    Unimplemented,
)
from prism_nats import NatsPlugin
from prism_nats.errors import is_retriable, is_wrong_last_sequence, map_error
from prism_nats.names import Names, encode_name, key_to_token, token_to_key
from prism_nats.reader import list_subjects
from prism_nats.timeseries import encode_event

T0 = 1_700_000_000_000_000_000  # an event time in ns


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    if os.environ.get("PRISM_NATS_URL"):
        yield os.environ["PRISM_NATS_URL"]
        return
    from tooling.stack import api

    with api.running(["nats"], out=lambda _msg: None) as eps:
        yield eps["nats"].url


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as r:
        yield r


@pytest.fixture
def make(runner: asyncio.Runner, url: str) -> Iterator[Callable[..., NatsPlugin]]:
    """Start plugins on fresh namespaces; close them and delete their streams afterwards."""
    started: list[NatsPlugin] = []

    def factory(namespace: str | None = None, **config: Any) -> NatsPlugin:
        p = NatsPlugin(namespace or f"t-{uuid.uuid4().hex[:10]}", {"url": url, **config})
        runner.run(p.start())
        started.append(p)
        return p

    yield factory
    for p in started:
        runner.run(p.close())

    async def cleanup() -> None:
        nc = await nats.connect(url)
        js = nc.jetstream()
        for names in {p.names for p in started}:
            for stream in (names.kv_stream, names.ts_stream):
                try:
                    await js.delete_stream(stream)
                except nats.js.errors.NotFoundError:
                    pass
        await nc.close()

    runner.run(cleanup())


def put(runner: asyncio.Runner, p: NatsPlugin, *entries: tuple[Any, ...]) -> Any:
    """One single-entry batch per entry; entries may omit (expires, if_absent, if_version)."""
    full = [(e + (None, False, 0)[len(e) - 2 :]) for e in entries]
    return runner.run(p.put_many([[e] for e in full]))


def event(series: str, t: int, eid: str, value: float | None = 1.0) -> Any:
    return (series, t, eid, {"h": "a"}, value, b"payload")


# ---------------------------------------------------------------- config and names


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({}, "url"),
        ({"url": ""}, "url"),
        ({"url": "http://127.0.0.1:4222"}, "url"),
        ({"url": "nats://a:1,redis://b:2"}, "url"),
        ({"url": "nats://a:1", "name_prefix": "has_underscore"}, "name_prefix"),
        ({"url": "nats://a:1", "name_prefix": "x" * 33}, "name_prefix"),
        ({"url": "nats://a:1", "replicas": 0}, "replicas"),
        ({"url": "nats://a:1", "replicas": True}, "replicas"),
        ({"url": "nats://a:1", "connect_timeout_s": 0}, "connect_timeout_s"),
        ({"url": "nats://a:1", "request_timeout_s": "5"}, "request_timeout_s"),
        ({"url": "nats://a:1", "duplicate_window_s": -1}, "duplicate_window_s"),
        ({"url": "nats://a:1", "purge_interval_s": None}, "purge_interval_s"),
        ({"url": "nats://a:1", "bucket": "x"}, "bucket"),
    ],
)
def test_bad_config_names_the_field(config: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=f"'{field}'"):
        NatsPlugin("ns", config)


def test_names_are_injective_and_valid() -> None:
    encoded = {encode_name(n) for n in ("a.b", "a_b", "a_2Eb", "a-b", "A.b")}
    assert len(encoded) == 5
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", e) for e in encoded), encoded
    for key in (b"", b"\x00\xff", b"user/1", b"'; DROP TABLE kv; --", b"a.b*>"):
        token = key_to_token(key)
        assert token_to_key(token) == key
        assert set(token) <= set("0123456789abcdef._"), token
    names = Names("prism", "a.b")
    assert names.scan_filter(b"ab/", b"ab0") == "$KV.prism_a_2Eb.61.62.>"
    assert names.scan_filter(b"x", None) == "$KV.prism_a_2Eb.>"
    assert names.series_subject("cpu.load >") == "prism.ts.a_2Eb.s" + b"cpu.load >".hex()


# ---------------------------------------------------------------- provisioning


def test_provisioning_is_idempotent(
    runner: asyncio.Runner, make: Callable[..., NatsPlugin]
) -> None:
    a = make()
    runner.run(a.start())  # again on the same instance: a no-op
    (v1,) = put(runner, a, (b"k", b"1"))[0]
    b = make(a.namespace)  # a second proxy finds the bucket and stream and keeps the data
    item = runner.run(b.get_many([b"k"]))[0]
    assert item is not None and (item[1], item[2]) == (b"1", v1[0])
    assert runner.run(b.health()) is True


def test_foreign_stream_with_our_name_is_refused(runner: asyncio.Runner, url: str) -> None:
    ns = f"t-{uuid.uuid4().hex[:10]}"
    names = Names("prism", ns)

    async def squat() -> None:
        nc = await nats.connect(url)
        await nc.jetstream().add_stream(name=names.ts_stream, subjects=[f"other.{ns}.>"])
        await nc.close()

    async def remove() -> None:
        nc = await nats.connect(url)
        js = nc.jetstream()
        for stream in (names.kv_stream, names.ts_stream):
            try:
                await js.delete_stream(stream)
            except nats.js.errors.NotFoundError:
                pass
        await nc.close()

    runner.run(squat())
    try:
        with pytest.raises(FailedPrecondition, match="not a Prism stream"):
            runner.run(NatsPlugin(ns, {"url": url}).start())
    finally:
        runner.run(remove())


def test_namespaces_are_isolated(runner: asyncio.Runner, make: Callable[..., NatsPlugin]) -> None:
    tag = uuid.uuid4().hex[:8]
    dotted, underscored = make(f"iso.{tag}"), make(f"iso_{tag}")  # similar names, apart
    put(runner, dotted, (b"k", b"dotted"))
    put(runner, underscored, (b"k", b"underscored"))
    assert runner.run(dotted.get_many([b"k"]))[0][1] == b"dotted"
    assert runner.run(underscored.get_many([b"k"]))[0][1] == b"underscored"
    assert [i[0] for i in runner.run(dotted.scan(b"", None, None, 10))] == [b"k"]
    runner.run(dotted.append_many([[event("s", T0, "e1")]]))
    assert runner.run(underscored.query("s", 0, 2**62, {}, False, None, 10)) == []


# ---------------------------------------------------------------- keyvalue semantics


def test_multi_key_batches_are_refused(
    runner: asyncio.Runner, make: Callable[..., NatsPlugin]
) -> None:
    p = make()
    (result,) = runner.run(
        p.put_many([[(b"a", b"1", None, False, 0), (b"b", b"2", None, False, 0)]])
    )
    assert isinstance(result, Unimplemented)
    assert runner.run(p.get_many([b"a", b"b"])) == [None, None], "nothing was written"
    (result,) = runner.run(p.delete_many([[(b"a", 0), (b"b", 0)]]))
    assert isinstance(result, Unimplemented)


def test_overlong_keys(runner: asyncio.Runner, make: Callable[..., NatsPlugin]) -> None:
    p = make()
    huge = b"k" * 1001
    (result,) = put(runner, p, (huge, b"v"))
    assert isinstance(result, InvalidArgument)
    assert runner.run(p.get_many([huge, b"other"])) == [None, None]
    assert runner.run(p.delete_many([[(huge, 0)]])) == [[False]]


def test_if_absent_race_across_proxies_has_one_winner(
    runner: asyncio.Runner, make: Callable[..., NatsPlugin]
) -> None:
    a = make()
    b = make(a.namespace)

    async def race() -> list[Any]:
        entries = [[(b"k", bytes([i]), None, True, 0)] for i in range(10)]
        ra, rb = await asyncio.gather(a.put_many(entries[:5]), b.put_many(entries[5:]))
        return ra + rb

    results = runner.run(race())
    winners = [r for r in results if isinstance(r, list)]
    assert len(winners) == 1, results
    assert all(isinstance(r, AlreadyExists) for r in results if not isinstance(r, list))


def test_cas_race_across_proxies_has_one_winner(
    runner: asyncio.Runner, make: Callable[..., NatsPlugin]
) -> None:
    a = make()
    b = make(a.namespace)
    ((v1, _),) = put(runner, a, (b"k", b"0"))[0]

    async def race() -> list[Any]:
        ra, rb = await asyncio.gather(
            a.put_many([[(b"k", b"a", None, False, v1)]]),
            b.put_many([[(b"k", b"b", None, False, v1)]]),
        )
        return ra + rb

    results = runner.run(race())
    assert sum(isinstance(r, list) for r in results) == 1, results
    assert sum(isinstance(r, FailedPrecondition) for r in results) == 1, results


def test_sweep_purges_expired_keys_and_old_markers(
    runner: asyncio.Runner, make: Callable[..., NatsPlugin]
) -> None:
    p = make()
    put(runner, p, (b"gone", b"v", now_ms() + 200), (b"stays", b"v"), (b"deleted", b"v"))
    assert runner.run(p.delete_many([[(b"deleted", 0)]])) == [[True]]
    time.sleep(0.3)
    kv = p._kv
    assert kv is not None

    js = p._js
    assert js is not None

    def subjects() -> set[bytes]:
        listed = list_subjects(js, p.names.kv_stream, p.names.kv_prefix + ">", timeout_s=5)
        return {p.names.subject_key(s) for s in runner.run(listed)}

    assert subjects() == {b"gone", b"stays", b"deleted"}, "hidden but still stored"
    assert runner.run(kv.sweep(marker_age_s=0)) == 2
    assert subjects() == {b"stays"}
    # A purged key starts afresh, with a version above every earlier one.
    ((v, _),) = put(runner, p, (b"gone", b"again", None, True))[0]
    assert v > runner.run(p.get_many([b"stays"]))[0][2]


# ---------------------------------------------------------------- timeseries


def test_late_reappend_is_hidden_by_reads(
    runner: asyncio.Runner, make: Callable[..., NatsPlugin]
) -> None:
    p = make()
    first = event("s", T0, "e1", 1.0)
    assert runner.run(p.append_many([[first]])) == [(1, 0)]
    assert runner.run(p.append_many([[first]])) == [(0, 1)], "inside the duplicate window"

    async def late_copy() -> None:  # what a re-append after the window stores
        js = p._js
        assert js is not None
        await js.publish(p.names.series_subject("s"), encode_event(T0, "e1", {}, 99.0, b"x"))

    runner.run(late_copy())
    events = runner.run(p.query("s", 0, 2**62, {}, False, None, 10))
    assert events == [first], "the first copy is kept, the late one hidden"
    buckets = runner.run(p.aggregate("s", T0, T0 + 10, 10, {}))
    assert buckets == [(T0, 1, 1, 1.0, 1.0, 1.0)]


def test_series_ids_are_opaque(runner: asyncio.Runner, make: Callable[..., NatsPlugin]) -> None:
    p = make()
    odd = ["a.b", "a.*", "a.>", "", "ünï cödé"]
    runner.run(p.append_many([[event(s, T0, "e")] for s in odd]))
    for s in odd:
        got = runner.run(p.query(s, 0, 2**62, {}, False, None, 10))
        assert [e[0] for e in got] == [s], s
    (result,) = runner.run(p.append_many([[event("x" * 1001, T0, "e")]]))
    assert isinstance(result, InvalidArgument)


# ---------------------------------------------------------------- errors


def test_unreachable_server_is_unavailable(runner: asyncio.Runner) -> None:
    p = NatsPlugin("ns", {"url": f"nats://127.0.0.1:{free_port()}", "connect_timeout_s": 0.5})
    with pytest.raises(Unavailable) as info:
        runner.run(p.start())
    assert info.value.is_retriable()
    assert runner.run(p.health()) is False


def test_server_going_away_is_unavailable_then_recovers(
    runner: asyncio.Runner, tmp_path: Path, url: str
) -> None:
    # `url` brings up the stack, whose installer provides the nats-server binary.
    assert shutil.which("nats-server"), "the local stack should have installed nats-server"
    port = free_port()
    cmd = ["nats-server", "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(tmp_path)]

    def serve() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return proc
            time.sleep(0.05)
        proc.kill()
        raise AssertionError("nats-server did not start")

    server = serve()
    p = NatsPlugin("ns", {"url": f"nats://127.0.0.1:{port}", "request_timeout_s": 1.0})
    try:
        runner.run(p.start())
        put(runner, p, (b"k", b"v"))
        server.terminate()
        server.wait(10)
        began = time.monotonic()
        with pytest.raises(Unavailable):
            runner.run(p.get_many([b"k"]))
        (result,) = put(runner, p, (b"k", b"w"))
        assert isinstance(result, Unavailable)
        with pytest.raises(Unavailable):
            runner.run(p.query("s", 0, 2**62, {}, False, None, 10))
        assert time.monotonic() - began < 10, "calls must fail within their timeout"
        assert runner.run(p.health()) is False
        server = serve()  # same store dir: the acknowledged write is still there
        deadline = time.monotonic() + 15
        while not runner.run(p.health()):
            assert time.monotonic() < deadline, "did not reconnect"
            runner.run(asyncio.sleep(0.2))
        assert runner.run(p.get_many([b"k"]))[0][1] == b"v"
    finally:
        runner.run(p.close())
        server.kill()
        server.wait(10)


def test_error_mapping() -> None:
    assert isinstance(map_error(nats.errors.TimeoutError()), Unavailable)
    assert isinstance(map_error(nats.errors.NoServersError()), Unavailable)
    assert isinstance(map_error(ConnectionRefusedError()), Unavailable)
    assert isinstance(map_error(nats.errors.MaxPayloadError()), InvalidArgument)
    unavailable = nats.js.errors.APIError(code=503, err_code=10008, description="no leader")
    assert isinstance(map_error(unavailable), Unavailable) and is_retriable(unavailable)
    lost_cas = nats.js.errors.BadRequestError(code=400, err_code=10071, description="wrong")
    assert is_wrong_last_sequence(lost_cas)
    assert isinstance(map_error(lost_cas), Internal) and not is_retriable(lost_cas)
    assert isinstance(map_error(ValueError("x")), Internal)
