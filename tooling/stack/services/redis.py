"""Redis (Debian `redis-server`) on 127.0.0.1:26379.

appendonly + appendfsync always: a write Redis acknowledged is on disk before the reply,
so the resilience tests can kill the server and count every acknowledged write after a
restart. RDB snapshots are off; the AOF alone is the data.
"""

from __future__ import annotations

import socket
from pathlib import Path

from .base import HOST, Service


class Redis(Service):
    name = "redis"
    env_var = "PRISM_REDIS_URL"
    port = 26379
    ready_timeout = 30.0

    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def apt_packages(self) -> dict[str, str]:
        return {"redis-server": "redis-server"}

    def command(self, data: Path) -> list[str]:
        data.mkdir(parents=True, exist_ok=True)
        return [
            "redis-server",
            "--bind", HOST,
            "--port", str(self.port),
            "--dir", str(data),
            "--daemonize", "no",
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--logfile", "",  # stdout, which the stack sends to its log file
        ]  # fmt: skip

    def ready(self, data: Path) -> bool:
        # A raw RESP PING: replies -LOADING while the AOF is replayed, +PONG once serving.
        with socket.create_connection((HOST, self.port), timeout=2) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")
