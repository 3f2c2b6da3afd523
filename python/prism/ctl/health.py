"""`prismctl health`: the admin's /healthz plus every registered proxy's gRPC health."""

from __future__ import annotations

from typing import Any

import typer

from prism.ctl import grpchealth, output
from prism.ctl.backend import listing
from prism.ctl.errors import CtlError
from prism.ctl.http import AdminClient
from prism.ctl.state import state


def health(ctx: typer.Context) -> None:
    """Admin and proxy health; exit 1 when any of them is not healthy."""
    st = state(ctx)
    profile = st.profile()
    checks: list[dict[str, Any]] = []
    with AdminClient.for_profile(profile) as admin:
        try:
            admin.get("/healthz")
            checks.append({"component": "admin", "address": admin.admin_url, "status": "ok"})
        except CtlError as err:
            checks.append({"component": "admin", "address": admin.admin_url, "status": err.message})
            proxies: list[dict[str, Any]] = []
        else:
            proxies = listing(admin.get("/v1/proxies"), "proxies")
    addresses = [str(p["address"]) for p in proxies if p.get("address")]
    if profile.grpc not in addresses:
        addresses.append(profile.grpc)  # the gateway this profile's kv/ts commands use
    for address in addresses:
        checks.append(
            {"component": "proxy", "address": address, "status": grpchealth.check(address)}
        )
    output.rows(st, checks, ("component", "address", "status"))
    bad = [c for c in checks if c["status"] not in ("ok", "SERVING")]
    if bad:
        names = ", ".join(f"{c['component']} {c['address']}" for c in bad)
        raise CtlError(f"not healthy: {names}")
