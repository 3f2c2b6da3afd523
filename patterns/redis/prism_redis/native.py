"""What the Rust core needs to answer this namespace's gets itself (ADR-003).

The core reads the same item hashes with the same `get` script (lua/get.lua) over its
own pipelined connection, so a get through it sees exactly what a get through the plugin
would. It speaks plain TCP only: TLS (`rediss://`), Unix sockets and URLs with a query
string (redis-py connection options the core does not implement) read through the
plugin. The entry carries the URL with its password: the core never logs it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from prism_redis.config import RedisConfig


def native_reads(config: RedisConfig, namespace: str) -> dict[str, Any] | None:
    """The core's `native_reads` entry for the namespace, or None to read via the plugin."""
    if not config.native_reads:
        return None
    parts = urlsplit(config.url)
    if parts.scheme != "redis" or parts.query or parts.fragment or not parts.hostname:
        return None
    return {
        "kind": "redis",
        "url": config.url,
        "key_prefix": config.prefix_for(namespace),
        "connect_timeout_ms": max(1, round(config.connect_timeout_s * 1000)),
        "socket_timeout_ms": max(1, round(config.socket_timeout_s * 1000)),
    }
