"""Every mutation leaves an audit row: who, what, when, before and after."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from conftest import client_for, kv_spec
from prism.admin.server import AdminServer


def test_namespace_lifecycle_is_audited(
    admin: AdminServer, api: httpx.Client, token_for: Callable[[str], str]
) -> None:
    with client_for(admin, token_for("operator")) as operator:
        spec = operator.post("/v1/namespaces", json=kv_spec("aud")).json()["spec"]
        changed = dict(spec, features=["ttl"])
        operator.put("/v1/namespaces/aud", json={"spec": changed, "version": 1})
        operator.delete("/v1/namespaces/aud")
    entries = api.get("/v1/audit", params={"target": "aud"}).json()
    assert [e["action"] for e in entries] == [
        "namespace.delete",
        "namespace.update",
        "namespace.create",
    ]
    delete, update, create = entries
    assert {e["actor"] for e in entries} == {"operator-user"}
    assert create["before"] is None and create["after"]["name"] == "aud"
    assert update["before"]["features"] == [] and update["after"]["features"] == ["ttl"]
    assert delete["before"]["features"] == ["ttl"] and delete["after"] is None
    assert create["at"] <= update["at"] <= delete["at"]


def test_token_mutations_are_audited_without_secrets(api: httpx.Client) -> None:
    created = api.post("/v1/tokens", json={"name": "ci", "role": "operator"}).json()
    entry = api.get("/v1/audit", params={"limit": 1}).json()[0]
    assert entry["action"] == "token.create" and entry["actor"] == "bootstrap"
    assert entry["after"] == {"id": created["id"], "name": "ci", "role": "operator"}
    assert created["token"] not in str(entry)


def test_audit_pages_with_before(api: httpx.Client) -> None:
    for i in range(3):
        api.post(
            "/v1/namespaces", json={"name": f"p{i}", "pattern": "keyvalue", "backend": "memory"}
        )
    first = api.get("/v1/audit", params={"limit": 2}).json()
    rest = api.get("/v1/audit", params={"limit": 2, "before": first[-1]["id"]}).json()
    assert [e["target"] for e in first + rest] == ["p2", "p1", "p0"]
