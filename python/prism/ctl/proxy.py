"""`prismctl proxy list` over /v1/proxies (RFC-001)."""

from __future__ import annotations

import typer

from prism.ctl import output
from prism.ctl.backend import listing
from prism.ctl.http import AdminClient
from prism.ctl.state import state

app = typer.Typer(help="Proxies registered with the admin.", no_args_is_help=True)

COLUMNS = ("id", "address", "metrics_address", "config_version", "lag", "last_seen", "healthy")


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """Registered proxies: address, config version they run, last heartbeat, health."""
    st = state(ctx)
    with AdminClient.for_profile(st.profile()) as admin:
        items = listing(admin.get("/v1/proxies"), "proxies")
    output.rows(st, items, COLUMNS)
