"""Plugins whose pattern methods live in store objects: the forwarding, written once.

A plugin keeps its KeyValue data path in one store object and its TimeSeries path in
another (`self._kv`, `self._ts`, None until `start`), with methods named and shaped as
the interface's (sync or async). These bases forward each interface method to the store,
answer UNAVAILABLE before `start`, and turn the driver's exceptions (`driver_errors`)
into Prism errors with the plugin's `map_driver_error`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from prism.errors import PrismError, Unavailable
from prism.plugins.api import (
    AppendResult,
    BackendPlugin,
    Bucket,
    DeleteEntry,
    Event,
    EventCursor,
    Item,
    KeyValueBackend,
    PutEntry,
    PutResult,
    TimeSeriesBackend,
)


class StoreDelegation(BackendPlugin):
    """Forwarding to the stores; see the module doc."""

    #: Exceptions of the driver that `map_driver_error` turns into Prism errors; any
    #: other exception propagates (the plugin host answers INTERNAL).
    driver_errors: ClassVar[tuple[type[BaseException], ...]] = ()

    _kv: Any = None
    _ts: Any = None

    @staticmethod
    def map_driver_error(exc: BaseException) -> PrismError:
        """The Prism error for a driver exception (one of `driver_errors`); plugins set
        it to their errors module's mapper: `map_driver_error = staticmethod(map_error)`."""
        raise NotImplementedError("a plugin that lists driver_errors must map them")

    def _not_started(self) -> Unavailable:
        return Unavailable(f"{self.name} backend of namespace '{self.namespace}' is not started")

    def _kv_store(self) -> Any:
        if self._kv is None:
            raise self._not_started()
        return self._kv

    def _ts_store(self) -> Any:
        if self._ts is None:
            raise self._not_started()
        return self._ts

    async def _forward(self, method: Callable[..., Any], *args: Any) -> Any:
        try:
            result = method(*args)
            if inspect.isawaitable(result):
                result = await result
        except PrismError:
            raise
        except self.driver_errors as exc:
            raise self.map_driver_error(exc) from exc
        return result


class DelegatingKeyValue(StoreDelegation, KeyValueBackend):
    """KeyValueBackend forwarding to `self._kv`."""

    async def get_many(self, keys: Sequence[bytes]) -> list[Item | None]:
        return await self._forward(self._kv_store().get_many, keys)

    async def put_many(
        self, batches: Sequence[Sequence[PutEntry]]
    ) -> list[list[PutResult] | PrismError]:
        return await self._forward(self._kv_store().put_many, batches)

    async def delete_many(
        self, batches: Sequence[Sequence[DeleteEntry]]
    ) -> list[list[bool] | PrismError]:
        return await self._forward(self._kv_store().delete_many, batches)

    async def scan(
        self, start: bytes, end: bytes | None, after: bytes | None, limit: int
    ) -> list[Item]:
        return await self._forward(self._kv_store().scan, start, end, after, limit)


class DelegatingTimeSeries(StoreDelegation, TimeSeriesBackend):
    """TimeSeriesBackend forwarding to `self._ts`."""

    async def append_many(
        self, batches: Sequence[Sequence[Event]]
    ) -> list[AppendResult | PrismError]:
        return await self._forward(self._ts_store().append_many, batches)

    async def query(
        self,
        series_id: str,
        start_ns: int,
        end_ns: int,
        tag_filter: Mapping[str, str],
        descending: bool,
        after: EventCursor | None,
        limit: int,
    ) -> list[Event]:
        store = self._ts_store()
        return await self._forward(
            store.query, series_id, start_ns, end_ns, tag_filter, descending, after, limit
        )

    async def aggregate(
        self,
        series_id: str,
        start_ns: int,
        end_ns: int,
        width_ns: int,
        tag_filter: Mapping[str, str],
    ) -> list[Bucket]:
        store = self._ts_store()
        return await self._forward(
            store.aggregate, series_id, start_ns, end_ns, width_ns, tag_filter
        )


#: The delegating base of each pattern and the attribute holding its store (the
#: plugin scaffold, tooling/scaffold, builds plugins on them).
DELEGATING: Mapping[str, tuple[type[StoreDelegation], str]] = {
    "keyvalue": (DelegatingKeyValue, "_kv"),
    "timeseries": (DelegatingTimeSeries, "_ts"),
}
