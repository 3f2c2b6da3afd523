"""The pieces of a proxy process, shared by `prism serve` and `prism proxy`: the bridge,
the plugin host, the Rust core Proxy and backend health reporting.

The namespace set is not fixed at start: `apply` swaps in a new list while serving (live
config). New plugins are started before the core routes to them and old ones are closed
after it stopped routing to them, so no request reaches a namespace without a plugin.
"""

from __future__ import annotations

import errno
import json
import logging
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict
from types import FrameType
from typing import Any

import typer

from prism.audit.background import start_for as start_audit_shipper
from prism.config import NamespaceConfig, ServerConfig
from prism.errors import ConfigError, PrismError
from prism.proxy.namespaces import build_plugin, core_namespaces_json, needs_new_plugin

log = logging.getLogger(__name__)

# How often backend health is probed and published on the gRPC health service.
HEALTH_INTERVAL_S = 5


class StartError(Exception):
    """The proxy cannot start; `code` is the process exit code (1 runtime, 2 config)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class ProxyRuntime:
    """One process's data plane; `apply` may be called from any thread."""

    def __init__(self, server: ServerConfig) -> None:
        self.server = server
        self._namespaces: dict[str, NamespaceConfig] = {}
        self._plugins: dict[str, Any] = {}  # mirror of what the plugin host serves
        self._lock = threading.Lock()  # one apply at a time
        self._bridge: Any = None
        self._host: Any = None
        self._proxy: Any = None
        self._shipper: Any = None  # the Kafka copy of the audit log (server.audit.kafka)

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, namespaces: Sequence[NamespaceConfig]) -> list[str]:
        """Bind the listeners and serve `namespaces`; returns the namespaces that could not
        be served (each message names one), raises StartError when nothing can run."""
        # Imported here so `prism --help` and unit tests work without the compiled core.
        try:
            from prism import _core
        except ImportError as err:
            raise StartError(
                f"the Rust core is not built ({err}); run `make install` first"
            ) from err
        from prism.plugins.host import PluginHost

        self._bridge = _core.Bridge()
        self._host = PluginHost(self._bridge, {})
        self._host.start()

        def launch(namespaces_json: str) -> None:
            # The core starts with the full table: it answers SERVING only once every
            # namespace is routable (callers wait for SERVING, then use a namespace).
            config = {"server": asdict(self.server), "namespaces": json.loads(namespaces_json)}
            self._proxy = _core.Proxy(json.dumps(config), self._bridge)
            self._proxy.start()
            self._shipper = start_audit_shipper(self.server.audit)

        try:
            with self._lock:
                return self._apply(list(namespaces), publish=launch)
        except ValueError as err:
            self._host.stop()
            raise StartError(f"config error: {err}", 2) from err
        except OSError as err:
            self._host.stop()
            raise StartError(_listen_error(err, self.server)) from err

    def shutdown(self) -> None:
        """Drain in-flight requests (up to the grace), then close the plugins."""
        # Let an apply in progress finish rather than pull the host from under it.
        locked = self._lock.acquire(timeout=self.server.shutdown_grace_s)
        try:
            if self._proxy is not None:
                self._proxy.shutdown(self.server.shutdown_grace_s)
        finally:
            if self._host is not None:
                self._host.stop()
            # Only now: the core has closed its audit file, so its last lines are in it.
            if self._shipper is not None:
                self._shipper.stop()
            if locked:
                self._lock.release()

    @property
    def grpc_address(self) -> str:
        return str(self._proxy.grpc_address)

    @property
    def metrics_address(self) -> str:
        return str(self._proxy.metrics_address)

    @property
    def namespaces(self) -> list[NamespaceConfig]:
        return list(self._namespaces.values())

    # -- live config --------------------------------------------------------------------

    def apply(self, namespaces: Sequence[NamespaceConfig]) -> list[str]:
        """Serve exactly `namespaces`. A namespace whose plugin cannot be built or started
        keeps its previous config if it had one and is left out otherwise; the returned
        messages name each such namespace (apply the same list again to retry them)."""
        with self._lock:
            return self._apply(list(namespaces))

    def _apply(
        self, wanted: list[NamespaceConfig], publish: Callable[[str], None] | None = None
    ) -> list[str]:
        """`publish` hands the core its namespace list: update_namespaces on a running
        core; at start, the core's construction (its errors then propagate)."""
        old = self._namespaces
        errors: list[str] = []
        target: dict[str, NamespaceConfig] = {}
        fresh: dict[str, Any] = {}
        for ns in wanted:
            if needs_new_plugin(old.get(ns.name), ns):
                try:
                    fresh[ns.name] = build_plugin(ns)
                except ConfigError as err:
                    errors.append(f"namespace '{ns.name}': {err}")
                    if ns.name in old:
                        target[ns.name] = old[ns.name]
                    continue
            target[ns.name] = ns
        for name, failure in self._start_plugins(fresh).items():
            errors.append(failure)
            del fresh[name]
            if name in old:
                target[name] = old[name]
            else:
                del target[name]
        before = dict(self._plugins)
        self._plugins.update(fresh)
        plugins = {name: p for name, p in self._plugins.items() if name in target}
        namespaces_json = core_namespaces_json(target.values(), plugins)
        if publish is not None:
            publish(namespaces_json)
            self._namespaces = target
            return errors
        try:
            self._proxy.update_namespaces(namespaces_json)
        except ValueError as err:
            # Not expected (specs are validated with the core's rules): keep the old table
            # and drop the plugins only the new one needed.
            added = [name for name in fresh if name not in before]
            self._host.remove_plugins(added)
            self._plugins = {n: p for n, p in self._plugins.items() if n not in added}
            return [*errors, f"the core refused the namespaces: {err}"]
        # Only now, with the core no longer routing to them, stop the plugins of removed
        # namespaces and of namespaces that moved to a native backend.
        unplugged = [name for name in self._plugins if name not in plugins]
        if unplugged:
            self._host.remove_plugins(unplugged)
            for name in unplugged:
                del self._plugins[name]
        for name in old.keys() - target.keys():
            self._proxy.set_namespace_health(name, False)
        self._namespaces = target
        return errors

    def _start_plugins(self, fresh: dict[str, Any]) -> dict[str, str]:
        """Start `fresh` on the host; the failures by namespace. All together first (the
        common case: all start), one by one only to find out which failed."""
        if not fresh:
            return {}
        try:
            self._host.add_plugins(fresh)
            return {}
        except Exception:
            pass
        failures: dict[str, str] = {}
        for name, plugin in fresh.items():
            try:
                self._host.add_plugins({name: plugin})
            except Exception as err:
                text = err.message if isinstance(err, PrismError) else str(err)
                failures[name] = f"cannot start the backend of namespace '{name}': {text}"
        return failures

    # -- health -------------------------------------------------------------------------

    def report_health(self) -> None:
        """Feed each plugin's health check into `grpc.health.v1` as `prism.namespace.<name>`."""
        # host.health() never raises: a slow or failing check reads as not serving.
        for namespace, serving in self._host.health().items():
            # Not under the apply lock (a backend start may take seconds); a namespace
            # removed meanwhile is skipped so it stays NOT_SERVING.
            if namespace in self._namespaces:
                self._proxy.set_namespace_health(namespace, bool(serving))


