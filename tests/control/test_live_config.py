"""Live config (issue 4 §3, RFC-001): namespace changes made through the admin API reach
running proxies without a restart, within 2 s, and a proxy keeps serving its last known
config while the admin is down, even across its own restart (last-config.json).

Real processes only: `prism serve` (admin + proxy in one process, via ServerProcess) and
`prism admin` + `prism proxy` as separate processes, over real HTTP and gRPC.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from helpers import unique
from helpers.server import SERVING, ServerProcess, free_port, health_status
from prism.client import PrismClient
from prism.errors import InvalidArgument, NotFound, PrismError

#: The bound the issue sets on "a change is enforced by the proxy".
APPLY_BOUND_S = 2.0

T = TypeVar("T")


# -- helpers ------------------------------------------------------------------------------


class Admin:
    """The admin REST API with a bearer token."""

    def __init__(self, url: str, token: str) -> None:
        self.http = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30.0
        )

    def create(self, spec: dict[str, Any]) -> dict[str, Any]:
        resp = self.http.post("/v1/namespaces", json=spec)
        assert resp.status_code == 201, resp.text
        return dict(resp.json())

    def update(self, name: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        current = self.http.get(f"/v1/namespaces/{name}")
        assert current.status_code == 200, current.text
        spec = current.json()["spec"]
        change(spec)
        resp = self.http.put(
            f"/v1/namespaces/{name}", json={"spec": spec, "version": current.json()["version"]}
        )
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    def delete(self, name: str) -> None:
        resp = self.http.delete(f"/v1/namespaces/{name}")
        assert resp.status_code == 204, resp.text

    def config_version(self) -> int:
        resp = self.http.get("/v1/config", params={"after": -1})
        assert resp.status_code == 200, resp.text
        return int(resp.json()["version"])

    def proxies(self) -> list[dict[str, Any]]:
        resp = self.http.get("/v1/proxies")
        assert resp.status_code == 200, resp.text
        return list(resp.json())

    def close(self) -> None:
        self.http.close()


def kv_spec(name: str, backend: str = "sqlite", **limits: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name, "patterns": ["keyvalue"], "backend": backend}
    if limits:
        spec["limits"] = limits
    return spec


def until(check: Callable[[], T], timeout: float, what: str) -> tuple[T, float]:
    """Retry `check` (an exception or a falsy result means "not yet") until it passes;
    returns its result and the seconds it took. Fails with the last reason."""
    start = time.monotonic()
    last: object = "never ran"
    while True:
        try:
            result = check()
            if result:
                return result, time.monotonic() - start
            last = f"returned {result!r}"
        except (PrismError, AssertionError, httpx.HTTPError) as exc:
            last = exc
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what}: not within {timeout:.1f}s (last: {last!r})")
        time.sleep(0.02)


def put_ok(address: str, namespace: str, key: str, value: bytes = b"v") -> int:
    with PrismClient(address, timeout=5.0) as c:
        return c.kv(namespace).put(key, value)


def get_value(address: str, namespace: str, key: str) -> bytes | None:
    with PrismClient(address, timeout=5.0) as c:
        item = c.kv(namespace).get(key)
        return None if item is None else item.value


def refused(address: str, namespace: str, key: str, value: bytes, error: type) -> bool:
    """True when the put fails with `error`; AssertionError (retry) when it succeeds."""
    try:
        put_ok(address, namespace, key, value)
    except error:
        return True
    raise AssertionError("the put still succeeds")


class Process:
    """A `python -m prism <args>` child with a log file; stop() asserts exit 0."""

    def __init__(self, name: str, workdir: Path, args: list[str], env: dict[str, str]) -> None:
        self.name, self.args = name, args
        self.log_path = workdir / f"{name}.log"
        with open(self.log_path, "ab") as log:
            log.write(f"\n==== start: prism {' '.join(args)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "prism", *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(os.environ, PYTHONUNBUFFERED="1", **env),
                cwd=workdir,
            )

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return f"---- {self.log_path} ----\n" + "\n".join(text)

    def wait_ready(self, ready: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            assert rc is None, f"{self.name} exited with {rc}\n{self.log_tail()}"
            try:
                if ready():
                    return
            except Exception:
                pass
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"{self.name} not ready after {timeout:.0f}s\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"{self.name} ignored SIGTERM\n{self.log_tail()}") from None
        assert self.proc.returncode == 0, (
            f"{self.name} exited with {self.proc.returncode}\n{self.log_tail()}"
        )

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class Split:
    """`prism admin` and `prism proxy` as two processes with their own data dirs."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.token = f"test-admin-{os.urandom(8).hex()}"
        self.admin_port = free_port()
        self.admin_url = f"http://127.0.0.1:{self.admin_port}"
        self.admin_dir = workdir / "admin-data"
        self.proxy_dir = workdir / "proxy-data"
        self.admin_proc: Process | None = None
        self.proxy_proc: Process | None = None
        self.address = ""

    def start_admin(self) -> None:
        args = ["admin", "--listen", f"127.0.0.1:{self.admin_port}"]
        args += ["--data-dir", str(self.admin_dir)]
        self.admin_proc = Process("admin", self.workdir, args, {"PRISM_ADMIN_TOKEN": self.token})
        self.admin_proc.wait_ready(
            lambda: httpx.get(f"{self.admin_url}/healthz", timeout=1.0).status_code == 200
        )

    def start_proxy(self) -> None:
        port = free_port()
        self.address = f"127.0.0.1:{port}"
        args = ["proxy", "--admin", self.admin_url, "--token", self.token]
        args += ["--listen", self.address, "--metrics-listen", f"127.0.0.1:{free_port()}"]
        args += ["--data-dir", str(self.proxy_dir)]
        self.proxy_proc = Process("proxy", self.workdir, args, {})
        self.proxy_proc.wait_ready(lambda: health_status(self.address, timeout=1.0) == SERVING)

    def kill_all(self) -> None:
        for proc in (self.proxy_proc, self.admin_proc):
            if proc is not None:
                proc.kill()


