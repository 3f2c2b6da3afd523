"""The gateway under test: started pinned to one core, probed through raw gRPC, and read
from /proc (CPU time and resident memory)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import yaml
from prism.keyvalue.v1 import keyvalue_pb2
from prism.timeseries.v1 import timeseries_pb2

from tooling.ports import free_listen_port as free_port

from .h2load import APPEND_PATH, GET_PATH, PUT_PATH

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (all threads), from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) from /proc/<pid>/status, in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def pin(pid: int, cores: str) -> None:
    """Pin a running process, all its threads and its direct children, to `cores`."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        subprocess.run(
            ["taskset", "-a", "-p", "-c", cores, str(p)], capture_output=True, check=False
        )


def gateway_config(server: dict[str, Any], namespaces: list[dict[str, Any]]) -> dict[str, Any]:
    """The bench's `prism serve` config file (as a dict): `server` settings over the bench's
    defaults, and the namespaces."""
    return {"server": {"max_concurrency": 4096, **server}, "namespaces": namespaces}


class GrpcServer:
    """A server under test reached over raw gRPC: the probe and preload calls, and the count
    of its gRPC error answers from its metrics endpoint."""

    token: str | None = None  # bearer token for the probe, put and get calls

    @property
    def address(self) -> str:
        raise NotImplementedError

    @property
    def metrics_address(self) -> str:
        raise NotImplementedError

    def errors_total(self) -> int:
        """Requests answered with a gRPC error so far (prism_request_errors_total): h2load
        counts only HTTP failures, and a gRPC error travels in an HTTP 200."""
        url = f"http://{self.metrics_address}/metrics"
        with urllib.request.urlopen(url, timeout=10) as resp:
            text = resp.read().decode()
        return sum(
            int(float(line.rsplit(" ", 1)[1]))
            for line in text.splitlines()
            if line.startswith("prism_request_errors_total{")
        )

    def _call(self, path: str, request: bytes) -> bytes:
        with grpc.insecure_channel(self.address) as channel:
            call = channel.unary_unary(path, request_serializer=None, response_deserializer=None)
            metadata = (("authorization", f"Bearer {self.token}"),) if self.token else None
            return bytes(call(request, timeout=10, metadata=metadata))

    def put(self, namespace: str, key: bytes, value: bytes) -> None:
        req = keyvalue_pb2.PutRequest(namespace=namespace, key=key, value=value)
        self._call(PUT_PATH, req.SerializeToString())

    def get(self, namespace: str, key: bytes) -> keyvalue_pb2.GetResponse:
        req = keyvalue_pb2.GetRequest(namespace=namespace, key=key)
        resp = keyvalue_pb2.GetResponse()
        resp.ParseFromString(self._call(GET_PATH, req.SerializeToString()))
        return resp

    def append(self, frame: bytes) -> timeseries_pb2.AppendResponse:
        """Send one pre-encoded Append (a gRPC frame, as h2load sends it)."""
        resp = timeseries_pb2.AppendResponse()
        resp.ParseFromString(self._call(APPEND_PATH, frame[5:]))
        return resp

    def preload(self, namespace: str, key: bytes, value: bytes) -> None:
        """Put `key`, then check a Get returns it."""
        self.put(namespace, key, value)
        resp = self.get(namespace, key)
        if not resp.found or resp.item.value != value:
            raise RuntimeError(f"{namespace}: preloaded key not returned by Get")


@dataclass
class Gateway(GrpcServer):
    workdir: Path
    namespaces: list[dict[str, Any]]
    core: int
    server: dict[str, Any] = field(default_factory=dict)  # extra `server:` settings
    env: dict[str, str] = field(default_factory=dict)
    token: str | None = None  # bearer token for the probe, put and get calls
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0
    metrics_port: int = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def metrics_address(self) -> str:
        return f"127.0.0.1:{self.metrics_port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        config = self.workdir / "prism.yaml"
        config.write_text(
            yaml.safe_dump(gateway_config(self.server, self.namespaces), sort_keys=False)
        )
        self.port = free_port()
        self.metrics_port = free_port()
        cmd = [
            "taskset",
            "-c",
            str(self.core),
            sys.executable,
            "-m",
            "prism",
            "serve",
            "--config",
            str(config),
            "--listen",
            self.address,
            "--metrics-listen",
            f"127.0.0.1:{self.metrics_port}",
            "--admin-listen",
            f"127.0.0.1:{free_port()}",
            "--data-dir",
            str(data),
        ]
        env = dict(
            os.environ,
            PYTHONUNBUFFERED="1",
            PRISM_ADMIN_TOKEN=f"bench-{os.urandom(8).hex()}",
            **self.env,
        )
        with open(self.workdir / "server.log", "ab") as log:
            # taskset execs the command, so the pid is the gateway's own.
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.workdir
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prism serve exited: {self._log_tail()}")
            try:
                self.get(self.namespaces[0]["name"], b"probe")
                return
            except grpc.RpcError as exc:
                # Only "not listening yet" is worth waiting for; any other answer means the
                # gateway is up and refuses the probe (e.g. authentication), which will not pass.
                if exc.code() != grpc.StatusCode.UNAVAILABLE:  # type: ignore[attr-defined]
                    self.stop()
                    raise RuntimeError(
                        f"prism serve refused the probe Get: {exc.code()} {exc.details()}"  # type: ignore[attr-defined]
                    ) from exc
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"prism serve did not answer in {timeout:g} s: {self._log_tail()}")

    def _log_tail(self) -> str:
        """The end of the server log: the run's temp folder is gone by the time anyone looks."""
        try:
            lines = (self.workdir / "server.log").read_text(errors="replace").splitlines()
        except OSError:
            return "(no server.log)"
        return " | ".join(lines[-6:])[-600:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
