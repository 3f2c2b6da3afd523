"""Wait until every live proxy runs the admin's current config version.

Proxies pick up a change within about a second and report it by heartbeat at once, so
`apply` and `delete` wait by default: the next `prismctl kv ...` then finds the namespace
instead of racing the rollout.
"""

from __future__ import annotations

import time
from typing import Any

from prism.ctl.backend import listing
from prism.ctl.errors import CtlError
from prism.ctl.http import AdminClient

POLL_S = 0.1


def wait_for_proxies(admin: AdminClient, timeout: float) -> int:
    """The version now live on every healthy proxy; CtlError naming the laggards."""
    health: Any = admin.get("/healthz")
    target = int(health.get("config_version", 0)) if isinstance(health, dict) else 0
    deadline = time.monotonic() + timeout
    while True:
        behind = [
            p
            for p in listing(admin.get("/v1/proxies"), "proxies")
            # A proxy that stopped heartbeating is reported unhealthy: do not wait for it.
            if p.get("healthy", True) and int(p.get("config_version", 0)) < target
        ]
        if not behind:
            return target
        if time.monotonic() >= deadline:
            names = ", ".join(
                f"{p.get('id')} ({p.get('address')}) at version {p.get('config_version')}"
                for p in behind
            )
            raise CtlError(
                f"applied as config version {target}, but after {timeout:g}s these proxies "
                f"still run an older one: {names}"
            )
        time.sleep(POLL_S)
