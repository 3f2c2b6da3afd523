"""Resilience (design §5, issue 3 §5): crash each real backend server in the middle of
traffic and bring it back, through one gateway that is never restarted.

For PostgreSQL, Redis, NATS (KeyValue) and Kafka (TimeSeries append), each test:
1. starts a dedicated `prism serve` with one namespace on the backend (the claims.yaml
   config, with the plugin's timeouts set below the client deadline) and a memory one;
2. runs writer threads of unique puts/appends, recording every call and every
   acknowledged write;
3. SIGKILLs the server (`api.stop(name, kill=True)`) and keeps writing: every call that
   fails must fail with UNAVAILABLE within its deadline (no hang, no DEADLINE_EXCEEDED),
   and the gateway must keep answering (health SERVING, a memory-namespace round trip);
4. starts the server again: writes must succeed again within a bound, without
   restarting the gateway;
5. stops the writers and reads back every acknowledged write: none may be lost.

Each test leaves its server running again, even when it fails. The session server is not
used: killing its backends would break the other suites.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers import claims, unique
from helpers.outage import KeyValueWorkload, TimeSeriesWorkload, Traffic, Writers
from helpers.server import SERVING, ServerProcess, health_status
from prism.client import PrismClient

from tooling.stack import api

pytestmark = pytest.mark.timeout(300)

#: Client deadline of every write: short, so a hang cannot hide in a long deadline.
DEADLINE_S = 2.0
#: What a failed call may take beyond its deadline (scheduling, the client's own checks).
MARGIN_S = 0.5
#: Writer threads per backend.
WRITERS = 4
#: Traffic before the crash, and how long the server stays down under traffic.
BEFORE_S = 1.0
DOWN_S = 3.0
#: Traffic kept up after recovery, so writes land on the restarted server too.
AFTER_S = 1.0


@dataclass(frozen=True)
class Case:
    service: str  # stack service, also the claims.yaml backend
    pattern: str  # keyvalue (puts) or timeseries (appends)
    #: Plugin settings below DEADLINE_S so that an unreachable server is reported by the
    #: plugin as UNAVAILABLE before the gateway's deadline turns it into DEADLINE_EXCEEDED.
    timeouts: dict[str, Any]
    recovery_s: float  # bound on the first successful write after the server is ready

    def __str__(self) -> str:
        return self.service


CASES = [
    Case("postgres", "keyvalue", {"connect_timeout_s": 1.0, "statement_timeout_ms": 1000}, 30),
    Case("redis", "keyvalue", {"connect_timeout_s": 1.0, "socket_timeout_s": 1.0}, 30),
    Case("nats", "keyvalue", {"connect_timeout_s": 1.0, "request_timeout_s": 1.0}, 30),
    # An append is up to three steps each bounded by request_timeout_ms (waiting for the
    # namespace's append lock held by a failing batch, the duplicate-check read, the
    # produce): a third of the deadline keeps even a call caught mid-crash within it.
    Case("kafka", "timeseries", {"request_timeout_ms": 600}, 60),
]


@pytest.fixture(scope="module")
def stack(backend_stack: dict[str, str]) -> Iterator[dict[str, api.Endpoint]]:
    """All four servers, owned by the local stack (an external server cannot be killed).
    `backend_stack` exports the endpoints for claims.yaml; `running` adds any backend the
    conformance selection left out, and stops only what it started."""
    with api.running([c.service for c in CASES]) as endpoints:
        for ep in endpoints.values():
            os.environ[ep.env_var] = ep.url
        yield endpoints


def namespaces(case: Case) -> tuple[str, list[dict[str, Any]]]:
    entry = claims.load()["backends"][case.service]
    assert entry.get(case.pattern), f"claims.yaml: {case.service} does not serve {case.pattern}"
    name = f"{entry['namespace']}res"
    config = dict(claims.expand(entry.get("config") or {}, case.service), **case.timeouts)
    backend = {"name": name, "patterns": [case.pattern], "backend": case.service, "config": config}
    memory = {"name": "mem", "patterns": ["keyvalue"], "backend": "memory"}
    return name, [backend, memory]


@pytest.fixture
def gateway(case: Case, stack: dict[str, api.Endpoint], tmp_path: Path) -> Iterator[Any]:
    ep = stack[case.service]
    assert not ep.external, (
        f"{ep.env_var}={ep.url} is an external server; the resilience tests must kill and "
        f"restart it, so unset {ep.env_var} and let the local stack run it"
    )
    name, ns = namespaces(case)
    proc = ServerProcess(tmp_path / "gateway", ns)
    try:
        proc.start()
        yield name, proc
    finally:
        proc.kill()
        # Whatever happened, leave the server running for the tests that follow.
        if case.service not in api.endpoints():
            api.start(case.service, out=_quiet)


def _quiet(_: str) -> None:
    pass


def gateway_answers(proc: ServerProcess) -> None:
    """The gateway itself is fine while a backend is down: health says SERVING and a
    memory-namespace round trip works."""
    try:
        assert health_status(proc.address, timeout=DEADLINE_S) == SERVING
        with PrismClient(proc.address, timeout=DEADLINE_S, retries=1) as client:
            key, value = unique("alive"), b"still here"
            client.kv("mem").put(key, value)
            item = client.kv("mem").get(key)
            assert item is not None and item.value == value
    except Exception as exc:
        state = "running" if proc.running else "EXITED"
        raise AssertionError(
            f"the gateway ({state}) does not answer while the backend is down: {exc!r}\n"
            f"{proc.log_tail(30)}"
        ) from exc


def describe(calls: list[Any]) -> str:
    codes: dict[str, int] = {}
    for c in calls:
        codes[c.code] = codes.get(c.code, 0) + 1
    worst = max((c.latency for c in calls), default=0.0)
    return f"{len(calls)} calls {codes}, slowest {worst:.2f}s"


def wait_for(pred: Any, timeout: float, what: str) -> float:
    t0 = time.monotonic()
    while not pred():
        assert time.monotonic() - t0 < timeout, f"{what} not within {timeout:.0f}s"
        time.sleep(0.05)
    return time.monotonic() - t0


@pytest.mark.parametrize("case", CASES, ids=str)
def test_crash_and_restart_under_traffic(case: Case, gateway: Any) -> None:
    namespace, proc = gateway
    workload = (
        KeyValueWorkload(namespace) if case.pattern == "keyvalue" else TimeSeriesWorkload(namespace)
    )
    writers = Writers(proc.address, workload.write, n=WRITERS, timeout=DEADLINE_S).start()
    traffic: Traffic = writers.traffic
    try:
        # 1. Traffic flows.
        begin = time.monotonic()
        wait_for(lambda: traffic.successes_after(begin), 30, "a first acknowledged write")
        time.sleep(BEFORE_S)
        before = traffic.snapshot()

        # 2. Crash the server; keep writing.
        killing = time.monotonic()
        api.stop(case.service, kill=True, out=_quiet)
        killed = time.monotonic()
        time.sleep(DOWN_S / 2)
        gateway_answers(proc)
        time.sleep(DOWN_S / 2)
        restarting = time.monotonic()
        outage = traffic.within(killed, restarting)

        # 3. Start it again; the same gateway must recover.
        api.start(case.service, out=_quiet)
        ready = time.monotonic()
        recovery = wait_for(
            lambda: traffic.successes_after(ready), case.recovery_s, "a write after restart"
        )
        time.sleep(AFTER_S)
    finally:
        writers.stop()
    assert proc.running, f"the gateway died during the outage\n{proc.log_tail()}"

    calls = traffic.snapshot()
    failures = traffic.failures()
    summary = (
        f"{case}: before the crash {describe(before)}; the kill took {killed - killing:.1f}s; "
        f"during the outage {describe(outage)}; "
        f"restart took {ready - restarting:.1f}s, first write {recovery:.2f}s after ready; "
        f"in all {describe(calls)}"
    )
    print(summary)

    # Before the crash, writes succeed.
    assert any(c.ok for c in before), summary
    # During the outage every write fails (the server is dead), and there were some.
    assert outage, f"no call completed during the outage; {summary}"
    assert not [c for c in outage if c.ok], f"a write succeeded on a dead server; {summary}"
    # Every failure, at any time, is UNAVAILABLE within its deadline: no hang.
    wrong = [c for c in failures if c.code != "UNAVAILABLE"]
    assert not wrong, (
        f"{len(wrong)} failures other than UNAVAILABLE (times from the kill; the restart "
        f"began at {restarting - killed:+.1f}s, ready at {ready - killed:+.1f}s): "
        + "; ".join(
            f"{c.code} {c.message!r} started {c.start - killed:+.2f}s took {c.latency:.2f}s"
            for c in wrong[:5]
        )
        + f"; {summary}\n{proc.log_tail(30)}"
    )
    slow = [c for c in calls if c.latency > DEADLINE_S + MARGIN_S]
    assert not slow, f"{len(slow)} calls outlived their deadline; {summary}"
    # After the restart, writes succeed again through the same gateway process.
    assert traffic.successes_after(ready), summary

    # No acknowledged write is lost.
    with PrismClient(proc.address, timeout=30.0) as client:
        try:
            found = workload.read_back(client, traffic.acked)
        except Exception as exc:
            raise AssertionError(f"read-back failed: {exc!r}\n{proc.log_tail(30)}") from exc
    lost = sorted(set(traffic.acked) - set(found))
    changed = sorted(k for k, v in found.items() if v != traffic.acked[k])
    print(f"{case}: {len(traffic.acked)} acknowledged, {len(found)} read back")
    assert not lost, f"{len(lost)} of {len(traffic.acked)} acknowledged writes lost: {lost[:5]}"
    assert not changed, f"acknowledged writes read back different: {changed[:5]}"
    assert len(found) == len(traffic.acked)
