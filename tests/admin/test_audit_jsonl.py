"""Admin mutations as JSON lines (ADR-010): one {ts, actor, action, target} line per
committed mutation, in order, with no spec bodies; refused mutations leave no line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from conftest import client_for, kv_spec, settings_for
from prism.admin.server import AdminServer


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "admin-audit.jsonl"  # the directory is created on start


@pytest.fixture
def audited(tmp_path: Path, log_path: Path) -> Iterator[httpx.Client]:
    with AdminServer(settings_for(tmp_path, audit_path=log_path)) as server:
        with client_for(server) as api:
            yield api


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_each_mutation_is_one_line_without_bodies(audited: httpx.Client, log_path: Path) -> None:
    assert audited.post("/v1/namespaces", json=kv_spec("orders")).status_code == 201
    ns = audited.get("/v1/namespaces/orders").json()
    spec = {**ns["spec"], "limits": {**ns["spec"]["limits"], "max_key_bytes": 64}}
    assert (
        audited.put("/v1/namespaces/orders", json={"spec": spec, "version": 1}).status_code == 200
    )
    token = audited.post("/v1/tokens", json={"name": "ci", "role": "viewer"}).json()
    assert audited.delete(f"/v1/tokens/{token['id']}").status_code == 204
    assert audited.delete("/v1/namespaces/orders").status_code == 204
    # Refused: a duplicate create and a stale update change nothing and log nothing.
    assert audited.post("/v1/namespaces", json=kv_spec("other")).status_code == 201
    assert audited.post("/v1/namespaces", json=kv_spec("other")).status_code == 409
    stale = audited.put("/v1/namespaces/other", json={"spec": kv_spec("other"), "version": 7})
    assert stale.status_code == 409

    got = lines(log_path)
    assert [(e["action"], e["target"]) for e in got] == [
        ("namespace.create", "orders"),
        ("namespace.update", "orders"),
        ("token.create", token["id"]),
        ("token.delete", token["id"]),
        ("namespace.delete", "orders"),
        ("namespace.create", "other"),
    ]
    for entry in got:
        assert set(entry) == {"ts", "actor", "action", "target"}
        assert entry["actor"] == "bootstrap"
        assert datetime.fromisoformat(str(entry["ts"]).replace("Z", "+00:00")).tzinfo
    assert "max_key_bytes" not in log_path.read_text()
    assert token["token"] not in log_path.read_text()
    # The audit table has the same mutations (newest first), with their bodies.
    table = audited.get("/v1/audit").json()
    assert [e["action"] for e in reversed(table)] == [e["action"] for e in got]


def test_no_path_no_file(tmp_path: Path, log_path: Path, admin: AdminServer) -> None:
    with client_for(admin) as api:
        assert api.post("/v1/namespaces", json=kv_spec("quiet")).status_code == 201
    assert not log_path.exists()
    assert not list(tmp_path.rglob("*.jsonl"))
