"""`prism serve`: run the gateway in the foreground until SIGINT/SIGTERM.

Exit codes: 0 after a clean drain, 1 when the gateway cannot start (plugins,
ports, data directory), 2 for configuration errors.
"""

from __future__ import annotations

import errno
import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn

import typer

from prism.config import MEMORY_BACKEND, Config, load_config
from prism.errors import ConfigError

LOG_LEVELS = ("debug", "info", "warning", "error")


def serve(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML config file (default: built-in).")
    ] = None,
    listen: Annotated[str | None, typer.Option(help="gRPC address HOST:PORT.")] = None,
    metrics_listen: Annotated[
        str | None, typer.Option(help="Prometheus /metrics address HOST:PORT.")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Directory for SQLite files.")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Start the gateway; with no config: a `default` KeyValue+TimeSeries namespace on SQLite."""
    if log_level.lower() not in LOG_LEVELS:
        _fail(f"--log-level: must be one of {', '.join(LOG_LEVELS)}", 2)
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    overrides: dict[str, Any] = {}
    if listen is not None:
        overrides.setdefault("server", {})["listen"] = listen
    if metrics_listen is not None:
        overrides.setdefault("server", {})["metrics_listen"] = metrics_listen
    if data_dir is not None:
        # Flags are relative to the working directory, not to the config file.
        overrides["data_dir"] = data_dir.expanduser().absolute()
    try:
        cfg = load_config(config, overrides)
        plugins = build_plugins(cfg)
    except ConfigError as err:
        _fail(f"config error: {err}", 2)
    raise typer.Exit(run(cfg, plugins))


def build_plugins(cfg: Config) -> dict[str, Any]:
    """One plugin instance per non-memory namespace; ConfigError names the namespace field."""
    from prism.plugins.registry import load_backend

    plugins: dict[str, Any] = {}
    for i, ns in enumerate(cfg.namespaces):
        if ns.backend == MEMORY_BACKEND:
            continue
        where = f"namespaces[{i}]"
        try:
            cls = load_backend(ns.backend)
        except ConfigError as err:
            raise ConfigError(f"{where}.backend: {err}") from err
        served = set(getattr(cls, "patterns", ns.patterns))
        missing = [p for p in ns.patterns if p not in served]
        if missing:
            raise ConfigError(
                f"{where}.patterns: backend {ns.backend!r} does not serve {', '.join(missing)}"
            )
        try:
            plugins[ns.name] = cls(ns.name, ns.config)
        except (ConfigError, ValueError, TypeError) as err:
            raise ConfigError(f"{where}.config: {err}") from err
    return plugins


def claimed_capabilities(cfg: Config, plugins: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """Per plugin-backed namespace, the capabilities its backend claims for each pattern
    it serves; the core refuses calls needing others with UNIMPLEMENTED."""
    claims: dict[str, dict[str, list[str]]] = {}
    for ns in cfg.namespaces:
        plugin = plugins.get(ns.name)
        if plugin is None:
            continue  # native backends support every capability
        declared = getattr(plugin, "capabilities", {})
        claims[ns.name] = {p: sorted(declared.get(p, ())) for p in ns.patterns}
    return claims


def run(cfg: Config, plugins: dict[str, Any]) -> int:
    """Start plugins and proxy, print the endpoints, block until a signal, drain."""
    # Imported here so `prism --help` and unit tests work without the compiled core.
    try:
        from prism import _core
    except ImportError as err:
        return _error(f"the Rust core is not built ({err}); run `make install` first")
    from prism.plugins.host import PluginHost

    stop = _install_signal_handlers()
    try:
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        return _error(f"cannot create data directory {cfg.data_dir}: {err.strerror or err}")

    bridge = _core.Bridge()
    host = PluginHost(bridge, plugins)
    try:
        host.start()
    except Exception as err:  # any provisioning failure: report it, do not trace back
        return _error(f"cannot start backends: {err}")

    try:
        proxy = _core.Proxy(cfg.to_core_json(claimed_capabilities(cfg, plugins)), bridge)
        proxy.start()
    except ValueError as err:
        host.stop()
        _fail(f"config error: {err}", 2)
    except OSError as err:
        host.stop()
        return _error(_listen_error(err, cfg))

    _print_banner(cfg, proxy)
    _report_health(host, proxy)
    ticks = 0
    while not stop.wait(1.0):
        ticks += 1
        if ticks % HEALTH_INTERVAL_S == 0:
            _report_health(host, proxy)
    typer.echo("prism: draining")
    try:
        proxy.shutdown(cfg.server.shutdown_grace_s)
    finally:
        host.stop()
    typer.echo("prism: stopped")
    return 0


# How often backend health is probed and published on the gRPC health service.
HEALTH_INTERVAL_S = 5


def _report_health(host: Any, proxy: Any) -> None:
    """Feed each plugin's health check into `grpc.health.v1` as `prism.namespace.<name>`."""
    # host.health() never raises: a slow or failing check reads as not serving.
    for namespace, serving in host.health().items():
        proxy.set_namespace_health(namespace, bool(serving))


def _install_signal_handlers() -> threading.Event:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
        # A second Ctrl-C during the drain means "now": give the signals back their defaults.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stop


def _print_banner(cfg: Config, proxy: Any) -> None:
    typer.echo(f"prism: gRPC on {proxy.grpc_address} (KeyValue, TimeSeries, health, reflection)")
    typer.echo(f"prism: metrics on http://{proxy.metrics_address}/metrics")
    typer.echo(f"prism: data in {cfg.data_dir}")
    for ns in cfg.namespaces:
        where = f" ({ns.config['path']})" if "path" in ns.config else ""
        typer.echo(f"prism: namespace {ns.name}: {', '.join(ns.patterns)} on {ns.backend}{where}")


def _listen_error(err: OSError, cfg: Config) -> str:
    """Name the address that failed; the core's message may or may not mention it."""
    text = str(err)
    address = cfg.server.listen
    if cfg.server.metrics_listen in text and cfg.server.listen not in text:
        address = cfg.server.metrics_listen
    in_use = err.errno == errno.EADDRINUSE or "in use" in text.lower()
    return f"cannot listen on {address}: {'address in use' if in_use else text}"


def _error(message: str) -> int:
    typer.echo(f"prism: {message}", err=True)
    return 1


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"prism: {message}", err=True)
    raise typer.Exit(code)
