"""`prism serve` as a process: the embedded default with no config, health, reflection,
grpcurl, metrics, and SIGTERM (drains in-flight requests, exits 0, loses nothing)."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from helpers import unique
from helpers.rpc import Stubs, kvpb, rpc_error
from helpers.server import SERVING, ServerProcess, health_status
from helpers.tail import TailCollector
from prism.client import Event, PrismClient
from prism.errors import PrismError, Unavailable

GRPCURL = Path(__file__).resolve().parents[2] / ".tools" / "bin" / "grpcurl"
SHUTDOWN_CODES = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}


def grpcurl(address: str, *args: str, data: dict | None = None) -> str:
    cmd = [str(GRPCURL), "-plaintext"]
    if data is not None:
        cmd += ["-d", json.dumps(data)]
    cmd += [address, *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_health_serving(server: ServerProcess) -> None:
    assert health_status(server.address) == SERVING


def test_namespace_backend_health_is_published(server: ServerProcess) -> None:
    # Plugin health checks feed grpc.health.v1 as `prism.namespace.<name>`.
    # Reported shortly after the server is SERVING: until then the service is unknown.
    deadline = time.monotonic() + 10
    while True:
        try:
            if health_status(server.address, "prism.namespace.lite") == SERVING:
                break
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.NOT_FOUND:
                raise
        assert time.monotonic() < deadline, "namespace 'lite' health never became SERVING"
        time.sleep(0.2)
    with pytest.raises(grpc.RpcError) as info:
        health_status(server.address, "prism.namespace.no-such-namespace")
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_reflection_lists_services(server: ServerProcess) -> None:
    services = grpcurl(server.address, "list").split()
    for name in (
        "prism.keyvalue.v1.KeyValue",
        "prism.timeseries.v1.TimeSeries",
        "grpc.health.v1.Health",
    ):
        assert name in services, f"{name} not listed by reflection: {services}"
    methods = grpcurl(server.address, "list", "prism.keyvalue.v1.KeyValue").split()
    assert "prism.keyvalue.v1.KeyValue.Put" in methods, methods


def test_grpcurl_put_then_get(server: ServerProcess) -> None:
    key, value = unique("grpcurl").encode(), b"hello from grpcurl"
    put = json.loads(
        grpcurl(
            server.address,
            "prism.keyvalue.v1.KeyValue/Put",
            data={"namespace": "lite", "key": b64(key), "value": b64(value)},
        )
    )
    assert int(put["version"]) > 0
    got = json.loads(
        grpcurl(
            server.address,
            "prism.keyvalue.v1.KeyValue/Get",
            data={"namespace": "lite", "key": b64(key)},
        )
    )
    assert got["found"] is True
    item = got["item"]
    assert base64.b64decode(item["value"]) == value
    assert base64.b64decode(item["key"]) == key
    assert int(item["version"]) == int(put["version"])


def metric_samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """(name, labels, value) of every sample line of a Prometheus text exposition."""
    out = []
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)", line)
        if m and not line.startswith("#"):
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            out.append((m.group(1), labels, float(m.group(3))))
    return out


def test_metrics_count_requests_per_namespace_and_method(
    server: ServerProcess, stubs: Stubs
) -> None:
    for _ in range(3):
        stubs.kv.Exists(kvpb.ExistsRequest(namespace="mem", key=b"metrics"), timeout=10)
    rpc_error(
        stubs.kv.Put, kvpb.PutRequest(namespace="mem", key=b""), grpc.StatusCode.INVALID_ARGUMENT
    )

    def for_call(samples: list, method: str) -> list:
        return [
            (n, lb, v)
            for n, lb, v in samples
            if "mem" in lb.values() and any(x.endswith(method) for x in lb.values())
        ]

    deadline = time.monotonic() + 5
    while True:
        text = server.metrics()
        samples = metric_samples(text)
        counts = [
            s
            for s in for_call(samples, "Exists")
            if "request" in s[0] and s[0].endswith("_total") and "error" not in s[0]
        ]
        if any(v >= 3 for _, _, v in counts) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert any(v >= 3 for _, _, v in counts), (
        f"no request count >= 3 for namespace mem, method Exists:\n{text[:3000]}"
    )
    errors = [
        lb
        for n, lb, v in for_call(samples, "Put")
        if "error" in n
        and v >= 1
        and any(re.fullmatch(r"invalid.?argument|3", x, re.I) for x in lb.values())
    ]
    assert errors, f"no error count by code for the INVALID_ARGUMENT Put:\n{text[:3000]}"
    assert any(n.endswith("_bucket") for n, _, _ in for_call(samples, "Exists")), (
        "no latency histogram for namespace mem, method Exists"
    )


def test_serve_without_config_uses_data_dir_and_default_namespace(
    server_factory: Callable[..., ServerProcess],
) -> None:
    proc = server_factory(namespaces=None)
    key, series = unique("default").encode(), unique("default-series")
    event = Event(series, datetime.now(UTC).replace(microsecond=0), value=1.5)
    with PrismClient(proc.address, timeout=10.0) as c:
        version = c.kv("default").put(key, b"embedded")
        assert c.ts("default").append([event]).appended == 1
    assert any(proc.data_dir.iterdir()), f"nothing written under the data dir {proc.data_dir}"

    proc.restart()
    with PrismClient(proc.address, timeout=10.0) as c:
        item = c.kv("default").get(key)
        assert item is not None and (item.value, item.version) == (b"embedded", version)
        assert [e.event_id for e in c.ts("default").query_all(series)] == [event.event_id]
    proc.stop()
    assert proc.address in proc.log_text(), "serve did not print its gRPC endpoint"


def test_sigterm_drains_in_flight_writes_and_exits_zero(
    server_factory: Callable[..., ServerProcess],
) -> None:
    proc = server_factory()
    prefix = unique("drain")
    acked: dict[str, int] = {}
    unexpected: list[BaseException] = []
    lock = threading.Lock()

    def writer(n: int, c: PrismClient) -> None:
        kv = c.kv("lite")
        for i in range(100_000):
            k = f"{prefix}/{n}/{i}"
            try:
                version = kv.put(k, k.encode())
            except PrismError as exc:
                if not (
                    isinstance(exc, Unavailable)
                    or getattr(exc, "grpc_code", None) in SHUTDOWN_CODES
                ):
                    unexpected.append(exc)
                return
            except BaseException as exc:
                unexpected.append(exc)
                return
            with lock:
                acked[k] = version

    with PrismClient(proc.address, timeout=10.0) as c:
        threads = [threading.Thread(target=writer, args=(n, c), daemon=True) for n in range(8)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while len(acked) < 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.stop()  # SIGTERM while the writers are busy; asserts exit 0
        for t in threads:
            t.join(timeout=20)
    assert not unexpected, f"writes failed with other than UNAVAILABLE: {unexpected[:3]!r}"
    assert len(acked) >= 200, f"only {len(acked)} writes before SIGTERM"

    proc.start()
    with PrismClient(proc.address, timeout=10.0) as c:
        kv = c.kv("lite")
        lost = []
        for k, version in acked.items():
            item = kv.get(k)
            if item is None or (item.value, item.version) != (k.encode(), version):
                lost.append(k)
    assert not lost, f"{len(lost)} of {len(acked)} acknowledged writes lost, e.g. {lost[:3]}"


def test_sigterm_with_an_open_tail_stream_exits_zero(
    server_factory: Callable[..., ServerProcess],
) -> None:
    proc = server_factory()
    series = unique("tail-shutdown")
    with PrismClient(proc.address, timeout=10.0) as c:
        ts = c.ts("mem")
        collector = TailCollector(ts.tail(series))
        try:
            collector.wait_live(ts, series)
            # An idle tail stream is not in-flight work: shutdown must end it rather than
            # wait out the whole drain grace (10 s by default) for it.
            proc.stop(timeout=5)
            assert collector.wait_for(lambda _: collector.done, 10.0), "stream did not end"
        finally:
            collector.close(ended_by_server=True)
    assert health_status_fails(proc.address)


def health_status_fails(address: str) -> bool:
    try:
        health_status(address, timeout=1.0)
    except grpc.RpcError:
        return True
    return False


def test_sigterm_while_the_admin_starts_exits_zero_and_the_next_start_has_an_admin(
    server_factory: Callable[..., ServerProcess],
) -> None:
    # With a config file gRPC is SERVING before the admin (imports, migrations) is up:
    # a stop then must wait for the admin's start, neither exiting under it (SIGABRT)
    # nor leaving a half-migrated store that the next start cannot open.
    proc = server_factory()
    proc.stop()  # asserts exit 0
    first_run = proc.log_text()
    assert "prism: admin on" in first_run, f"the stop did not wait for the admin\n{first_run}"
    proc.start()
    proc.wait_admin()  # asserts the admin answers /healthz
