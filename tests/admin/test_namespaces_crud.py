"""Namespaces: create (provisioning the SQLite file), get, list, update, delete."""

from __future__ import annotations

from pathlib import Path

import httpx
from conftest import kv_spec
from prism.admin.server import AdminServer


def test_create_get_list(api: httpx.Client, admin: AdminServer) -> None:
    created = api.post("/v1/namespaces", json=kv_spec("orders", features=["ttl", "cas"]))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["version"] == 1
    assert body["spec"]["patterns"] == ["keyvalue"]
    assert body["spec"]["limits"]["max_key_bytes"] == 1024  # default from prism.config
    # Provisioning: the plugin created the database file in the data directory.
    db_file = Path(body["spec"]["config"]["path"])
    assert db_file == admin.settings.data_dir / "orders.db"
    assert db_file.exists()

    got = api.get("/v1/namespaces/orders")
    assert got.status_code == 200
    assert got.json()["spec"] == body["spec"]
    listed = api.get("/v1/namespaces").json()
    assert [n["name"] for n in listed] == ["orders"]


def test_create_twice_is_409(api: httpx.Client) -> None:
    assert api.post("/v1/namespaces", json=kv_spec("dup")).status_code == 201
    again = api.post("/v1/namespaces", json=kv_spec("dup"))
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert "dup" in again.json()["detail"]


def test_get_missing_is_404_naming_it(api: httpx.Client) -> None:
    response = api.get("/v1/namespaces/nowhere")
    assert response.status_code == 404
    problem = response.json()
    assert problem["status"] == 404 and "nowhere" in problem["detail"]


def test_update_bumps_version_and_changes_limits(api: httpx.Client) -> None:
    spec = api.post("/v1/namespaces", json=kv_spec("upd")).json()["spec"]
    spec["limits"]["max_value_bytes"] = 2048
    updated = api.put("/v1/namespaces/upd", json={"spec": spec, "version": 1})
    assert updated.status_code == 200, updated.text
    assert updated.json()["version"] == 2
    assert api.get("/v1/namespaces/upd").json()["spec"]["limits"]["max_value_bytes"] == 2048


def test_update_name_must_match_path(api: httpx.Client) -> None:
    api.post("/v1/namespaces", json=kv_spec("a1"))
    response = api.put("/v1/namespaces/a1", json={"spec": kv_spec("b1"), "version": 1})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "spec.name"


def test_delete_keeps_data_without_deprovision(api: httpx.Client, admin: AdminServer) -> None:
    api.post("/v1/namespaces", json=kv_spec("gone"))
    assert api.delete("/v1/namespaces/gone").status_code == 204
    assert api.get("/v1/namespaces/gone").status_code == 404
    assert (admin.settings.data_dir / "gone.db").exists()
    assert api.delete("/v1/namespaces/gone").status_code == 404


def test_memory_namespace_needs_no_provisioning(api: httpx.Client) -> None:
    spec = {"name": "mem", "patterns": ["keyvalue", "timeseries"], "backend": "memory"}
    response = api.post("/v1/namespaces", json=spec)
    assert response.status_code == 201, response.text
    assert response.json()["spec"]["backend"] == "memory"