@pytest.fixture
def served(server_factory: Callable[..., ServerProcess]) -> Iterator[tuple[ServerProcess, Admin]]:
    """A `prism serve` (admin + proxy) with one memory namespace, and its admin API."""
    proc = server_factory(namespaces=[kv_spec("base", backend="memory")])
    admin = Admin(proc.wait_admin(), proc.admin_token)
    try:
        yield proc, admin
    finally:
        admin.close()


@pytest.fixture
def split(tmp_path: Path) -> Iterator[Split]:
    processes = Split(tmp_path)
    try:
        yield processes
    finally:
        processes.kill_all()


# -- tests --------------------------------------------------------------------------------


def test_namespace_created_through_the_admin_is_served_without_restart(
    served: tuple[ServerProcess, Admin],
) -> None:
    proc, admin = served
    name = unique("live")
    with pytest.raises(NotFound):
        put_ok(proc.address, name, "k")  # not there before the admin creates it
    admin.create(kv_spec(name))
    version, took = until(
        lambda: put_ok(proc.address, name, "k", b"created live"), 10.0, "put on the new namespace"
    )
    assert took < APPLY_BOUND_S, f"the new namespace took {took:.2f}s to be served"
    assert version > 0
    assert get_value(proc.address, name, "k") == b"created live"
    assert proc.running, "the server restarted or died"


def test_lowered_limit_is_enforced_within_two_seconds(
    served: tuple[ServerProcess, Admin],
) -> None:
    proc, admin = served
    name = unique("limits")
    admin.create(kv_spec(name, max_value_bytes=1024))
    until(lambda: put_ok(proc.address, name, "seed"), 10.0, "the new namespace")
    value = b"x" * 512
    assert put_ok(proc.address, name, "before", value) > 0  # within the limit for now

    def lower(spec: dict[str, Any]) -> None:
        spec["limits"]["max_value_bytes"] = 100

    admin.update(name, lower)
    _, took = until(
        lambda: refused(proc.address, name, "after", value, InvalidArgument),
        10.0,
        "INVALID_ARGUMENT for a value above the lowered max_value_bytes",
    )
    print(f"lowered limit enforced {took * 1000:.0f} ms after the PUT returned")
    assert took < APPLY_BOUND_S, f"the lowered limit took {took:.2f}s to be enforced"
    # A limits-only change keeps the namespace's data and serves small values as before.
    assert get_value(proc.address, name, "before") == value
    assert put_ok(proc.address, name, "small", b"x" * 50) > 0


