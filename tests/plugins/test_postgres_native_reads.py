"""Native PostgreSQL reads (ADR-003): gets of a postgres namespace are answered by the
Rust core over its own connections, with the plugin's own get statement on the plugin's
own `kv_<ns>` table.

The proof that the core, not the plugin, reads: the core's connections carry the
application name `prism-core-reads:<namespace>` (pg_stat_activity), and it sees a change
made directly in SQL at once (the same table: no staleness), with the plugin's semantics
(an `expires_at_ms` in the past is a miss even before the purge deletes the row). With
`native_reads: false` the namespace works the same through the plugin, and the core opens
no connection. A live config change through the admin (native reads switched off)
reaches the core without a restart. The offer itself (`native_reads()`) and its config
field are checked without a server.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from helpers import cargo
from helpers import native_reads as native_reads_checks
from helpers.server import ServerProcess
from prism.client import PrismClient
from prism.errors import ConfigError
from prism.proxy.namespaces import native_reads
from prism_postgres import PostgresPlugin
from prism_postgres.provisioning import Names, sanitize
from psycopg import sql

pytestmark = pytest.mark.timeout(120)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def core_pids(db: psycopg.Connection[Any], namespace: str) -> list[int]:
    """Backend pids of the core's connections for `namespace` (by their application name)."""
    rows = db.execute(
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s ORDER BY pid",
        (f"prism-core-reads:{namespace}",),
    ).fetchall()
    return [row[0] for row in rows]


def drop_namespace(db: psycopg.Connection[Any], namespace: str) -> None:
    n = Names.of(namespace)
    db.execute(sql.SQL("DROP TABLE IF EXISTS {}, {}").format(n.kv, n.ts))
    db.execute(sql.SQL("DROP SEQUENCE IF EXISTS {}").format(n.kv_seq))


@pytest.fixture
def pg_url(backend_stack: dict[str, str]) -> str:
    url = os.environ.get("PRISM_POSTGRES_URL")
    assert url, "backend_stack did not export PRISM_POSTGRES_URL: is postgres in claims.yaml?"
    return url


@pytest.fixture
def db(pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def gateway(
    server_factory: Callable[..., ServerProcess], pg_url: str, db: psycopg.Connection[Any]
) -> Iterator[tuple[PrismClient, str, str]]:
    """A gateway with two postgres namespaces: native reads on (the default) and off."""
    with native_reads_checks.native_and_plugin_namespaces(
        server_factory, "postgres", {"url": pg_url}
    ) as (client, native, plugin):
        yield client, native, plugin
    for ns in (native, plugin):
        drop_namespace(db, ns)


def test_gets_are_read_by_the_core_with_the_plugins_semantics(
    gateway: tuple[PrismClient, str, str], db: psycopg.Connection[Any]
) -> None:
    client, native, _ = gateway
    kv = client.kv(native)
    version = kv.put(b"k", b"through the gateway")
    item = kv.get(b"k")
    assert item is not None and (item.value, item.version) == (b"through the gateway", version)
    assert len(core_pids(db, native)) == 1  # one get, one connection opened

    # Written behind the gateway's back, seen by the very next get: the same table.
    table = Names.of(native).kv
    update = sql.SQL("UPDATE {} SET value = %s, expires_at_ms = %s WHERE key = %s").format(table)
    db.execute(update, (b"changed in sql", now_ms() + 60_000, b"k"))
    item = kv.get(b"k")
    assert item is not None and (item.value, item.version) == (b"changed in sql", version)
    assert item.expires_at is not None
    # An expiry in the past is a miss though the row is still there (the plugin's rule).
    db.execute(update, (b"expired", now_ms() - 1, b"k"))
    assert kv.get(b"k") is None
    # Duplicates in one batch are each answered.
    kv.put(b"a", b"A")
    found = kv.batch_get([b"a", b"a", b"missing"])
    assert set(found) == {b"a"} and found[b"a"].value == b"A"


def test_the_core_replaces_a_terminated_connection_without_failing_a_get(
    gateway: tuple[PrismClient, str, str], db: psycopg.Connection[Any]
) -> None:
    client, native, _ = gateway
    kv = client.kv(native)
    kv.put(b"k", b"v")
    assert kv.get(b"k") is not None
    before = core_pids(db, native)
    assert before
    db.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (before,))
    # As after a server restart: the stale connection is retried once on a fresh one.
    item = kv.get(b"k")
    assert item is not None and item.value == b"v"
    after = core_pids(db, native)
    assert after and not set(after) & set(before), (before, after)


