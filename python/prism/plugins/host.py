"""The plugin host: one dedicated Python thread serving every bridged namespace.

Why one thread with one asyncio loop: the thread keeps its Python thread state alive, so
a Rust-to-Python crossing costs well under a microsecond (ADR-003), and the loop lets slow
backends overlap. The Rust core queues requests and writes to `bridge.fileno()` when the
queue turns non-empty; the host then takes the whole queue in ONE `drain()` call, groups
requests by (namespace, op) so a backend sees one batch call per group (e.g. many puts ->
one `put_many` -> one SQLite commit), and answers each group with ONE `complete()` call.

Reads of one namespace are coalesced ("smart batching", ADR-003): at most
`max_read_batches` `get_many` calls of a namespace are in flight; gets that arrive
meanwhile wait and leave together, as one batch, when one of those returns. A lone get
leaves at once, so an idle proxy adds no latency, while under load the batches grow with
the load instead of each drain of one or two requests paying a full driver round trip
(and a pooled connection) of its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from prism.errors import Internal, PrismError
from prism.plugins.api import OP_METHODS, BackendPlugin, Completion, Request

log = logging.getLogger(__name__)

# Ops whose requests are merged into one batch call (one batch per request).
_BATCHED_OPS = frozenset({"kv.put", "kv.delete", "ts.append"})


class BridgeLike(Protocol):
    """The part of `prism._core.Bridge` the host uses."""

    def fileno(self) -> int: ...
    def drain(self, max_items: int = ...) -> list[tuple[int, str, str, Any]]: ...
    def complete(self, results: list[tuple[int, bool, Any]]) -> None: ...


def _raise_start_failure(ns: str, result: object) -> None:
    """Re-raise a plugin's start() failure with its namespace in the message."""
    if isinstance(result, PrismError):
        raise type(result)(f"namespace '{ns}': {result.message}") from result
    if isinstance(result, BaseException):
        raise Internal(
            f"namespace '{ns}': plugin failed to start: {type(result).__name__}: {result}"
        ) from result


async def _close_all(plugins: Mapping[str, BackendPlugin]) -> None:
    for ns, plugin in plugins.items():
        try:
            await plugin.close()
        except Exception as exc:  # keep closing the others
            log.error("closing the plugin of namespace %r failed: %s", ns, type(exc).__name__)


def _failure(exc: BaseException) -> tuple[str, str]:
    """Map an exception to the bridge's (code, message) failure value."""
    if isinstance(exc, PrismError):
        return (exc.code, exc.message)
    return ("internal", f"{type(exc).__name__}: {exc}")


