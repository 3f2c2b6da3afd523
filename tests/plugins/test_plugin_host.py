"""The plugin host: grouping, dispatch and error mapping against a real SqlitePlugin.

`prism._core.Bridge` can only be fed by the Rust core, so the dispatch tests use a small
in-process bridge with the same methods (a real pipe as the wake-up fd); the real Bridge
is exercised by the e2e tests and by the smoke test at the end when it is built.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from prism.errors import PrismError
from prism.plugins import PluginHost
from prism.plugins.api import BackendPlugin, PutEntry
from prism_sqlite import SqlitePlugin


class PipeBridge:
    """Queue + wake-up pipe with the Bridge contract: one byte per empty->non-empty."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        self._lock = threading.Lock()
        self._queue: list[tuple[int, str, str, Any]] = []
        self._next_id = 0
        self.results: dict[int, tuple[bool, Any]] = {}
        self.complete_calls: list[list[int]] = []
        self.drain_calls = 0
        self._answered = threading.Condition(self._lock)

    def fileno(self) -> int:
        return self._r

    def drain(self, max_items: int = 4096) -> list[tuple[int, str, str, Any]]:
        with self._lock:
            self.drain_calls += 1
            taken, self._queue = self._queue[:max_items], self._queue[max_items:]
            return taken

    def complete(self, results: list[tuple[int, bool, Any]]) -> None:
        with self._lock:
            self.complete_calls.append([rid for rid, _, _ in results])
            for rid, ok, value in results:
                self.results[rid] = (ok, value)
            self._answered.notify_all()

    def submit(self, *requests: tuple[str, str, Any]) -> list[int]:
        with self._lock:
            was_empty = not self._queue
            ids = []
            for namespace, op, args in requests:
                self._next_id += 1
                ids.append(self._next_id)
                self._queue.append((self._next_id, namespace, op, args))
        if was_empty:
            os.write(self._w, b"\x01")
        return ids

    def call(self, *requests: tuple[str, str, Any]) -> list[tuple[bool, Any]]:
        ids = self.submit(*requests)
        with self._answered:
            assert self._answered.wait_for(lambda: all(i in self.results for i in ids), 10)
            return [self.results[i] for i in ids]

    def close(self) -> None:
        os.close(self._r)
        os.close(self._w)


class SpySqlite(SqlitePlugin):
    """A real SqlitePlugin that records how the host batched its calls."""

    def __init__(self, namespace: str, config: dict[str, Any]) -> None:
        super().__init__(namespace, config)
        self.calls: list[tuple[str, int]] = []

    async def get_many(self, keys: Sequence[bytes]) -> Any:
        self.calls.append(("get_many", len(keys)))
        return await super().get_many(keys)

    async def put_many(self, batches: Sequence[Sequence[PutEntry]]) -> Any:
        self.calls.append(("put_many", len(batches)))
        return await super().put_many(batches)


class Lifecycle(BackendPlugin):
    """A backend with no pattern methods at all, and a flaky health."""

    name = "bare"
    patterns = ()
    capabilities = {}

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def health(self) -> bool:
        raise RuntimeError("down")


class Broken(SqlitePlugin):
    async def scan(self, *args: Any) -> Any:
        raise RuntimeError("boom")

    async def put_many(self, batches: Sequence[Sequence[PutEntry]]) -> list[Any]:
        return [ValueError("bad batch")] + [[(1, None)] for _ in batches[1:]]


@pytest.fixture
def bridge() -> Iterator[PipeBridge]:
    b = PipeBridge()
    yield b
    b.close()


@pytest.fixture
def kv(tmp_path: Path) -> SpySqlite:
    return SpySqlite("kv", {"path": str(tmp_path / "kv.db")})


