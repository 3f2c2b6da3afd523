"""Proxies report their address and config version by heartbeat; the list shows lag and
health."""

from __future__ import annotations

import httpx
from conftest import kv_spec


def test_heartbeat_registers_and_updates(api: httpx.Client) -> None:
    api.post("/v1/namespaces", json=kv_spec("px"))
    beat = {"address": "127.0.0.1:8980", "metrics_address": "127.0.0.1:9464", "config_version": 0}
    ack = api.post("/v1/proxies/proxy-a/heartbeat", json=beat)
    assert ack.status_code == 200, ack.text
    assert ack.json()["config_version"] == 1  # the admin's: this proxy is behind
    listed = api.get("/v1/proxies").json()
    assert len(listed) == 1
    proxy = listed[0]
    assert proxy["id"] == "proxy-a" and proxy["address"] == "127.0.0.1:8980"
    assert proxy["healthy"] is True and proxy["lag"] == 1

    api.post("/v1/proxies/proxy-a/heartbeat", json=dict(beat, config_version=1))
    proxy = api.get("/v1/proxies").json()[0]
    assert proxy["config_version"] == 1 and proxy["lag"] == 0


def test_heartbeat_needs_operator_and_valid_address(api: httpx.Client) -> None:
    bad = api.post("/v1/proxies/p/heartbeat", json={"address": "nohost", "config_version": 0})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "address"
