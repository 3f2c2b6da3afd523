"""Shared checks of the native read paths (ADR-003) of the redis and postgres plugins."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from prism.client import PrismClient

from helpers.server import ServerProcess


@contextmanager
def native_and_plugin_namespaces(
    server_factory: Callable[..., ServerProcess], backend: str, config: dict[str, Any]
) -> Iterator[tuple[PrismClient, str, str]]:
    """A gateway with two `backend` namespaces on `config`: native reads on (the
    default) and off; yields a client and the two names. The server is stopped on exit;
    the caller drops the namespaces' data."""
    tag = uuid.uuid4().hex[:8]
    native, plugin = f"nat{tag}", f"plg{tag}"
    proc = server_factory(
        [
            {"name": native, "patterns": ["keyvalue"], "backend": backend, "config": config},
            {
                "name": plugin,
                "patterns": ["keyvalue"],
                "backend": backend,
                "config": {**config, "native_reads": False},
            },
        ]
    )
    try:
        with PrismClient(proc.address, timeout=5.0, retries=0) as client:
            yield client, native, plugin
    finally:
        proc.stop()


def eventually(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
            last: object = "false"
        except Exception as exc:
            last = exc
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s ({last!r})"
        time.sleep(0.05)


def check_live_switch_off(
    server_factory: Callable[..., ServerProcess],
    backend: str,
    config: dict[str, Any],
    core_connections: Callable[[str], list[Any]],
    name: str,
) -> None:
    """A namespace created through the admin reads natively (the core opens its own
    connection, `core_connections(namespace)` sees it); switching `native_reads` off in
    the admin closes that connection and the namespace keeps serving, through the plugin,
    without a restart. The caller picks the namespace `name` and cleans up after it."""
    proc = server_factory([{"name": "base", "patterns": ["keyvalue"], "backend": "memory"}])
    spec = {"name": name, "patterns": ["keyvalue"], "backend": backend, "config": config}
    headers = {"Authorization": f"Bearer {proc.admin_token}"}
    with (
        httpx.Client(base_url=proc.wait_admin(), headers=headers, timeout=30) as admin,
        PrismClient(proc.address, timeout=5.0, retries=0) as client,
    ):
        assert admin.post("/v1/namespaces", json=spec).status_code == 201
        kv = client.kv(name)
        eventually(lambda: kv.put(b"k", b"v") > 0, "the new namespace is served")
        assert kv.get(b"k") is not None and len(core_connections(name)) >= 1

        current = admin.get(f"/v1/namespaces/{name}").json()
        current["spec"]["config"]["native_reads"] = False
        update = {"spec": current["spec"], "version": current["version"]}
        assert admin.put(f"/v1/namespaces/{name}", json=update).status_code == 200
        # The core drops its reader (and closes its connections) with the old table.
        eventually(lambda: core_connections(name) == [], "the core's connections close")
        item = kv.get(b"k")
        assert item is not None and item.value == b"v"
        assert core_connections(name) == []  # read through the plugin
    proc.stop()