def test_deleted_namespace_becomes_not_found(served: tuple[ServerProcess, Admin]) -> None:
    proc, admin = served
    name = unique("gone")
    admin.create(kv_spec(name))
    until(lambda: put_ok(proc.address, name, "k"), 10.0, "the new namespace")
    admin.delete(name)
    _, took = until(
        lambda: refused(proc.address, name, "k", b"v", NotFound), 10.0, "NOT_FOUND after delete"
    )
    assert took < APPLY_BOUND_S, f"the delete took {took:.2f}s to reach the proxy"
    assert put_ok(proc.address, "base", "still-there") > 0, "other namespaces keep serving"


def test_changed_backend_config_swaps_the_plugin(
    served: tuple[ServerProcess, Admin], tmp_path: Path
) -> None:
    proc, admin = served
    name = unique("moved")
    admin.create(kv_spec(name))
    until(lambda: put_ok(proc.address, name, "k", b"first file"), 10.0, "the new namespace")
    other = tmp_path / "elsewhere.db"

    def move(spec: dict[str, Any]) -> None:
        spec["config"]["path"] = str(other)

    admin.update(name, move)
    # The new plugin serves the new (empty) file: the old key is gone, writes land there.
    until(lambda: get_value(proc.address, name, "k") is None, 10.0, "the moved namespace")
    assert put_ok(proc.address, name, "k2", b"second file") > 0
    assert other.exists() and other.stat().st_size > 0


def test_proxy_reports_its_config_version(served: tuple[ServerProcess, Admin]) -> None:
    proc, admin = served
    admin.create(kv_spec(unique("versioned")))
    version = admin.config_version()

    def reported() -> dict[str, Any] | None:
        mine = [p for p in admin.proxies() if p["address"] == proc.address]
        assert mine, f"no proxy with address {proc.address} in {admin.proxies()}"
        return mine[0] if mine[0]["config_version"] == version else None

    entry, took = until(reported, 10.0, f"the proxy reporting config version {version}")
    assert took < APPLY_BOUND_S, f"the version took {took:.2f}s to be reported"
    assert entry["metrics_address"] == proc.metrics_address
    assert entry["healthy"] is True


def test_proxy_keeps_serving_while_the_admin_is_down(split: Split) -> None:
    split.start_admin()
    split.start_proxy()
    admin = Admin(split.admin_url, split.token)
    try:
        name = unique("durable")
        admin.create(kv_spec(name))
        until(lambda: put_ok(split.address, name, "k", b"before"), 10.0, "the new namespace")
    finally:
        admin.close()
    assert split.admin_proc is not None and split.proxy_proc is not None
    split.admin_proc.proc.kill()  # not a clean stop: the admin just disappears
    split.admin_proc.proc.wait(timeout=10)

    # Past several retry backoffs, the proxy still reads and writes the namespace.
    deadline = time.monotonic() + 3.0
    writes = 0
    while time.monotonic() < deadline:
        assert put_ok(split.address, name, f"during-{writes}", b"admin down") > 0
        writes += 1
        time.sleep(0.1)
    assert get_value(split.address, name, "k") == b"before"

    # A proxy restarted while the admin is still down serves from last-config.json.
    split.proxy_proc.stop()
    saved = json.loads((split.proxy_dir / "last-config.json").read_text())
    assert name in [ns["name"] for ns in saved["namespaces"]]
    split.start_proxy()
    assert get_value(split.address, name, "during-0") == b"admin down"
    assert put_ok(split.address, name, "after-restart") > 0
    assert "last config saved on disk" in split.proxy_proc.log_path.read_text()

    # The admin comes back: the proxy follows new changes again, without a restart.
    split.start_admin()
    admin = Admin(split.admin_url, split.token)
    try:
        later = unique("later")
        admin.create(kv_spec(later))
        until(lambda: put_ok(split.address, later, "k"), 10.0, "a namespace made after recovery")
    finally:
        admin.close()
    split.proxy_proc.stop()
    split.admin_proc.stop()


def test_serve_creates_the_default_namespace_in_the_admin(
    server_factory: Callable[..., ServerProcess],
) -> None:
    proc = server_factory(namespaces=None)
    admin = Admin(proc.wait_admin(), proc.admin_token)
    try:
        names = [ns["name"] for ns in admin.http.get("/v1/namespaces").json()]
        assert names == ["default"]
    finally:
        admin.close()
    assert put_ok(proc.address, "default", "k") > 0
    assert f"prism: admin on {proc.admin_url}" in proc.log_text()
