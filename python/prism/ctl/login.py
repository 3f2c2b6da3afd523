"""`prismctl login`: check a token against the admin and store it as a profile."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from prism.ctl import config, output
from prism.ctl.errors import CtlError
from prism.ctl.http import AdminClient
from prism.ctl.state import state


def login(
    ctx: typer.Context,
    token: Annotated[
        str,
        typer.Option(
            "--token",
            prompt="Admin API token",
            hide_input=True,
            help="An API token (the bootstrap token is $PRISM_ADMIN_TOKEN of the admin).",
        ),
    ],
    admin_url: Annotated[
        str, typer.Option("--admin-url", help="Admin base URL.")
    ] = config.DEFAULT_ADMIN_URL,
    grpc: Annotated[
        str | None,
        typer.Option(
            "--grpc",
            help="Gateway gRPC address HOST:PORT for kv/ts (default: the first proxy the "
            f"admin lists, else {config.DEFAULT_GRPC}).",
        ),
    ] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", help="Profile to store (default: `default`).")
    ] = None,
) -> None:
    """Verify TOKEN against the admin, store it in ~/.prism/config.yaml and make the
    profile current."""
    st = state(ctx)
    name = profile or st.profile_name or config.DEFAULT_PROFILE
    url = admin_url.rstrip("/")
    with AdminClient(url, token) as admin:
        try:
            # Any authenticated read proves the token; viewers may list namespaces.
            admin.get("/v1/namespaces")
        except CtlError as err:
            if err.status in (401, 403):
                err.message = f"the admin at {url} refused the token: {err.message}"
            raise
        address = grpc or _first_proxy(admin) or config.DEFAULT_GRPC
    cfg = config.load()
    cfg.profiles[name] = config.Profile(name=name, admin_url=url, token=token, grpc=address)
    cfg.current = name
    path = config.save(cfg)
    output.message(
        st,
        f"logged in to {url} as profile {name!r} (gRPC {address}); saved to {path}",
        {"profile": name, "admin_url": url, "grpc": address, "config": str(path)},
    )


def _first_proxy(admin: AdminClient) -> str | None:
    """The gRPC address of a registered proxy, so kv/ts work without --grpc."""
    try:
        proxies: Any = admin.get("/v1/proxies")
    except CtlError:
        return None  # a token without the right to list proxies still logs in
    if isinstance(proxies, dict):
        proxies = proxies.get("proxies") or proxies.get("items") or []
    if not isinstance(proxies, list):
        return None
    found = [p for p in proxies if isinstance(p, dict) and isinstance(p.get("address"), str)]
    # A live proxy first: a stale registration may point at a port nobody serves any more.
    found.sort(key=lambda p: p.get("healthy") is not True)
    return str(found[0]["address"]) if found else None
