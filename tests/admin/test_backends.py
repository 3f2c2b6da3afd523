"""Backends: installed plugins with claims and config schema; health per namespace."""

from __future__ import annotations

import httpx
from conftest import kv_spec


def test_lists_installed_backends_with_claims(api: httpx.Client) -> None:
    api.post("/v1/namespaces", json=kv_spec("b1"))
    backends = {b["name"]: b for b in api.get("/v1/backends").json()}
    assert {"memory", "sqlite", "kafka"} <= backends.keys()
    sqlite = backends["sqlite"]
    assert "ttl" in sqlite["capabilities"]["keyvalue"]
    assert sqlite["namespaces"] == ["b1"]
    path = next(f for f in sqlite["config_schema"] if f["name"] == "path")
    assert path["required"] is True
    assert backends["kafka"]["patterns"] == ["timeseries"]


def test_health_of_sqlite_namespaces(api: httpx.Client) -> None:
    api.post("/v1/namespaces", json=kv_spec("h1"))
    health = api.get("/v1/backends/sqlite/health").json()
    assert health == {
        "name": "sqlite",
        "healthy": True,
        "namespaces": [{"name": "h1", "healthy": True, "detail": ""}],
    }
    assert api.get("/v1/backends/cassandra/health").status_code == 404
