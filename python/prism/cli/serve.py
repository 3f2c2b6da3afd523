"""`prism serve`: the admin and a proxy in one process (the embedded default).

The admin listens on --admin-listen with its SQLite store in the data directory; the
proxy follows it in-process exactly as a separate `prism proxy` would (long poll over
HTTP). With --config, the file's namespaces are applied to the admin at start (create or
update); with neither a file nor any stored namespace, a `default` KeyValue+TimeSeries
namespace on SQLite is created.

Exit codes: 0 after a clean drain, 1 when it cannot start (plugins, ports, data
directory), 2 for configuration errors.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, fields, is_dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from prism.config import Config, NamespaceConfig, load_config
from prism.errors import ConfigError

# Re-exported: they used to live here and tests import them from here.
from prism.proxy.namespaces import build_plugins, claimed_capabilities

__all__ = [
    "LOG_LEVELS",
    "build_plugins",
    "claimed_capabilities",
    "fail",
    "local_config",
    "serve",
    "setup_logging",
]

LOG_LEVELS = ("debug", "info", "warning", "error")
DEFAULT_ADMIN_LISTEN = "127.0.0.1:8981"
#: The embedded default namespace, created when the store has none.
DEFAULT_NAMESPACE = {"name": "default", "patterns": ["keyvalue", "timeseries"], "backend": "sqlite"}


def serve(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="YAML config; its namespaces are applied at start."),
    ] = None,
    listen: Annotated[str | None, typer.Option(help="gRPC address HOST:PORT.")] = None,
    metrics_listen: Annotated[
        str | None, typer.Option(help="Prometheus /metrics address HOST:PORT.")
    ] = None,
    admin_listen: Annotated[
        str, typer.Option(help="Admin API and web UI address HOST:PORT.")
    ] = DEFAULT_ADMIN_LISTEN,
    data_dir: Annotated[
        Path | None, typer.Option(help="Directory for SQLite files and the admin store.")
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Start the admin and a gateway; with no config: a `default` namespace on SQLite."""
    if log_level.lower() not in LOG_LEVELS:
        fail(f"--log-level: must be one of {', '.join(LOG_LEVELS)}", 2)
    setup_logging(log_level)
    try:
        cfg = local_config(config, listen, metrics_listen, data_dir)
        # Check the file here, with its own field paths, before the admin sees it.
        build_plugins(cfg)
    except ConfigError as err:
        fail(f"config error: {err}", 2)
    from prism.cli.embedded import run_embedded
    from prism.proxy.process import end_process

    specs = [namespace_spec(ns) for ns in cfg.namespaces] if config is not None else None
    end_process(run_embedded(cfg, admin_listen, specs))


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(levelname)s %(name)s: %(message)s")
    # Per-request and per-migration INFO lines (heartbeats every few seconds) are noise.
    for chatty in ("httpx", "httpcore", "alembic"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLogger().level))


def local_config(
    config: Path | None, listen: str | None, metrics_listen: str | None, data_dir: Path | None
) -> Config:
    """The file (or the built-in default) with the command-line flags over it."""
    overrides: dict[str, Any] = {}
    if listen is not None:
        overrides.setdefault("server", {})["listen"] = listen
    if metrics_listen is not None:
        overrides.setdefault("server", {})["metrics_listen"] = metrics_listen
    if data_dir is not None:
        # Flags are relative to the working directory, not to the config file.
        overrides["data_dir"] = data_dir.expanduser().absolute()
    return load_config(config, overrides)


def namespace_spec(ns: NamespaceConfig) -> dict[str, Any]:
    """A file namespace as an admin spec (RFC-001): paths already resolved by load_config,
    every settings block of the namespace (limits, cache, access, rate_limit) as a mapping,
    and audit_required. A file has no schema (bound through the admin only)."""
    spec: dict[str, Any] = {
        "name": ns.name,
        "patterns": list(ns.patterns),
        "backend": ns.backend,
        "config": dict(ns.config),
    }
    for f in fields(ns):
        value = getattr(ns, f.name)
        if is_dataclass(value) and not isinstance(value, type):
            spec[f.name] = asdict(value)
    spec["audit_required"] = ns.audit_required
    return spec


def token_from_env() -> str | None:
    return os.environ.get("PRISM_ADMIN_TOKEN") or None


def fail(message: str, code: int) -> NoReturn:
    typer.echo(f"prism: {message}", err=True)
    raise typer.Exit(code)