@pytest.fixture
def host(bridge: PipeBridge, kv: SpySqlite, tmp_path: Path) -> Iterator[PluginHost]:
    plugins: dict[str, BackendPlugin] = {
        "kv": kv,
        "bare": Lifecycle("bare", {}),
        "broken": Broken("broken", {"path": str(tmp_path / "broken.db")}),
    }
    h = PluginHost(bridge, plugins, max_drain=4)
    h.start()
    yield h
    h.stop()


def put(key: bytes, value: bytes, if_absent: bool = False, if_version: int = 0) -> Any:
    return [(key, value, None, if_absent, if_version)]


def test_one_drain_becomes_one_call_per_group(
    host: PluginHost, bridge: PipeBridge, kv: SpySqlite
) -> None:
    assert bridge.call(("kv", "kv.put", put(b"a", b"1"))) == [(True, [(1, None)])]
    kv.calls.clear()
    bridge.complete_calls.clear()
    results = bridge.call(
        ("kv", "kv.put", put(b"b", b"2")),
        ("kv", "kv.get", [b"a", b"zz"]),
        ("kv", "kv.put", put(b"a", b"x", if_absent=True)),
        ("kv", "kv.get", [b"a"]),
    )
    assert results[0] == (True, [(2, None)])
    assert results[1] == (True, [(b"a", b"1", 1, None), None])
    assert results[2] == (False, ("already_exists", "key 'a' already exists"))
    assert results[3] == (True, [(b"a", b"1", 1, None)])
    # Two puts -> one put_many with two batches; two gets -> one get_many with 3 keys;
    # each group answered with one complete() call.
    assert sorted(kv.calls) == [("get_many", 3), ("put_many", 2)]
    assert sorted(len(c) for c in bridge.complete_calls) == [2, 2]


def test_every_op_round_trips(host: PluginHost, bridge: PipeBridge) -> None:
    event = ("s", 10, "e1", {"h": "a"}, 2.5, b"p")
    results = bridge.call(
        ("kv", "kv.put", [(b"k1", b"v", None, False, 0), (b"k2", b"v", None, False, 0)]),
        ("kv", "ts.append", [event]),
    )
    assert results == [(True, [(1, None), (2, None)]), (True, (1, 0))]
    results = bridge.call(
        ("kv", "kv.scan", (b"k", None, b"k1", 10)),
        ("kv", "kv.delete", [(b"k1", 0)]),
        ("kv", "ts.query", ("s", 0, 100, {"h": "a"}, True, None, 10)),
        ("kv", "ts.aggregate", ("s", 0, 100, 50, {})),
        ("kv", "ts.append", [event]),
        ("", "noop", None),
    )
    assert results == [
        (True, [(b"k2", b"v", 2, None)]),
        (True, [True]),
        (True, [event]),
        (True, [(0, 1, 1, 2.5, 2.5, 2.5)]),
        (True, (0, 1)),
        (True, None),
    ]


def test_error_mapping(host: PluginHost, bridge: PipeBridge) -> None:
    results = bridge.call(
        ("nope", "kv.get", [b"a"]),
        ("bare", "kv.scan", (b"", None, None, 1)),
        ("kv", "kv.frobnicate", None),
        ("kv", "kv.put", put(b"a", b"1", if_version=3)),
        ("broken", "kv.scan", (b"", None, None, 1)),
        ("broken", "kv.put", put(b"a", b"1")),
        ("broken", "kv.put", put(b"b", b"1")),
        ("kv", "ts.aggregate", ("s", 0, 10)),  # malformed args
    )
    assert results[0] == (False, ("not_found", "namespace 'nope' has no plugin on this proxy"))
    assert results[1] == (False, ("unimplemented", "backend 'bare' does not implement kv.scan"))
    assert results[2] == (
        False,
        ("unimplemented", "backend 'sqlite' does not implement kv.frobnicate"),
    )
    assert results[3] == (
        False,
        ("failed_precondition", "key 'a' does not exist, expected version 3"),
    )
    assert results[4] == (False, ("internal", "RuntimeError: boom"))
    assert results[5] == (False, ("internal", "ValueError: bad batch"))
    assert results[6] == (True, [(1, None)])
    assert results[7][0] is False and results[7][1][0] == "internal"
    # The loop survived every failure.
    assert bridge.call(("", "noop", None)) == [(True, None)]


