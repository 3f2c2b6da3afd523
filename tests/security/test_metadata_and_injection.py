"""Hostile input at the edge: request metadata above `max_metadata_bytes` is refused by
HTTP/2 while the server keeps serving; keys shaped like SQL injection are stored and
returned verbatim by the SQLite and PostgreSQL backends, whose tables stay intact; and
namespace names shaped like SQL injection are refused by the config, the admin and the
data plane, with no effect."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest
import yaml
from helpers.oidc import HS256_SECRET, claims, mint
from helpers.pki import Pki
from helpers.rpc import kvpb
from helpers.server import ServerProcess, free_port
from prism_postgres.provisioning import sanitize
from sectools import (
    Admin,
    Caller,
    jwt_auth,
    running,
    secret_env,
    stack_url,
    tls_credentials,
)

MAX_METADATA = 8192  # below the HTTP/2 default (16 KiB): shows the setting is applied
INJECTION_KEYS = [
    b"'; DROP TABLE kv; --",
    b'" OR 1=1 --',
    b"x' OR '1'='1",
    b"'); DELETE FROM kv; --",
    b"%_\\%",  # LIKE wildcards and an escape character
    b"\x00'\x00; --",
]
HOSTILE_NAMES = ["'; DROP TABLE kv; --", '" OR 1=1 --', "a;b", "kv_x; DROP TABLE kv_x"]
RUN = uuid.uuid4().hex[:8]  # the stack's PostgreSQL outlives runs: fresh tables each run
PG_NS = f"inj_pg_{RUN}"
LITE_NS = "inj_lite"


@pytest.fixture(scope="module")
def pg_url(backend_stack: dict[str, str]) -> str:
    return stack_url(backend_stack, "PRISM_POSTGRES_URL")


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, pki: Pki, pg_url: str
) -> Iterator[ServerProcess]:
    auth = dict(jwt_auth(pki, None), max_metadata_bytes=MAX_METADATA)
    proc = ServerProcess(
        tmp_path_factory.mktemp("inject-server"),
        [
            {"name": "mem", "patterns": ["keyvalue"], "backend": "memory"},
            {"name": LITE_NS, "patterns": ["keyvalue"], "backend": "sqlite"},
            {
                "name": PG_NS,
                "patterns": ["keyvalue"],
                "backend": "postgres",
                "config": {"url": pg_url},
            },
        ],
        server={"auth": auth},
        env=secret_env(),
        credentials=tls_credentials(pki),
    )
    with running(proc):
        yield proc


@pytest.fixture
def caller(server: ServerProcess, pki: Pki) -> Iterator[Caller]:
    token = mint(claims("alice"), secret=HS256_SECRET)
    with Caller(server.address, tls_credentials(pki), token=token) as c:
        yield c


# ---- metadata --------------------------------------------------------------------------


def test_metadata_below_the_limit_is_served(caller: Caller) -> None:
    caller.extra_metadata = [("x-padding", "p" * (MAX_METADATA // 2))]
    caller.put("mem", b"padded", b"v")


def refuse_metadata(caller: Caller, size: int) -> grpc.RpcError:
    """A Put carrying `size` bytes of metadata; asserts it is refused and not stored."""
    key = f"oversized-{size}".encode()
    caller.extra_metadata = [("x-padding", "p" * size)]
    try:
        caller.put("mem", key, b"should not be stored")
        raise AssertionError(f"{size} bytes of metadata accepted (limit {MAX_METADATA})")
    except grpc.RpcError as err:
        refused = err
    finally:
        caller.extra_metadata = []
    assert not caller.get("mem", key).found, "the refused request was served"
    return refused


def assert_still_serving(server: ServerProcess, pki: Pki, caller: Caller) -> None:
    caller.put("mem", b"after-oversized", b"ok")  # the same channel reconnects if it must
    with Caller(server.address, tls_credentials(pki), token=caller.token) as fresh:
        assert fresh.get("mem", b"after-oversized").item.value == b"ok"
    assert server.running


def test_metadata_over_the_limit_is_refused_with_a_clear_status(
    server: ServerProcess, pki: Pki, caller: Caller
) -> None:
    err = refuse_metadata(caller, MAX_METADATA + 4096)
    # HTTP/2 refuses the header block with 431 (Request Header Fields Too Large), which
    # grpcio reports as UNKNOWN quoting the HTTP status.
    message = err.details() or ""
    assert err.code() in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.RESOURCE_EXHAUSTED), (
        f"{err.code()}: {message}"
    )
    assert re.search(r"431|header|metadata|too.large", message, re.I), message
    assert_still_serving(server, pki, caller)


def test_oversized_token_is_refused(server: ServerProcess, pki: Pki, caller: Caller) -> None:
    big = Caller(server.address, tls_credentials(pki), token="x" * (MAX_METADATA + 1024))
    with big, pytest.raises(grpc.RpcError) as info:
        big.get("mem", b"k")
    assert info.value.code() != grpc.StatusCode.OK
    assert_still_serving(server, pki, caller)


@pytest.mark.parametrize("size", [200_000, 2_000_000])
def test_metadata_flood_is_cut_off_and_the_server_keeps_serving(
    server: ServerProcess, pki: Pki, caller: Caller, size: int
) -> None:
    # Far past the limit HTTP/2 ends the connection (GOAWAY: header list too large, too
    # many CONTINUATION frames, or a reset while the client still sends): no status
    # message is guaranteed, only that nothing is served and the server stays up.
    err = refuse_metadata(caller, size)
    assert err.code() in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    ), err
    assert_still_serving(server, pki, caller)


# ---- SQL-injection-shaped keys ---------------------------------------------------------


def pg_tables(url: str) -> set[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return {r[0] for r in rows}


def pg_rows(url: str, namespace: str) -> dict[bytes, bytes]:
    table = f"kv_{sanitize(namespace)}"
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            psycopg.sql.SQL("SELECT key, value FROM {}").format(psycopg.sql.Identifier(table))
        ).fetchall()
    return {bytes(k): bytes(v) for k, v in rows}


def lite_rows(server: ServerProcess) -> dict[bytes, bytes]:
    path = server.data_dir / f"{LITE_NS}.db"
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"kv", "meta", "ts_events"} <= tables, f"SQLite tables after the writes: {tables}"
        rows = conn.execute("SELECT key, value FROM kv").fetchall()
    return {bytes(k): bytes(v) for k, v in rows}


@pytest.mark.parametrize("namespace", [LITE_NS, PG_NS], ids=["sqlite", "postgres"])
def test_injection_shaped_keys_are_stored_verbatim(
    server: ServerProcess, caller: Caller, pg_url: str, namespace: str
) -> None:
    tables_before = pg_tables(pg_url)
    expected = {key: b"value of " + key for key in INJECTION_KEYS}
    for key, value in expected.items():
        caller.put(namespace, key, value)
    for key, value in expected.items():
        got = caller.get(namespace, key)
        assert got.found and got.item.key == key and got.item.value == value, (key, got)
    scan = caller.call("Scan", kvpb.ScanRequest(namespace=namespace, prefix=b"", limit=100))
    assert {i.key: i.value for i in scan.items} == expected
    quoted = caller.call("Scan", kvpb.ScanRequest(namespace=namespace, prefix=b"'", limit=100))
    assert sorted(i.key for i in quoted.items) == sorted(k for k in expected if k[:1] == b"'")
    pct = caller.call("Scan", kvpb.ScanRequest(namespace=namespace, prefix=b"%", limit=100))
    assert [i.key for i in pct.items] == [b"%_\\%"], "a prefix was treated as a pattern"
    # Deleting one of them deletes exactly that one.
    caller.call("Delete", kvpb.DeleteRequest(namespace=namespace, key=INJECTION_KEYS[0]))
    del expected[INJECTION_KEYS[0]]
    # The backend holds the same bytes, and no table went missing.
    raw = lite_rows(server) if namespace == LITE_NS else pg_rows(pg_url, namespace)
    assert raw == expected
    assert tables_before <= pg_tables(pg_url), "a PostgreSQL table disappeared"


# ---- SQL-injection-shaped namespace names ----------------------------------------------


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_namespace_name_refused_by_the_config(tmp_path: Path, name: str) -> None:
    config = tmp_path / "prism.yaml"
    config.write_text(
        yaml.safe_dump(
            {"namespaces": [{"name": name, "patterns": ["keyvalue"], "backend": "sqlite"}]}
        )
    )
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-m", "prism", "serve", "--config", str(config)]
        + ["--listen", f"127.0.0.1:{port}", "--admin-listen", f"127.0.0.1:{free_port()}"]
        + ["--metrics-listen", f"127.0.0.1:{free_port()}", "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, **secret_env()),
    )
    assert done.returncode == 2, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "namespaces[0].name" in done.stderr, done.stderr
    data = tmp_path / "d"
    assert not data.exists() or not any(name in p.name for p in data.iterdir())


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_namespace_name_refused_by_the_admin(
    server: ServerProcess, pg_url: str, name: str
) -> None:
    admin = Admin.of(server)
    before_ns = {r["name"] for r in admin.ok("GET", "/v1/namespaces")}
    before_tables = pg_tables(pg_url)
    spec: dict[str, Any] = {
        "name": name,
        "patterns": ["keyvalue"],
        "backend": "postgres",
        "config": {"url": pg_url},
    }
    status, doc = admin.request("POST", "/v1/namespaces", spec)
    assert status == 422, f"HTTP {status}: {doc}"
    assert "name" in str(doc), f"the problem does not name the field: {doc}"
    assert {r["name"] for r in admin.ok("GET", "/v1/namespaces")} == before_ns
    assert pg_tables(pg_url) == before_tables, "the refused namespace touched PostgreSQL"


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_namespace_name_on_the_data_plane(
    server: ServerProcess, caller: Caller, name: str
) -> None:
    err = caller.refused(
        "Put",
        kvpb.PutRequest(namespace=name, key=b"k", value=b"v"),
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert "namespace" in (err.details() or "").lower(), err.details()
    caller.put("mem", b"still-serving", b"yes")
    assert server.running
