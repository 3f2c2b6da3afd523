"""prism.plugins.delegating: the forwarding every backend plugin is built on.

Pure logic, so the stores here are stand-ins; the real plugins run the conformance suite.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar

import pytest
from prism.errors import Unavailable
from prism.plugins.delegating import DelegatingKeyValue, DelegatingTimeSeries


class DriverError(Exception):
    pass


class SyncStore:
    def get_many(self, keys: Sequence[bytes]) -> list[Any]:
        if b"boom" in keys:
            raise DriverError("connection reset")
        if b"bug" in keys:
            raise KeyError("a plugin bug")
        return [None for _ in keys]


class AsyncStore:
    async def append_many(self, batches: Sequence[Any]) -> list[Any]:
        await asyncio.sleep(0)
        return [(len(batch), 0) for batch in batches]


class Plugin(DelegatingKeyValue, DelegatingTimeSeries):
    name: ClassVar[str] = "demo"
    patterns: ClassVar[tuple[str, ...]] = ("keyvalue", "timeseries")
    capabilities: ClassVar[dict[str, frozenset[str]]] = {}
    driver_errors = (DriverError,)
    map_driver_error = staticmethod(lambda exc: Unavailable(f"driver: {exc}"))

    async def start(self) -> None:
        self._kv, self._ts = SyncStore(), AsyncStore()

    async def close(self) -> None:
        self._kv = self._ts = None

    async def health(self) -> bool:
        return self._kv is not None


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_calls_before_start_are_unavailable_and_name_the_namespace() -> None:
    plugin = Plugin("orders", {})
    with pytest.raises(Unavailable, match="demo backend of namespace 'orders' is not started"):
        run(plugin.get_many([b"k"]))
    with pytest.raises(Unavailable, match="not started"):
        run(plugin.append_many([[]]))


def test_sync_and_async_stores_answer_through_the_interface() -> None:
    async def scenario() -> tuple[Any, Any]:
        plugin = Plugin("orders", {})
        await plugin.start()
        return await plugin.get_many([b"a", b"b"]), await plugin.append_many([[1, 2], [3]])

    assert run(scenario()) == ([None, None], [(2, 0), (1, 0)])


def test_driver_errors_are_mapped_and_bugs_are_not() -> None:
    async def call(key: bytes) -> Any:
        plugin = Plugin("orders", {})
        await plugin.start()
        return await plugin.get_many([key])

    with pytest.raises(Unavailable, match="driver: connection reset") as info:
        run(call(b"boom"))
    assert isinstance(info.value.__cause__, DriverError)
    with pytest.raises(KeyError):  # not a driver error: the host answers INTERNAL
        run(call(b"bug"))
