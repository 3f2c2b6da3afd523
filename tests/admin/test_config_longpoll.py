"""`GET /v1/config` long poll: immediate when behind, woken by a mutation within a second,
`{version}` alone on timeout; config versions rise by one per namespace mutation."""

from __future__ import annotations

import threading
import time

import httpx
from conftest import kv_spec


def test_immediate_when_behind(api: httpx.Client) -> None:
    empty = api.get("/v1/config").json()
    assert empty == {"version": 0, "namespaces": []}
    api.post("/v1/namespaces", json=kv_spec("c1"))
    snap = api.get("/v1/config", params={"after": 0, "wait": 30}).json()
    assert snap["version"] == 1
    assert [(n["name"], n["version"]) for n in snap["namespaces"]] == [("c1", 1)]
    assert snap["namespaces"][0]["spec"]["backend"] == "sqlite"


def test_times_out_with_version_only(api: httpx.Client) -> None:
    api.post("/v1/namespaces", json=kv_spec("c2"))
    started = time.monotonic()
    response = api.get("/v1/config", params={"after": 1, "wait": 1.5})
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.json() == {"version": 1}
    assert 1.4 <= elapsed < 5


def test_mutation_wakes_the_poll_within_a_second(api: httpx.Client) -> None:
    api.post("/v1/namespaces", json=kv_spec("c3"))
    result: dict[str, object] = {}

    def poll() -> None:
        response = api.get("/v1/config", params={"after": 1, "wait": 30})
        result["body"] = response.json()
        result["at"] = time.monotonic()

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.5)  # the poll is parked in the admin
    assert "body" not in result
    spec = api.get("/v1/namespaces/c3").json()["spec"]
    spec["limits"]["max_key_bytes"] = 99
    mutated_at = time.monotonic()
    assert api.put("/v1/namespaces/c3", json={"spec": spec, "version": 1}).status_code == 200
    poller.join(10)
    body = result["body"]
    assert isinstance(body, dict) and body["version"] == 2
    assert body["namespaces"][0]["spec"]["limits"]["max_key_bytes"] == 99
    assert float(str(result["at"])) - mutated_at < 1.0


def test_versions_rise_by_one_per_mutation(api: httpx.Client) -> None:
    api.post("/v1/namespaces", json=kv_spec("v1"))
    api.post("/v1/namespaces:apply", json=kv_spec("v1", features=["ttl"]))
    api.post("/v1/namespaces:apply", json=kv_spec("v1", features=["ttl"]))  # unchanged
    api.post("/v1/namespaces:apply", params={"dry_run": "true"}, json=kv_spec("v1"))
    api.post("/v1/tokens", json={"name": "t", "role": "viewer"})  # not namespace config
    api.delete("/v1/namespaces/v1")
    assert api.get("/v1/config").json()["version"] == 3
    assert api.get("/healthz").json()["config_version"] == 3


def test_wait_is_bounded(api: httpx.Client) -> None:
    response = api.get("/v1/config", params={"after": 0, "wait": 100000})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "wait"
