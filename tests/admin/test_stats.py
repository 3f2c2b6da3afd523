"""`/v1/namespaces/{name}/stats` from a real gateway's /metrics."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from conftest import kv_spec
from helpers.server import ServerProcess
from prism.client import PrismClient


def test_rates_and_p99_from_a_real_proxy(api: httpx.Client, tmp_path: Path) -> None:
    api.post("/v1/namespaces", json={"name": "hot", "pattern": "keyvalue", "backend": "memory"})
    gateway = ServerProcess(
        tmp_path / "gw", [{"name": "hot", "patterns": ["keyvalue"], "backend": "memory"}]
    )
    try:
        gateway.start()
        beat = {
            "address": gateway.address,
            "metrics_address": gateway.metrics_address,
            "config_version": 1,
        }
        assert api.post("/v1/proxies/gw/heartbeat", json=beat).status_code == 200
        first = api.get("/v1/namespaces/hot/stats").json()
        assert first["request_rate"] is None  # one sample: no interval yet
        with PrismClient(gateway.address, timeout=10.0) as client:
            kv = client.kv("hot")
            for i in range(20):
                kv.put(f"k{i}".encode(), b"v")
        time.sleep(0.2)
        second = api.get("/v1/namespaces/hot/stats").json()
        assert second["proxies_scraped"] == 1
        assert second["requests_total"] - first["requests_total"] == 20
        assert second["request_rate"] > 0
        assert second["error_rate"] == 0
        assert 0 < second["p99_seconds"] < 1
        assert second["at"] > first["at"]
    finally:
        gateway.kill()
    assert api.get("/v1/namespaces/none/stats").status_code == 404


def test_unknown_namespace_stats_is_404(api: httpx.Client) -> None:
    api.post("/v1/namespaces", json=kv_spec("quiet"))
    quiet = api.get("/v1/namespaces/quiet/stats").json()
    assert quiet["proxies_scraped"] == 0 and quiet["requests_total"] == 0
    assert api.get("/v1/namespaces/none/stats").status_code == 404
