"""The proxy's read cache end to end, on SQLite through the Python bridge: a cached Get
never reaches the plugin (a write made straight into the database file stays invisible
until the cache TTL), writes through the proxy invalidate at once, and the cache shows
in the metrics."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

from helpers.server import ServerProcess
from prism.client import PrismClient

TTL_S = 1.0


def _cached_sqlite(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "patterns": ["keyvalue"],
        "backend": "sqlite",
        "cache": {"enabled": True, "ttl_seconds": TTL_S},
    }


def test_cached_reads_skip_the_backend_and_writes_invalidate(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory(namespaces=[_cached_sqlite("cached")])
    db_path = server.data_dir / "cached.db"
    with PrismClient(server.address, timeout=10.0) as client:
        kv = client.kv("cached")
        kv.put("k", b"v1")
        assert kv.get("k").value == b"v1"  # a miss fills the cache

        # A write outside the proxy, straight into the SQLite file.
        with sqlite3.connect(db_path) as db:
            changed = db.execute("UPDATE kv SET value = ? WHERE key = ?", (b"outside", b"k"))
            assert changed.rowcount == 1
        assert kv.get("k").value == b"v1", "the hit went to the backend"

        # The TTL bounds the staleness of outside writes.
        time.sleep(TTL_S + 0.3)
        assert kv.get("k").value == b"outside"

        # A write through the proxy is visible on the very next read.
        kv.put("k", b"v2")
        assert kv.get("k").value == b"v2"
    metrics = server.metrics()
    assert 'prism_cache_hits_total{namespace="cached"}' in metrics
    hits = next(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith('prism_cache_hits_total{namespace="cached"}')
    )
    assert hits >= 1
