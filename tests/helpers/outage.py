"""Crash a backend server under write traffic and account for every call (design §5,
"Resilience"): writer threads put (KeyValue) or append (TimeSeries) unique data through
a dedicated gateway, recording each call's start, end and status code, and every write
the gateway acknowledged; `Traffic` then answers what happened in each phase.

The writers use a client with `retries=1`, so every status the gateway returned is seen
as it is (no transparent retry hiding an UNAVAILABLE), and a deadline short enough that
a hang shows up as DEADLINE_EXCEEDED instead of slowing the test down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prism.client import PrismClient
from prism.client.types import Event
from prism.errors import PrismError

from . import unique

OK = "OK"


@dataclass(frozen=True)
class Call:
    """One write attempt: monotonic start and end, and its status code (OK on success)."""

    writer: int
    start: float
    end: float
    code: str
    message: str = ""

    @property
    def latency(self) -> float:
        return self.end - self.start

    @property
    def ok(self) -> bool:
        return self.code == OK


@dataclass
class Traffic:
    """Everything the writers did; filled concurrently, read after `stop()`."""

    calls: list[Call] = field(default_factory=list)
    acked: dict[str, Any] = field(default_factory=dict)  # write id -> what was written
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, call: Call, acked: Iterable[tuple[str, Any]] = ()) -> None:
        with self.lock:
            self.calls.append(call)
            self.acked.update(acked)

    def snapshot(self) -> list[Call]:
        with self.lock:
            return list(self.calls)

    def successes_after(self, t: float) -> list[Call]:
        """Successful calls that started at or after monotonic time t."""
        return [c for c in self.snapshot() if c.ok and c.start >= t]

    def failures(self) -> list[Call]:
        return [c for c in self.snapshot() if not c.ok]

    def within(self, t0: float, t1: float) -> list[Call]:
        """Calls that started at or after t0 and ended before t1."""
        return [c for c in self.snapshot() if c.start >= t0 and c.end <= t1]


class Writers:
    """`n` threads writing through `write(client, writer, seq)` until stopped.

    `write` returns the (id, value) pairs the gateway acknowledged, or raises the Prism
    exception of the failed call; anything else is recorded with its type name as code.
    """

    def __init__(
        self,
        address: str,
        write: Callable[[PrismClient, int, int], list[tuple[str, Any]]],
        *,
        n: int = 4,
        timeout: float = 2.0,
        pause: float = 0.005,
    ) -> None:
        self.traffic = Traffic()
        self._write = write
        self._pause = pause
        self._stop = threading.Event()
        self._client = PrismClient(address, timeout=timeout, retries=1)
        self._threads = [
            threading.Thread(target=self._run, args=(i,), name=f"writer-{i}", daemon=True)
            for i in range(n)
        ]

    def start(self) -> Writers:
        for t in self._threads:
            t.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout)
        alive = [t.name for t in self._threads if t.is_alive()]
        self._client.close()
        assert not alive, f"writer threads still running {timeout:.0f}s after stop: {alive}"

    def _run(self, writer: int) -> None:
        seq = 0
        while not self._stop.is_set():
            seq += 1
            t0 = time.monotonic()
            try:
                acked = self._write(self._client, writer, seq)
            except PrismError as exc:
                code = getattr(exc, "grpc_code", None)
                name = code.name if code is not None else exc.code.upper()
                self.traffic.record(Call(writer, t0, time.monotonic(), name, exc.message))
            except Exception as exc:  # recorded, never raised: the test asserts on codes
                self.traffic.record(
                    Call(writer, t0, time.monotonic(), type(exc).__name__, str(exc))
                )
            else:
                self.traffic.record(Call(writer, t0, time.monotonic(), OK), acked)
                time.sleep(self._pause)
                continue
            time.sleep(self._pause * 4)  # a little slower while failing: fewer log lines


# -- what the writers write, and how it is read back -----------------------------------


class KeyValueWorkload:
    """One put per call of a unique key; read back with one get per acknowledged key."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.prefix = unique("res")

    def key(self, writer: int, seq: int) -> str:
        return f"{self.prefix}/{writer}/{seq:06d}"

    def write(self, client: PrismClient, writer: int, seq: int) -> list[tuple[str, Any]]:
        key = self.key(writer, seq)
        value = f"v{writer}.{seq}".encode()
        client.kv(self.namespace).put(key, value)
        return [(key, value)]

    def read_back(self, client: PrismClient, acked: dict[str, Any]) -> dict[str, Any]:
        """The acknowledged keys found with their value (gets in parallel)."""
        kv = client.kv(self.namespace)

        def get(key: str) -> tuple[str, Any]:
            item = kv.get(key)
            return key, None if item is None else item.value

        with ThreadPoolExecutor(max_workers=8) as pool:
            found = dict(pool.map(get, sorted(acked)))
        return {k: v for k, v in found.items() if v is not None}


class TimeSeriesWorkload:
    """`per_call` events per append on one series per writer; read back by a query of
    each series over the whole run."""

    def __init__(self, namespace: str, per_call: int = 2) -> None:
        self.namespace = namespace
        self.per_call = per_call
        self.prefix = unique("res")
        self.started = datetime.now(UTC)

    def series(self, writer: int) -> str:
        return f"{self.prefix}-{writer}"

    def write(self, client: PrismClient, writer: int, seq: int) -> list[tuple[str, Any]]:
        now = datetime.now(UTC)
        events = [
            Event(
                series_id=self.series(writer),
                event_time=now + timedelta(microseconds=i),
                event_id=f"{writer}-{seq}-{i}",
                value=float(seq),
            )
            for i in range(self.per_call)
        ]
        client.ts(self.namespace).append(events)
        return [(e.event_id, (e.series_id, e.event_time)) for e in events]

    def read_back(self, client: PrismClient, acked: dict[str, Any]) -> dict[str, Any]:
        """The acknowledged event ids found in their series."""
        ts = client.ts(self.namespace)
        start = self.started - timedelta(minutes=5)
        end = datetime.now(UTC) + timedelta(minutes=5)
        found: dict[str, Any] = {}
        for series in sorted({s for s, _ in acked.values()}):
            for event in ts.query_all(series, start=start, end=end, limit=1000):
                found[event.event_id] = (event.series_id, event.event_time)
        return {k: v for k, v in found.items() if k in acked}
