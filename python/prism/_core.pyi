"""Typed stub of the private Rust extension module built from proxy/binding.

The bridge wire format (what `Bridge.drain` yields and `Bridge.complete` takes)
is documented in docs-cms/adr/ADR-003-plugin-bridge.md and python/prism/plugins/api.py.
"""

from typing import Any

class Bridge:
    """Queue between the Rust core and the Python plugin host.

    Rust enqueues requests and writes one byte to `fileno()` when the queue
    turns non-empty; the host reads the byte, then drains a whole batch with a
    single crossing and answers with a single `complete` call.
    """

    def __init__(self) -> None: ...
    def fileno(self) -> int:
        """Readable file descriptor: readable while requests may be queued."""
    def drain(self, max_items: int = 4096) -> list[tuple[int, str, str, Any]]:
        """Take queued requests as (request_id, namespace, op, args)."""
    def complete(self, results: list[tuple[int, bool, Any]]) -> None:
        """Answer requests: (request_id, True, value) or (request_id, False, (code, message))."""
    def close(self) -> None:
        """Fail queued and future requests with UNAVAILABLE and wake the host."""
    def pending(self) -> int:
        """Requests taken by drain and not yet completed."""

class Proxy:
    """The gRPC data plane: tonic server, tower layers, metrics endpoint."""

    def __init__(self, config_json: str, bridge: Bridge) -> None:
        """Validate the config (raises ValueError naming the bad field)."""
    def start(self) -> None:
        """Bind the listeners (OSError if a port is taken) and serve in the background."""
    @property
    def grpc_address(self) -> str: ...
    @property
    def metrics_address(self) -> str: ...
    def update_namespaces(self, namespaces_json: str) -> None:
        """Replace the namespace table atomically; in-flight requests keep their snapshot."""
    def set_namespace_health(self, namespace: str, serving: bool) -> None:
        """Publish a namespace's backend health as gRPC health service `prism.namespace.<name>`."""
    def shutdown(self, grace_seconds: float = 10.0) -> None:
        """Stop accepting, let in-flight requests finish (up to the grace), then stop."""

def bridge_microbench(bridge: Bridge, requests: int, concurrency: int = 1) -> float:
    """Send `requests` noop calls through `bridge` from tokio tasks, `concurrency` in
    flight; a PluginHost must be draining the bridge. Returns nanoseconds per request."""

def attach_microbench(function: Any, requests: int, concurrency: int = 1) -> float:
    """Each of `requests` calls attaches a tokio worker thread to Python and calls
    `function()`; `concurrency` in flight. Returns nanoseconds per request."""