class PluginHost:
    """Serve bridge requests for `plugins` (namespace -> plugin instance, started by start())."""

    def __init__(
        self,
        bridge: BridgeLike,
        plugins: Mapping[str, BackendPlugin],
        *,
        switch_interval: float | None = None,
        max_drain: int = 4096,
        max_read_batches: int = 2,
        thread_name: str = "prism-plugin-host",
    ) -> None:
        """`switch_interval`: if set, passed to sys.setswitchinterval (process-wide) on
        start, bounding how long another busy Python thread can delay this one (the
        default interval is 5 ms); None leaves it unchanged. `max_read_batches`: most
        `get_many` calls in flight per namespace (>= 1); later gets join the next batch."""
        if max_read_batches < 1:
            raise ValueError(f"max_read_batches must be >= 1, got {max_read_batches}")
        self._bridge = bridge
        self._plugins = dict(plugins)
        self._switch_interval = switch_interval
        self._max_drain = max_drain
        self._max_read_batches = max_read_batches
        # Per namespace: get_many calls in flight, and the gets waiting for the next one.
        self._reads_in_flight: dict[str, int] = {}
        self._reads_waiting: dict[str, list[tuple[int, Any]]] = {}
        self._thread_name = thread_name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._fd: int | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()

    # -- lifecycle (called from any thread) -------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        """Start the loop thread, start every plugin, then listen to the bridge.

        Raises the first plugin failure (its message names the namespace); the host is
        stopped again in that case.
        """
        with self._lock:
            if self._loop is not None:
                return
            if self._switch_interval is not None:
                sys.setswitchinterval(self._switch_interval)
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=self._run_loop, args=(loop,), name=self._thread_name, daemon=True
            )
            thread.start()
            self._loop, self._thread = loop, thread
        try:
            asyncio.run_coroutine_threadsafe(self._start_plugins(), loop).result(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 30.0) -> None:
        """Stop listening, finish in-flight groups, close plugins, end the thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout)
        except Exception:
            log.exception("plugin host shutdown did not finish cleanly")
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if not thread.is_alive():
            loop.close()

    def add_plugins(self, plugins: Mapping[str, BackendPlugin], timeout: float = 60.0) -> None:
        """Start `plugins` on the running host and serve their namespaces (live config).

        All or nothing: if one fails to start, the ones that did are closed again and the
        failure is raised, its message naming the namespace. A plugin already serving one
        of these namespaces is replaced, then closed once its in-flight requests finished.
        """
        loop = self._running()
        asyncio.run_coroutine_threadsafe(self._add(dict(plugins)), loop).result(timeout)

    def remove_plugins(self, names: Sequence[str], timeout: float = 60.0) -> None:
        """Stop serving `names` (unknown names are ignored) and close their plugins once
        their in-flight requests finished; later requests get NOT_FOUND."""
        loop = self._running()
        asyncio.run_coroutine_threadsafe(self._remove(list(names)), loop).result(timeout)

    def health(self, timeout: float = 5.0) -> dict[str, bool]:
        """Health of every plugin by namespace; False when unknown or too slow."""
        loop = self._loop
        if loop is None:
            return {ns: False for ns in self._plugins}
        future = asyncio.run_coroutine_threadsafe(self._health(timeout), loop)
        try:
            return future.result(timeout + 1.0)
        except Exception:
            return {ns: False for ns in self._plugins}

    # -- loop thread -------------------------------------------------------------------

    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        loop.run_forever()

    async def _start_plugins(self) -> None:
        names = list(self._plugins)
        results = await asyncio.gather(
            *(self._plugins[ns].start() for ns in names), return_exceptions=True
        )
        for ns, result in zip(names, results, strict=True):
            _raise_start_failure(ns, result)
        self._fd = self._bridge.fileno()
        # The contract says non-blocking; make sure, since _clear_wakeup reads until EAGAIN.
        os.set_blocking(self._fd, False)
        asyncio.get_running_loop().add_reader(self._fd, self._on_ready)

    async def _shutdown(self) -> None:
        loop = asyncio.get_running_loop()
        if self._fd is not None:
            loop.remove_reader(self._fd)
            self._fd = None
        # A finishing read batch may start the next one: wait until none is left.
        deadline = loop.time() + 10.0
        while self._tasks and loop.time() < deadline:
            await asyncio.wait(set(self._tasks), timeout=deadline - loop.time())
        await _close_all(self._plugins)

    def _running(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None:
            raise RuntimeError("the plugin host is not running")
        return loop

    async def _add(self, plugins: dict[str, BackendPlugin]) -> None:
        names = list(plugins)
        results = await asyncio.gather(
            *(plugins[ns].start() for ns in names), return_exceptions=True
        )
        try:
            for ns, result in zip(names, results, strict=True):
                _raise_start_failure(ns, result)
        except BaseException:
            started = zip(names, results, strict=True)
            await _close_all({ns: plugins[ns] for ns, r in started if r is None})
            raise
        replaced = {ns: self._plugins[ns] for ns in names if ns in self._plugins}
        # Swapped on the loop thread, between two drains: no request sees a half update.
        self._plugins.update(plugins)
        await self._close_when_idle(replaced)

    async def _remove(self, names: list[str]) -> None:
        removed = {ns: self._plugins.pop(ns) for ns in names if ns in self._plugins}
        await self._close_when_idle(removed)

    async def _close_when_idle(self, plugins: dict[str, BackendPlugin]) -> None:
        """Close detached plugins after the groups already dispatched to them are done;
        later groups can no longer reach them, so waiting for this snapshot is bounded."""
        if not plugins:
            return
        in_flight = set(self._tasks)
        if in_flight:
            await asyncio.wait(in_flight, timeout=10.0)
        await _close_all(plugins)

    async def _health(self, timeout: float) -> dict[str, bool]:
        async def one(plugin: BackendPlugin) -> bool:
            try:
                return bool(await asyncio.wait_for(plugin.health(), timeout))
            except Exception:
                return False

        names = list(self._plugins)
        results = await asyncio.gather(*(one(self._plugins[ns]) for ns in names))
        return dict(zip(names, results, strict=True))

    def _on_ready(self) -> None:
        """Reader callback: clear the wake-up bytes, drain once, dispatch the groups."""
        if self._fd is None:  # stopped (or bridge gone) after this callback was queued
            return
        try:
            self._clear_wakeup()
            requests = self._bridge.drain(self._max_drain)
        except Exception:
            log.exception("draining the bridge failed")
            return
        if len(requests) >= self._max_drain:
            # The queue may still hold requests and Rust only signals an empty->non-empty
            # transition, so come back without waiting for a new byte.
            asyncio.get_running_loop().call_soon(self._on_ready)
        try:
            self._dispatch(requests)
        except Exception:  # never let a bug kill the loop; fail the whole drain instead
            log.exception("dispatching %d bridge requests failed", len(requests))
            self._complete(
                [(r[0], False, ("internal", "plugin host dispatch failed")) for r in requests]
            )

    def _clear_wakeup(self) -> None:
        fd = self._fd
        if fd is None:
            return
        while True:
            try:
                data = os.read(fd, 4096)
            except BlockingIOError:
                return
            except InterruptedError:
                continue
            if not data:  # write end closed: the bridge is gone, stop watching
                asyncio.get_running_loop().remove_reader(fd)
                self._fd = None
                return
            if len(data) < 4096:  # a short read emptied the socket: skip the EAGAIN read
                return

    def _dispatch(self, requests: Sequence[Request]) -> None:
        immediate: list[Completion] = []
        groups: dict[tuple[str, str], list[tuple[int, Any]]] = defaultdict(list)
        for request_id, namespace, op, args in requests:
            if op == "noop":
                immediate.append((request_id, True, None))
                continue
            plugin = self._plugins.get(namespace)
            if plugin is None:
                msg = f"namespace '{namespace}' has no plugin on this proxy"
                immediate.append((request_id, False, ("not_found", msg)))
                continue
            method = OP_METHODS.get(op)
            if method is None or not callable(getattr(plugin, method, None)):
                msg = f"backend '{getattr(plugin, 'name', '?')}' does not implement {op}"
                immediate.append((request_id, False, ("unimplemented", msg)))
                continue
            if op == "kv.get" or op in _BATCHED_OPS:
                groups[(namespace, op)].append((request_id, args))
            else:  # scan / query / aggregate: one independent task each
                self._spawn(self._run_single(plugin, method, request_id, args))
        if immediate:
            self._complete(immediate)
        for (namespace, op), members in groups.items():
            if op == "kv.get":
                self._read(namespace, members)
            else:
                self._spawn(self._run_batched(self._plugins[namespace], OP_METHODS[op], members))

    def _read(self, namespace: str, members: list[tuple[int, Any]]) -> None:
        """Start a get_many for `members`, or park them for the namespace's next batch."""
        in_flight = self._reads_in_flight.get(namespace, 0)
        if in_flight >= self._max_read_batches:
            self._reads_waiting.setdefault(namespace, []).extend(members)
            return
        self._reads_in_flight[namespace] = in_flight + 1
        task = asyncio.get_running_loop().create_task(self._read_batch(namespace, members))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read_batch(self, namespace: str, members: list[tuple[int, Any]]) -> None:
        try:
            plugin = self._plugins.get(namespace)
            if plugin is None:  # removed (live config) while these gets were parked
                msg = f"namespace '{namespace}' has no plugin on this proxy"
                self._complete([(rid, False, ("not_found", msg)) for rid, _ in members])
            else:
                self._complete(await self._run_get(plugin, members))
        finally:
            in_flight = self._reads_in_flight[namespace] - 1
            if in_flight:
                self._reads_in_flight[namespace] = in_flight
            else:
                del self._reads_in_flight[namespace]
            waiting = self._reads_waiting.pop(namespace, None)
        # Not in `finally`: a cancelled batch (shutdown) starts nothing new; the bridge's
        # close() fails whatever is left.
        if waiting:
            self._read(namespace, waiting)

    def _spawn(self, coro: Awaitable[list[Completion]]) -> None:
        async def run() -> None:
            self._complete(await coro)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _complete(self, results: list[Completion]) -> None:
        try:
            self._bridge.complete(results)
        except Exception:
            log.exception("bridge.complete failed for %d results", len(results))

    # -- group runners: every exception becomes a failure answer ------------------------

    async def _guard(
        self,
        plugin: BackendPlugin,
        op: str,
        ids: Sequence[int],
        call: Callable[[], Awaitable[list[Completion]]],
    ) -> list[Completion]:
        try:
            return await call()
        except Exception as exc:
            if not isinstance(exc, PrismError):
                # Only the type: messages and tracebacks may carry keys or values (PII).
                log.error(
                    "namespace %r %s failed with %s",
                    plugin.namespace,
                    op,
                    type(exc).__name__,
                )
            failure = _failure(exc)
            return [(rid, False, failure) for rid in ids]

    async def _run_get(
        self, plugin: BackendPlugin, members: list[tuple[int, Any]]
    ) -> list[Completion]:
        async def call() -> list[Completion]:
            keys = [key for _, args in members for key in args]
            items = await plugin.get_many(keys)  # type: ignore[attr-defined]
            if len(items) != len(keys):
                raise Internal(f"get_many returned {len(items)} items for {len(keys)} keys")
            out: list[Completion] = []
            pos = 0
            for rid, args in members:
                out.append((rid, True, list(items[pos : pos + len(args)])))
                pos += len(args)
            return out

        return await self._guard(plugin, "kv.get", [rid for rid, _ in members], call)

    async def _run_batched(
        self, plugin: BackendPlugin, method: str, members: list[tuple[int, Any]]
    ) -> list[Completion]:
        async def call() -> list[Completion]:
            results = await getattr(plugin, method)([args for _, args in members])
            if len(results) != len(members):
                raise Internal(f"{method} returned {len(results)} results for {len(members)}")
            return [
                (rid, False, _failure(res)) if isinstance(res, BaseException) else (rid, True, res)
                for (rid, _), res in zip(members, results, strict=True)
            ]

        return await self._guard(plugin, method, [rid for rid, _ in members], call)

    async def _run_single(
        self, plugin: BackendPlugin, method: str, request_id: int, args: Any
    ) -> list[Completion]:
        async def call() -> list[Completion]:
            return [(request_id, True, await getattr(plugin, method)(*args))]

        return await self._guard(plugin, method, [request_id], call)
