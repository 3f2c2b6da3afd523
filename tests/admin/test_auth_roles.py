"""Bearer tokens and roles: no token 401, viewer reads only, operator writes namespaces,
admin alone manages tokens; revoked tokens stop working."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from conftest import client_for, kv_spec
from prism.admin.server import AdminServer


def test_no_token_is_401_with_challenge(admin: AdminServer) -> None:
    with client_for(admin, token=None) as anonymous:
        response = anonymous.get("/v1/namespaces")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.headers["content-type"] == "application/problem+json"
    with client_for(admin, token="not-a-token") as wrong:
        assert wrong.get("/v1/namespaces").status_code == 401


def test_health_and_openapi_need_no_token(admin: AdminServer) -> None:
    with client_for(admin, token=None) as anonymous:
        assert anonymous.get("/healthz").json()["status"] == "ok"
        assert "/v1/namespaces" in anonymous.get("/openapi.json").json()["paths"]


def test_viewer_reads_but_cannot_write(
    admin: AdminServer, api: httpx.Client, token_for: Callable[[str], str]
) -> None:
    api.post("/v1/namespaces", json=kv_spec("seen"))
    with client_for(admin, token_for("viewer")) as viewer:
        assert viewer.get("/v1/namespaces/seen").status_code == 200
        refused = viewer.post("/v1/namespaces", json=kv_spec("nope"))
        assert refused.status_code == 403
        assert "viewer" in refused.json()["detail"]
        assert viewer.delete("/v1/namespaces/seen").status_code == 403
        assert viewer.get("/v1/tokens").status_code == 403
    assert api.get("/v1/namespaces/nope").status_code == 404


def test_operator_writes_namespaces_not_tokens(
    admin: AdminServer, token_for: Callable[[str], str]
) -> None:
    with client_for(admin, token_for("operator")) as operator:
        assert operator.post("/v1/namespaces", json=kv_spec("op")).status_code == 201
        refused = operator.post("/v1/tokens", json={"name": "x", "role": "admin"})
        assert refused.status_code == 403


def test_revoked_token_is_401(api: httpx.Client, admin: AdminServer) -> None:
    created = api.post("/v1/tokens", json={"name": "temp", "role": "viewer"}).json()
    listed = api.get("/v1/tokens").json()
    assert {"id": created["id"], "name": "temp", "role": "viewer"}.items() <= next(
        t for t in listed if t["id"] == created["id"]
    ).items()
    assert "token" not in listed[0]  # the secret is never shown again
    with client_for(admin, created["token"]) as temp:
        assert temp.get("/v1/namespaces").status_code == 200
        assert api.delete(f"/v1/tokens/{created['id']}").status_code == 204
        assert temp.get("/v1/namespaces").status_code == 401