def test_more_requests_than_one_drain(host: PluginHost, bridge: PipeBridge) -> None:
    results = bridge.call(*[("kv", "kv.get", [b"k%d" % i]) for i in range(11)])
    assert results == [(True, [None])] * 11
    assert bridge.drain_calls >= 3  # max_drain=4


def test_concurrent_writers_get_unique_versions(host: PluginHost, bridge: PipeBridge) -> None:
    answers: list[tuple[bool, Any]] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        for i in range(40):
            (result,) = bridge.call(("kv", "kv.put", put(b"w%d-%d" % (n, i), b"v")))
            with lock:
                answers.append(result)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(ok for ok, _ in answers)
    assert sorted(value[0][0] for _, value in answers) == list(range(1, 241))


def test_health_and_idempotent_stop(host: PluginHost) -> None:
    assert host.health() == {"kv": True, "bare": False, "broken": True}
    host.stop()
    host.stop()
    assert host.health() == {"kv": False, "bare": False, "broken": False}


def test_start_failure_names_the_namespace(bridge: PipeBridge, tmp_path: Path) -> None:
    bad = SqlitePlugin("bad", {"path": str(tmp_path)})  # a directory cannot be opened
    h = PluginHost(bridge, {"bad": bad})
    with pytest.raises(PrismError, match="namespace 'bad'"):
        h.start()
    h.stop()  # harmless after a failed start


def test_real_bridge_smoke(tmp_path: Path) -> None:
    from prism import _core

    bridge = _core.Bridge()
    h = PluginHost(bridge, {"kv": SqlitePlugin("kv", {"path": str(tmp_path / "kv.db")})})
    h.start()
    assert h.health() == {"kv": True}
    h.stop()
    bridge.close()


class GatedSqlite(SpySqlite):
    """A real SqlitePlugin whose get_many waits until the test opens the gate."""

    def __init__(self, namespace: str, config: dict[str, Any]) -> None:
        super().__init__(namespace, config)
        self.gate = threading.Event()
        self.entered = threading.Event()

    async def get_many(self, keys: Sequence[bytes]) -> Any:
        self.calls.append(("get_many", len(keys)))
        self.entered.set()
        while not self.gate.is_set():
            await asyncio.sleep(0.002)
        return await SqlitePlugin.get_many(self, keys)


def test_gets_arriving_during_a_read_join_the_next_batch(
    bridge: PipeBridge, tmp_path: Path
) -> None:
    kv = GatedSqlite("kv", {"path": str(tmp_path / "kv.db")})
    h = PluginHost(bridge, {"kv": kv}, max_read_batches=1)
    h.start()
    try:
        first = bridge.submit(("kv", "kv.get", [b"a"]))
        assert kv.entered.wait(5)
        # Three more drains while the first get_many is in flight: they must wait.
        later = [bridge.submit(("kv", "kv.get", [b"k%d" % i]))[0] for i in range(3)]
        time.sleep(0.05)
        assert kv.calls == [("get_many", 1)]
        kv.gate.set()
        bridge.call(("", "noop", None))
        deadline = time.monotonic() + 5
        while len(bridge.results) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert all(bridge.results[i] == (True, [None]) for i in first + later)
        assert kv.calls == [("get_many", 1), ("get_many", 3)]  # one batch for the three
    finally:
        kv.gate.set()
        h.stop()


def test_max_read_batches_must_be_positive(bridge: PipeBridge) -> None:
    with pytest.raises(ValueError, match="max_read_batches must be >= 1, got 0"):
        PluginHost(bridge, {}, max_read_batches=0)
