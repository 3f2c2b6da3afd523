"""Shared fixtures: one `prism serve` for the whole session, clients and raw stubs on it,
and a factory for short-lived servers (restart, SIGTERM and no-config tests).

The session server serves the namespaces of tests/helpers/server.py plus any that the
conformance claims file needs. Namespaces are shared by every test, so tests use
unique key prefixes and series ids (`helpers.unique`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tooling.stack

from helpers import claims  # noqa: E402
from helpers.rpc import Stubs  # noqa: E402
from helpers.server import ServerProcess, default_namespaces  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "capability(pattern, name): conformance test of one pattern capability; "
        "parametrized over the backends in tests/conformance/claims.yaml",
    )


def session_namespaces() -> list[dict[str, Any]]:
    base = default_namespaces()
    return base + claims.extra_namespaces({ns["name"] for ns in base})


# Backends whose server comes from the local stack (tooling/stack), by stack service.
STACK_BACKENDS = ("postgres", "redis", "nats", "kafka")


@pytest.fixture(scope="session")
def backend_stack() -> Iterator[dict[str, str]]:
    """Real servers for every selected backend of the claims file, started by the local
    stack unless PRISM_*_URL points at existing ones; their endpoints are exported to the
    environment (claims.yaml configs read them). Stops only what it started."""
    needed = [b for b in STACK_BACKENDS if claims.uses(b)]
    if not needed:
        yield {}
        return
    from tooling.stack import api

    with api.running(needed) as endpoints:
        exported = {ep.env_var: ep.url for ep in endpoints.values()}
        os.environ.update(exported)
        yield exported


@pytest.fixture(scope="session")
def server(
    tmp_path_factory: pytest.TempPathFactory, backend_stack: dict[str, str]
) -> Iterator[ServerProcess]:
    """The shared gateway for the session, over the memory, SQLite and stack backends."""
    proc = ServerProcess(tmp_path_factory.mktemp("session-server"), session_namespaces())
    try:
        proc.start()
        yield proc
        proc.stop()
    finally:
        proc.kill()


@pytest.fixture(scope="session")
def client(server: ServerProcess) -> Iterator[Any]:
    from prism.client import PrismClient

    with PrismClient(server.address, timeout=10.0) as c:
        yield c


@pytest.fixture(scope="session")
def stubs(server: ServerProcess) -> Iterator[Stubs]:
    """Raw generated stubs, for asserting exact status codes and messages."""
    s = Stubs.connect(server.address)
    yield s
    s.close()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start short-lived servers: `server_factory()` uses the standard namespaces,
    `server_factory(namespaces=None)` runs with no config. Stopped at teardown."""
    started: list[ServerProcess] = []

    def make(namespaces: list[dict[str, Any]] | None | str = "standard") -> ServerProcess:
        ns = default_namespaces() if namespaces == "standard" else namespaces
        assert not isinstance(ns, str)
        proc = ServerProcess(tmp_path / f"server{len(started)}", ns)
        started.append(proc)
        return proc.start()

    yield make
    for proc in started:
        proc.kill()
