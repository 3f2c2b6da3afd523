"""PostgreSQL as the store: migrations, CRUD, optimistic 409, audit and config version on a
fresh schema of the local stack's server (`python -m tooling.stack up --only postgres`)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import client_for, kv_spec, settings_for
from prism.admin.server import AdminServer

SERVER = os.environ.get("PRISM_POSTGRES_URL", "postgresql://prism@127.0.0.1:25432/prism")


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A throw-away schema on the stack's PostgreSQL (the URL's search_path points at it),
    started by the stack if needed."""
    from tooling.stack import api

    with api.running(["postgres"]):
        schema = f"admin_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(SERVER, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        base = SERVER.replace("postgresql://", "postgresql+psycopg://", 1)
        try:
            yield f"{base}?options=-csearch_path%3D{schema}"
        finally:
            with psycopg.connect(SERVER, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_admin_on_postgres(pg_url: str, tmp_path: Path) -> None:
    with AdminServer(settings_for(tmp_path, db_url=pg_url)) as server:
        with client_for(server) as api:
            assert api.post("/v1/namespaces", json=kv_spec("pg1")).status_code == 201
            spec = api.get("/v1/namespaces/pg1").json()["spec"]
            assert spec["config"]["path"] == str(tmp_path / "pg1.db")
            ok = api.put("/v1/namespaces/pg1", json={"spec": spec, "version": 1})
            assert ok.status_code == 200
            stale = api.put("/v1/namespaces/pg1", json={"spec": spec, "version": 1})
            assert stale.status_code == 409
            assert api.get("/v1/config").json()["version"] == 2
            assert [e["action"] for e in api.get("/v1/audit").json()][:2] == [
                "namespace.update",
                "namespace.create",
            ]
    assert not (tmp_path / "admin.db").exists()  # the store really was PostgreSQL
    # A second admin on the same database: migrations are a no-op, the data is there.
    with AdminServer(settings_for(tmp_path, db_url=pg_url)) as again:
        with client_for(again) as api:
            names = [n["name"] for n in api.get("/v1/namespaces").json()]
            assert names == ["pg1"]
            heartbeat = {"address": "127.0.0.1:1", "config_version": 2}
            assert api.post("/v1/proxies/p1/heartbeat", json=heartbeat).status_code == 200