def serve_until_signal(
    runtime: ProxyRuntime,
    stop: threading.Event,
    before_drain: Callable[[], None] | None = None,
) -> int:
    """Report health every few seconds until `stop`, then drain; the exit code."""
    runtime.report_health()
    ticks = 0
    while not stop.wait(1.0):
        ticks += 1
        if ticks % HEALTH_INTERVAL_S == 0:
            runtime.report_health()
    if before_drain is not None:
        before_drain()
    typer.echo("prism: draining")
    runtime.shutdown()
    typer.echo("prism: stopped")
    return 0


def install_signal_handlers() -> threading.Event:
    """SIGINT/SIGTERM set the returned event; a second one during the drain means "now"."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stop


def print_endpoints(runtime: ProxyRuntime, data_dir: Any) -> None:
    typer.echo(f"prism: gRPC on {runtime.grpc_address} (KeyValue, TimeSeries, health, reflection)")
    typer.echo(f"prism: metrics on http://{runtime.metrics_address}/metrics")
    typer.echo(f"prism: data in {data_dir}")
    for ns in runtime.namespaces:
        typer.echo(f"prism: namespace {describe(ns)}")


def describe(ns: NamespaceConfig) -> str:
    where = f" ({ns.config['path']})" if "path" in ns.config else ""
    return f"{ns.name}: {', '.join(ns.patterns)} on {ns.backend}{where}"


def _listen_error(err: OSError, server: ServerConfig) -> str:
    """Name the address that failed; the core's message may or may not mention it."""
    text = str(err)
    address = server.listen
    if server.metrics_listen in text and server.listen not in text:
        address = server.metrics_listen
    in_use = err.errno == errno.EADDRINUSE or "in use" in text.lower()
    return f"cannot listen on {address}: {'address in use' if in_use else text}"
