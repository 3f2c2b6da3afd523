"""The proxy half of `prism serve` and all of `prism proxy`.

`run_proxy`: config first (from the admin, else last-config.json), then the listeners
with those namespaces, then the endpoints banner, then `follow`. `follow` watches the
admin and serves until SIGINT/SIGTERM; the watcher stops before the drain so no config
change races the shutdown.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import typer

from prism.config import NamespaceConfig, ServerConfig
from prism.proxy.runtime import ProxyRuntime, StartError, print_endpoints, serve_until_signal
from prism.proxy.watcher import (
    AdminClient,
    AdminRefused,
    ConfigWatcher,
    initial_config,
    parse_namespaces,
)


def run_proxy(
    server: ServerConfig, data_dir: Path, client: AdminClient, stop: threading.Event
) -> int:
    """Serve until `stop` is set; the exit code (0 after a clean drain)."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        return error(f"cannot create data directory {data_dir}: {err.strerror or err}")
    try:
        snapshot, source = initial_config(client, data_dir)
    except AdminRefused as err:
        return error(f"the admin at {client.url} refused: {err}", 2)
    namespaces, errors = parse_namespaces(snapshot, data_dir, {})
    started = start_runtime(server, data_dir, namespaces)
    if isinstance(started, int):
        return started
    runtime, start_errors = started
    report(errors + start_errors)
    typer.echo(f"prism: config version {snapshot.get('version', 0)} from {source}")
    return follow(runtime, client, data_dir, snapshot, bool(errors + start_errors), stop)


def start_runtime(
    server: ServerConfig, data_dir: Path, namespaces: list[NamespaceConfig]
) -> tuple[ProxyRuntime, list[str]] | int:
    """A serving runtime and its per-namespace errors, or the exit code; prints the
    endpoints banner."""
    runtime = ProxyRuntime(server)
    try:
        errors = runtime.start(namespaces)
    except StartError as err:
        return error(str(err), err.code)
    print_endpoints(runtime, data_dir)
    return runtime, errors


def follow(
    runtime: ProxyRuntime,
    client: AdminClient,
    data_dir: Path,
    snapshot: Mapping[str, Any],
    retry: bool,
    stop: threading.Event,
) -> int:
    """Keep `runtime` (serving `snapshot`) on the admin's config until `stop`; drain."""
    watcher = ConfigWatcher(
        client,
        runtime,
        data_dir,
        version=int(snapshot.get("version", 0)),
        snapshot=snapshot,
        retry=retry,
    )
    watcher.start()
    try:
        return serve_until_signal(runtime, stop, before_drain=watcher.stop)
    finally:
        watcher.stop()


def report(errors: list[str]) -> None:
    for message in errors:
        typer.echo(f"prism: {message}", err=True)


def end_process(code: int) -> NoReturn:
    """Exit with `code` once `prism serve` / `prism proxy` has stopped what it runs.

    Without interpreter shutdown when other threads are still alive (the admin starting
    or serving, a long poll, library threads): Python's shutdown ends such a thread where
    it stands, and one standing inside a native extension's frame (pydantic-core,
    cryptography and the Rust core are PyO3) crashes the process (SIGABRT "FATAL:
    exception not rethrown" or SIGSEGV) after a clean drain. Everything that holds data
    is stopped by now and writes with os.write or commits per transaction; logs and
    stdio are flushed here.
    """
    if threading.active_count() > 1:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise typer.Exit(code)


def error(message: str, code: int = 1) -> int:
    typer.echo(f"prism: {message}", err=True)
    return code
