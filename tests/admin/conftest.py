"""A real admin per test: AdminServer (uvicorn over HTTP) on a free port, its store in a
temporary SQLite file, and an httpx client carrying the bootstrap admin token."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prism.admin.server import AdminServer
from prism.admin.settings import AdminSettings

ADMIN_TOKEN = "test-admin-token"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def kv_spec(name: str, **fields: Any) -> dict[str, Any]:
    """A KeyValue namespace on SQLite (its file lands in the admin's data directory)."""
    return {"name": name, "pattern": "keyvalue", "backend": "sqlite", **fields}


def settings_for(data_dir: Path, **fields: Any) -> AdminSettings:
    base: dict[str, Any] = {
        "data_dir": data_dir,
        "bootstrap_token": ADMIN_TOKEN,
        "host": "127.0.0.1",
        "port": 0,
    }
    return AdminSettings(**{**base, **fields})


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[AdminServer]:
    with AdminServer(settings_for(tmp_path)) as server:
        yield server


def client_for(server: AdminServer, token: str | None = ADMIN_TOKEN) -> httpx.Client:
    headers = bearer(token) if token else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30.0, trust_env=False)


@pytest.fixture
def api(admin: AdminServer) -> Iterator[httpx.Client]:
    with client_for(admin) as client:
        yield client


@pytest.fixture
def token_for(api: httpx.Client) -> Callable[[str], str]:
    """Creates a token with the given role through the API and returns its secret."""

    def make(role: str) -> str:
        response = api.post("/v1/tokens", json={"name": f"{role}-user", "role": role})
        assert response.status_code == 201, response.text
        return str(response.json()["token"])

    return make
