"""Native Redis reads (ADR-003): gets of a redis namespace are answered by the Rust core
over its own connection, with the plugin's own `get` script on the plugin's own hashes.

The proof that the core, not the plugin, reads: the core names its connection
`prism-core-reads:<namespace>` (CLIENT SETNAME), and it sees a change made directly in
Redis at once (the same hashes: no staleness), with the plugin's semantics (an `exp`
in the past is a miss even before Redis evicts the hash). With `native_reads: false`
the namespace works the same through the plugin, and the core opens no connection.
A live config change through the admin (native reads switched off) reaches the core
without a restart. The offer itself (`native_reads()`) and its config field are checked
without a server.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from helpers import cargo
from helpers import native_reads as native_reads_checks
from helpers.server import ServerProcess
from prism.client import PrismClient
from prism.errors import ConfigError
from prism.proxy.namespaces import native_reads
from prism_redis import RedisPlugin
from redis import Redis

pytestmark = pytest.mark.timeout(120)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def core_clients(r: Redis, namespace: str) -> list[dict[str, Any]]:
    """The core's connections for `namespace` (CLIENT LIST, by the name it sets)."""
    name = f"prism-core-reads:{namespace}"
    return [c for c in r.client_list() if c.get("name") == name]


@pytest.fixture
def redis_url(backend_stack: dict[str, str]) -> str:
    url = os.environ.get("PRISM_REDIS_URL")
    assert url, "backend_stack did not export PRISM_REDIS_URL: is redis in claims.yaml?"
    return url


@pytest.fixture
def redis(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def gateway(
    server_factory: Callable[..., ServerProcess], redis_url: str, redis: Redis
) -> Iterator[tuple[PrismClient, str, str]]:
    """A gateway with two redis namespaces: native reads on (the default) and off."""
    with native_reads_checks.native_and_plugin_namespaces(
        server_factory, "redis", {"url": redis_url}
    ) as (client, native, plugin):
        yield client, native, plugin
    for ns in (native, plugin):
        keys = list(redis.scan_iter(match=f"prism:{ns}:*", count=1000))
        if keys:
            redis.unlink(*keys)


def test_gets_are_read_by_the_core_with_the_plugins_semantics(
    gateway: tuple[PrismClient, str, str], redis: Redis
) -> None:
    client, native, _ = gateway
    kv = client.kv(native)
    version = kv.put(b"k", b"through the gateway")
    item = kv.get(b"k")
    assert item is not None and (item.value, item.version) == (b"through the gateway", version)
    (conn,) = core_clients(redis, native)
    assert conn["cmd"] in ("evalsha", "eval"), conn  # its last command: the get script

    # Written behind the gateway's back, seen by the very next get: the same hash.
    hash_key = f"prism:{native}:kv:k"
    redis.hset(hash_key, mapping={"val": b"changed in redis", "exp": now_ms() + 60_000})
    item = kv.get(b"k")
    assert item is not None and (item.value, item.version) == (b"changed in redis", version)
    assert item.expires_at is not None
    # An `exp` in the past is a miss even though the hash is still there (the plugin's
    # rule, `exp <= now`), as is a hash without `ver`.
    redis.hset(hash_key, "exp", now_ms() - 1)
    assert kv.get(b"k") is None
    redis.hdel(hash_key, "exp", "ver")
    assert kv.get(b"k") is None
    # Duplicates in one batch are each answered.
    kv.put(b"a", b"A")
    found = kv.batch_get([b"a", b"a", b"missing"])
    assert set(found) == {b"a"} and found[b"a"].value == b"A"


def test_the_core_reconnects_after_its_connection_is_killed(
    gateway: tuple[PrismClient, str, str], redis: Redis
) -> None:
    client, native, _ = gateway
    kv = client.kv(native)
    kv.put(b"k", b"v")
    assert kv.get(b"k") is not None
    (before,) = core_clients(redis, native)
    redis.execute_command("CLIENT", "KILL", "ID", before["id"])
    # The next get may still meet the dying connection (UNAVAILABLE, retryable); one
    # after that reconnects, without restarting anything.
    deadline = time.monotonic() + 5
    while True:
        try:
            item = kv.get(b"k")
            break
        except Exception as exc:
            assert "unavailable" in type(exc).__name__.lower(), repr(exc)
            assert time.monotonic() < deadline, f"no reconnect within 5 s: {exc!r}"
            time.sleep(0.05)
    assert item is not None and item.value == b"v"
    (after,) = core_clients(redis, native)
    assert after["id"] != before["id"]


def test_with_native_reads_off_the_plugin_reads(
    gateway: tuple[PrismClient, str, str], redis: Redis
) -> None:
    client, _, plugin = gateway
    kv = client.kv(plugin)
    version = kv.put(b"k", b"v")
    item = kv.get(b"k")
    assert item is not None and (item.value, item.version) == (b"v", version)
    redis.hset(f"prism:{plugin}:kv:k", "exp", now_ms() - 1)
    assert kv.get(b"k") is None
    assert core_clients(redis, plugin) == []


def test_a_live_change_switches_the_read_path_without_a_restart(
    server_factory: Callable[..., ServerProcess], redis_url: str, redis: Redis
) -> None:
    name = f"live{uuid.uuid4().hex[:8]}"
    try:
        native_reads_checks.check_live_switch_off(
            server_factory, "redis", {"url": redis_url}, lambda ns: core_clients(redis, ns), name
        )
    finally:
        keys = list(redis.scan_iter(match=f"prism:{name}:*", count=1000))
        if keys:
            redis.unlink(*keys)


def test_the_plugin_offers_native_reads_only_for_plain_tcp() -> None:
    def offer(url: str, **config: Any) -> dict[str, Any] | None:
        return RedisPlugin("ns1", {"url": url, **config}).native_reads()

    entry = offer("redis://u:pw@127.0.0.1:6380/2", key_prefix="app:", socket_timeout_s=0.5)
    assert entry == {
        "kind": "redis",
        "url": "redis://u:pw@127.0.0.1:6380/2",
        "key_prefix": "app:",
        "connect_timeout_ms": 2000,
        "socket_timeout_ms": 500,
    }
    assert offer("redis://h:1/0")["key_prefix"] == "prism:ns1:"  # type: ignore[index]
    assert offer("redis://h:1/0", native_reads=False) is None
    assert offer("rediss://h:1/0") is None  # TLS: through the plugin
    assert offer("unix:///run/redis.sock") is None
    assert offer("redis://h:1/0?protocol=3") is None  # options only redis-py knows
    with pytest.raises(ConfigError, match="native_reads"):
        offer("redis://h:1/0", native_reads="yes")


def test_the_core_namespace_entry_carries_the_offer() -> None:
    from prism.config import NamespaceConfig

    ns = NamespaceConfig(name="ns1", patterns=("keyvalue",), backend="redis")
    plugins = {"ns1": RedisPlugin("ns1", {"url": "redis://h:1/0"})}
    assert native_reads([ns], plugins)["ns1"]["url"] == "redis://h:1/0"
    off = {"ns1": RedisPlugin("ns1", {"url": "redis://h:1/0", "native_reads": False})}
    assert native_reads([ns], off) == {}


def test_the_engines_own_redis_read_tests_pass_against_the_stack(redis_url: str) -> None:
    """proxy/engine/tests/redis_reads.rs: the server-dependent cases are #[ignore]d in the
    plain `cargo test` (it runs before the stack is up); here they run against it."""
    cargo.run_ignored("redis_reads", {"PRISM_TEST_REDIS_URL": redis_url}, at_least=6)
