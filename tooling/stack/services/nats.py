"""NATS with JetStream (Debian `nats-server -js`): clients on 127.0.0.1:24222, HTTP
monitoring on 28222, the JetStream store in the stack dir."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

from .base import HOST, Service


class Nats(Service):
    name = "nats"
    env_var = "PRISM_NATS_URL"
    port = 24222
    monitor_port = 28222
    ready_timeout = 30.0

    def url(self) -> str:
        return f"nats://{HOST}:{self.port}"

    def ports(self) -> list[int]:
        return [self.port, self.monitor_port]

    def apt_packages(self) -> dict[str, str]:
        return {"nats-server": "nats-server"}

    def command(self, data: Path) -> list[str]:
        data.mkdir(parents=True, exist_ok=True)
        return [
            "nats-server",
            "--jetstream",
            "--store_dir", str(data / "jetstream"),
            "--addr", HOST,
            "--port", str(self.port),
            "--http_port", str(self.monitor_port),  # binds --addr too: loopback only
            "--server_name", "prism-stack",
        ]  # fmt: skip

    def ready(self, data: Path) -> bool:
        return self._jetstream_healthy() and self._client_handshake()

    def _jetstream_healthy(self) -> bool:
        url = f"http://{HOST}:{self.monitor_port}/healthz?js-enabled-only=true"
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(json.load(resp).get("status") == "ok")

    def _client_handshake(self) -> bool:
        # The client protocol itself: the server greets with INFO; CONNECT + PING -> PONG.
        with socket.create_connection((HOST, self.port), timeout=2) as s, s.makefile("rb") as f:
            if not f.readline().startswith(b"INFO "):
                return False
            s.sendall(b'CONNECT {"verbose":false,"name":"prism-stack"}\r\nPING\r\n')
            return f.readline().startswith(b"PONG")
