"""ServerProcess: `python -m prism serve` in a subprocess, for end-to-end tests.

The process writes stdout and stderr to a log file in its work dir; every assertion
about the process (did not become healthy, exited non-zero) carries the log tail so a
failing test says why the server failed. Health is probed through the raw gRPC method
`/grpc.health.v1.Health/Check` with hand-encoded protobuf bytes, so the tests need no
grpc_health package.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import yaml

from tooling.ports import free_listen_port

from . import LIMITS

HEALTH_CHECK = "/grpc.health.v1.Health/Check"
SERVING = 1
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


def default_namespaces() -> list[dict[str, Any]]:
    """The namespaces every test server serves (see the test plan in issue 2)."""
    return [
        {
            "name": "mem",
            "patterns": ["keyvalue", "timeseries"],
            "backend": "memory",
            "limits": dict(LIMITS),
        },
        {
            # The sqlite file defaults to <data_dir>/lite.db.
            "name": "lite",
            "patterns": ["keyvalue", "timeseries"],
            "backend": "sqlite",
            "limits": dict(LIMITS),
        },
        {"name": "tsonly", "patterns": ["timeseries"], "backend": "memory"},
    ]


def free_port() -> int:
    """A free loopback port outside the ephemeral range (see tooling.ports)."""
    return free_listen_port()


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def decode_health_status(response: bytes) -> int:
    """Field 1 (varint) of grpc.health.v1.HealthCheckResponse; 0 (UNKNOWN) if absent."""
    pos, status = 0, 0
    while pos < len(response):
        tag, pos = _read_varint(response, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _read_varint(response, pos)
            if field == 1:
                status = value
        elif wire == 2:
            length, pos = _read_varint(response, pos)
            pos += length
        else:  # fixed64 / fixed32: not used by HealthCheckResponse
            pos += 8 if wire == 1 else 4
    return status


def encode_health_request(service: str = "") -> bytes:
    """HealthCheckRequest{service}; the empty service asks about the whole server."""
    raw = service.encode()
    return b"" if not raw else b"\x0a" + bytes([len(raw)]) + raw


def open_channel(
    address: str,
    credentials: grpc.ChannelCredentials | None = None,
    options: list[tuple[str, Any]] | None = None,
) -> grpc.Channel:
    """A plaintext channel, or a TLS one with `credentials` (grpc.ssl_channel_credentials)."""
    if credentials is None:
        return grpc.insecure_channel(address, options=options)
    return grpc.secure_channel(address, credentials, options=options)


def health_status(
    address: str,
    service: str = "",
    timeout: float = 2.0,
    credentials: grpc.ChannelCredentials | None = None,
) -> int:
    """Ask the server's health service; raises grpc.RpcError when it does not answer.
    With `credentials` it asks over TLS (a listener in a TLS auth mode)."""
    with open_channel(address, credentials) as channel:
        # No serializers: raw bytes in, raw bytes out.
        check = channel.unary_unary(
            HEALTH_CHECK, request_serializer=None, response_deserializer=None
        )
        return decode_health_status(check(encode_health_request(service), timeout=timeout))


def fetch_metrics(metrics_address: str) -> str:
    with urllib.request.urlopen(f"http://{metrics_address}/metrics", timeout=5) as resp:
        return resp.read().decode()


class ServerProcess:
    """One `prism serve` process with its own ports and a data dir that outlives restarts.

    `namespaces=None` starts it with no config at all (the embedded default).
    `server` adds settings to the file's `server` block (e.g. `auth`, `audit`, `keys`),
    `env` adds environment variables (secrets the config names), and `credentials` are
    the TLS channel credentials the health probe uses when the listener speaks TLS.
    """

    def __init__(
        self,
        workdir: Path,
        namespaces: list[dict[str, Any]] | None = None,
        *,
        server: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.workdir / "data"
        self.data_dir.mkdir(exist_ok=True)
        self.log_path = self.workdir / "server.log"
        self.config_path: Path | None = None
        if namespaces is not None:
            self.config_path = self.workdir / "prism.yaml"
            config = {
                "server": {"max_concurrency": 1024, "default_deadline_ms": 30000, **(server or {})},
                "namespaces": namespaces,
            }
            self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.metrics_port = 0
        self.admin_port = 0
        # The admin's bootstrap token (PRISM_ADMIN_TOKEN), fixed for the server's life.
        self.admin_token = f"test-admin-{os.urandom(8).hex()}"
        self.extra_env = dict(env or {})
        self.credentials = credentials

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def metrics_address(self) -> str:
        return f"127.0.0.1:{self.metrics_port}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "prism", "serve"]
        if self.config_path is not None:
            cmd += ["--config", str(self.config_path)]
        return cmd + [
            "--listen",
            self.address,
            "--metrics-listen",
            self.metrics_address,
            "--admin-listen",
            f"127.0.0.1:{self.admin_port}",
            "--data-dir",
            str(self.data_dir),
        ]

    def start(self) -> ServerProcess:
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        # Fresh ports on every start: a restarted server never races the old socket.
        self.port, self.metrics_port = free_port(), free_port()
        self.admin_port = free_port()
        env = dict(os.environ, PYTHONUNBUFFERED="1", PRISM_ADMIN_TOKEN=self.admin_token)
        env.update(self.extra_env)
        with open(self.log_path, "ab") as log:
            log.write(f"\n==== start: {' '.join(self.command())}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.workdir,
            )
        self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = START_TIMEOUT_S) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                raise AssertionError(
                    f"prism serve exited with {rc} before becoming healthy\n{self.log_tail()}"
                )
            try:
                status = health_status(self.address, timeout=1.0, credentials=self.credentials)
                if status == SERVING:
                    return
                last = f"health status {status}"
            except grpc.RpcError as exc:
                last = f"{exc.code()}: {exc.details()}"
            time.sleep(0.1)
        self.kill()
        raise AssertionError(
            f"prism serve not SERVING after {timeout:.0f}s ({last})\n{self.log_tail()}"
        )

    def wait_admin(self, timeout: float = START_TIMEOUT_S) -> str:
        """Wait for the embedded admin (with a config file it comes up after gRPC is
        SERVING); returns admin_url."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc is not None and self.proc.poll() is None, (
                f"prism serve is not running\n{self.log_tail()}"
            )
            try:
                with urllib.request.urlopen(f"{self.admin_url}/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        return self.admin_url
            except OSError:
                pass
            assert time.monotonic() < deadline, f"admin not up\n{self.log_tail()}"
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int:
        """Signal the server and assert it exits 0 within `timeout`."""
        assert self.proc is not None, "server was never started"
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(
                    f"prism serve did not exit within {timeout:.0f}s of "
                    f"{signal.Signals(sig).name}\n{self.log_tail()}"
                ) from None
        rc = self.proc.returncode
        assert rc == 0, f"prism serve exited with {rc} after {signal.Signals(sig).name}\n" + (
            self.log_tail()
        )
        return rc

    def restart(self) -> ServerProcess:
        """Stop with SIGTERM (asserting exit 0) and start again on the same data dir."""
        self.stop()
        return self.start()

    def kill(self) -> None:
        """Last-resort cleanup; never asserts."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def metrics(self) -> str:
        return fetch_metrics(self.metrics_address)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        tail = "\n".join(self.log_text().splitlines()[-lines:])
        return f"---- {self.log_path} (last {lines} lines) ----\n{tail}"
