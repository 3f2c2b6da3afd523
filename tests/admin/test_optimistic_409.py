"""Optimistic versions: an update naming a stale version is refused with 409."""

from __future__ import annotations

import httpx
from conftest import kv_spec


def test_stale_version_is_409(api: httpx.Client) -> None:
    spec = api.post("/v1/namespaces", json=kv_spec("opt")).json()["spec"]
    first = dict(spec, features=["ttl"])
    assert api.put("/v1/namespaces/opt", json={"spec": first, "version": 1}).status_code == 200
    # A second writer that also read version 1 loses.
    second = dict(spec, features=["cas"])
    stale = api.put("/v1/namespaces/opt", json={"spec": second, "version": 1})
    assert stale.status_code == 409
    assert stale.headers["content-type"] == "application/problem+json"
    assert "version 2" in stale.json()["detail"]
    assert api.get("/v1/namespaces/opt").json()["spec"]["features"] == ["ttl"]


def test_update_of_missing_namespace_is_404(api: httpx.Client) -> None:
    response = api.put("/v1/namespaces/nope", json={"spec": kv_spec("nope"), "version": 1})
    assert response.status_code == 404
