"""`POST /v1/namespaces:apply`: create-or-update, with a dry run that only shows the diff."""

from __future__ import annotations

import httpx
from conftest import kv_spec
from prism.admin.server import AdminServer


def test_dry_run_create_changes_nothing(api: httpx.Client, admin: AdminServer) -> None:
    response = api.post("/v1/namespaces:apply", params={"dry_run": "true"}, json=kv_spec("ap"))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["action"] == "create" and result["dry_run"] is True
    fields = {c["field"]: c for c in result["diff"]}
    assert fields["backend"] == {"field": "backend", "before": None, "after": "sqlite"}
    assert api.get("/v1/namespaces/ap").status_code == 404
    assert not (admin.settings.data_dir / "ap.db").exists()


def test_apply_create_then_unchanged_then_update(api: httpx.Client) -> None:
    created = api.post("/v1/namespaces:apply", json=kv_spec("ap2")).json()
    assert created["action"] == "create"
    assert created["namespace"]["version"] == 1

    same = api.post("/v1/namespaces:apply", json=kv_spec("ap2")).json()
    assert same["action"] == "unchanged" and same["diff"] == []

    changed = kv_spec("ap2", limits={"max_key_bytes": 64}, features=["ttl"])
    preview = api.post("/v1/namespaces:apply", params={"dry_run": "true"}, json=changed).json()
    assert preview["action"] == "update"
    assert preview["diff"] == [
        {"field": "features", "before": [], "after": ["ttl"]},
        {"field": "limits.max_key_bytes", "before": 1024, "after": 64},
    ]
    assert api.get("/v1/namespaces/ap2").json()["version"] == 1  # the dry run wrote nothing

    applied = api.post("/v1/namespaces:apply", json=changed).json()
    assert applied["action"] == "update"
    assert applied["namespace"]["version"] == 2
    assert api.get("/v1/namespaces/ap2").json()["spec"]["limits"]["max_key_bytes"] == 64
