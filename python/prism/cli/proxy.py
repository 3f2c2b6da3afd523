"""`prism proxy --admin URL`: a proxy alone, its namespaces from the admin (live config).

`--config FILE` takes the server settings (listen addresses, server.auth, server.audit,
server.keys; ADR-010) and data_dir from a YAML file in `prism serve`'s format; a file that
lists namespaces is refused, since they come from the admin.

Exit codes: 0 after a clean drain, 1 when it cannot start (ports, data directory),
2 for configuration errors (flags, a token the admin refuses).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from prism.cli.serve import LOG_LEVELS, fail, local_config, setup_logging
from prism.config import read_yaml
from prism.errors import ConfigError
from prism.proxy.process import end_process, run_proxy
from prism.proxy.runtime import install_signal_handlers
from prism.proxy.watcher import AdminClient

TOKEN_ENV = "PRISM_ADMIN_TOKEN"


def proxy(
    admin: Annotated[str, typer.Option(help="Admin base URL, e.g. http://127.0.0.1:8981.")],
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="YAML with server settings (listen, auth, audit, keys) and data_dir; "
            "no namespaces.",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(help=f"Admin API token (operator role: heartbeats); default ${TOKEN_ENV}."),
    ] = None,
    listen: Annotated[str | None, typer.Option(help="gRPC address HOST:PORT.")] = None,
    metrics_listen: Annotated[
        str | None, typer.Option(help="Prometheus /metrics address HOST:PORT.")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Directory for SQLite files and the last config seen."),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run a proxy that follows the admin's config and keeps serving while it is down."""
    if log_level.lower() not in LOG_LEVELS:
        fail(f"--log-level: must be one of {', '.join(LOG_LEVELS)}", 2)
    setup_logging(log_level)
    if not admin.startswith(("http://", "https://")):
        fail(f"--admin: must be an http(s) URL, got {admin!r}", 2)
    try:
        # The namespaces come from the admin; only server settings and data_dir are local.
        if config is not None:
            raw = read_yaml(config.expanduser().absolute())
            if isinstance(raw, dict) and "namespaces" in raw:
                raise ConfigError(
                    f"{config}: namespaces: `prism proxy` serves the admin's namespaces; "
                    "remove them from the file"
                )
        cfg = local_config(config, listen, metrics_listen, data_dir)
    except ConfigError as err:
        fail(f"config error: {err}", 2)
    stop = install_signal_handlers()
    client = AdminClient(admin, token or os.environ.get(TOKEN_ENV))
    end_process(run_proxy(cfg.server, cfg.data_dir, client, stop))
