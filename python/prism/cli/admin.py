"""`prism admin`: run the admin service alone, in the foreground, until SIGINT/SIGTERM.

Exit codes: 0 after a clean stop, 1 when it cannot start (port, database), 2 for bad flags.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer


def admin(
    listen: Annotated[
        str | None, typer.Option(help="HOST:PORT to listen on (default 127.0.0.1:8981).")
    ] = None,
    db_url: Annotated[
        str | None,
        typer.Option(help="SQLAlchemy URL of the store (default sqlite:///<data-dir>/admin.db)."),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Directory for the store and SQLite namespaces.")
    ] = None,
) -> None:
    """Run the admin API (namespaces, live config, tokens) without a proxy."""
    from prism.admin.server import AdminServer
    from prism.admin.settings import AdminSettings

    try:
        settings = AdminSettings.from_env(listen=listen, db_url=db_url, data_dir=data_dir)
    except ValueError as err:
        typer.echo(f"prism: --listen: {err}", err=True)
        raise typer.Exit(2) from err
    server = AdminServer(settings)
    try:
        server.start()
    except Exception as err:  # port taken, database unreachable, migration failure
        typer.echo(f"prism: cannot start the admin: {err}", err=True)
        raise typer.Exit(1) from err
    typer.echo(f"prism: admin on {server.url} (OpenAPI at {server.url}/docs)")
    typer.echo(f"prism: store {_redact(settings.database_url)}")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not stop.wait(1.0):
        pass
    server.stop()
    typer.echo("prism: admin stopped")


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