def test_with_native_reads_off_the_plugin_reads(
    gateway: tuple[PrismClient, str, str], db: psycopg.Connection[Any]
) -> None:
    client, _, plugin = gateway
    kv = client.kv(plugin)
    version = kv.put(b"k", b"v")
    item = kv.get(b"k")
    assert item is not None and (item.value, item.version) == (b"v", version)
    expire = sql.SQL("UPDATE {} SET expires_at_ms = %s WHERE key = %s").format(Names.of(plugin).kv)
    db.execute(expire, (now_ms() - 1, b"k"))
    assert kv.get(b"k") is None
    assert core_pids(db, plugin) == []


def test_a_live_change_switches_the_read_path_without_a_restart(
    server_factory: Callable[..., ServerProcess], pg_url: str, db: psycopg.Connection[Any]
) -> None:
    name = f"live{uuid.uuid4().hex[:8]}"
    try:
        native_reads_checks.check_live_switch_off(
            server_factory, "postgres", {"url": pg_url}, lambda ns: core_pids(db, ns), name
        )
    finally:
        drop_namespace(db, name)


def test_the_plugin_offers_native_reads_only_for_plain_tcp(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for var in ("PGPASSWORD", "PGPASSFILE", "PGSSLMODE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.pgpass

    def offer(url: str, **config: Any) -> dict[str, Any] | None:
        return PostgresPlugin("Ns.1", {"url": url, **config}).native_reads()

    url = "postgresql://u:pw@127.0.0.1:5433/db?sslmode=disable"
    entry = offer(url, connect_timeout_s=0.5, statement_timeout_ms=700)
    assert entry == {
        "kind": "postgres",
        "url": url,
        "key_prefix": "",
        "table": f'"kv_{sanitize("Ns.1")}"',
        "connect_timeout_ms": 500,
        "socket_timeout_ms": 700,
    }
    assert entry["table"].startswith('"kv_ns_1_')
    # No statement timeout: the core still bounds its reads.
    assert offer("postgresql://u@h/db", statement_timeout_ms=0)["socket_timeout_ms"] == 30_000  # type: ignore[index]
    assert offer("postgresql://u@h/db", native_reads=False) is None
    assert offer("postgresql://u@h/db?sslmode=require") is None  # TLS: through the plugin
    assert offer("postgresql://u@h/db?sslmode=verify-full") is None
    assert offer("postgresql://u@h/db?options=-c%20x%3D1") is None  # options only libpq knows
    assert offer("postgresql://u@h1,h2/db") is None  # several hosts
    assert offer("postgresql:///db?host=/run/postgresql") is None  # a Unix socket
    assert offer("postgresql://h/db") is None  # the user left to libpq
    monkeypatch.setenv("PGPASSWORD", "from-env")
    assert offer("postgresql://u@h/db") is None  # libpq would send a password the core cannot
    assert offer("postgresql://u:pw@h/db") is not None
    monkeypatch.setenv("PGSSLMODE", "require")
    assert offer("postgresql://u:pw@h/db") is None
    with pytest.raises(ConfigError, match="native_reads"):
        offer("postgresql://u@h/db", native_reads="yes")


def test_the_core_namespace_entry_carries_the_offer() -> None:
    from prism.config import NamespaceConfig

    url = "postgresql://u:pw@h:1/db"
    ns = NamespaceConfig(name="ns1", patterns=("keyvalue",), backend="postgres")
    plugins = {"ns1": PostgresPlugin("ns1", {"url": url})}
    entry = native_reads([ns], plugins)["ns1"]
    assert (entry["kind"], entry["url"], entry["table"]) == ("postgres", url, '"kv_ns1"')
    off = {"ns1": PostgresPlugin("ns1", {"url": url, "native_reads": False})}
    assert native_reads([ns], off) == {}


def test_the_engines_own_postgres_read_tests_pass_against_the_stack(pg_url: str) -> None:
    """proxy/engine/tests/postgres_reads.rs: the server-dependent cases are #[ignore]d in
    the plain `cargo test` (it runs before the stack is up); here they run against it."""
    cargo.run_ignored("postgres_reads", {"PRISM_TEST_POSTGRES_URL": pg_url}, at_least=7)
