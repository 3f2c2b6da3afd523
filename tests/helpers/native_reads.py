"""Shared checks of the native read paths (ADR-003) of the redis and postgres plugins."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from prism.client import PrismClient

from helpers.server import ServerProcess


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
