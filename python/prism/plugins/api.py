"""The batch-first backend plugin interface and the bridge wire format.

A plugin instance serves ONE namespace. The host constructs it as
`PluginClass(namespace, config)`, awaits `start()` once (connect and provision,
idempotent), then calls the batch methods below from its single asyncio loop thread,
and finally awaits `close()`.

Bridge wire format (a fixed contract with the Rust core, see ADR-003)
--------------------------------------------------------------------
`Bridge.drain()` yields `(request_id, namespace, op, args)`; the host answers with
`Bridge.complete([(request_id, True, value)])` or `(request_id, False, (code, message))`
where `code` is a `prism.errors` code such as "not_found".

Times are int nanoseconds since the Unix epoch (event times) or int milliseconds since
the Unix epoch (expiry). An Item is `(key: bytes, value: bytes, version: int,
expires_at_ms: int | None)`; an Event is `(series_id: str, time_ns: int, event_id: str,
tags: dict[str, str], value: float | None, payload: bytes)`.

==============  ===========================================  ================================
op              args                                         success value
==============  ===========================================  ================================
kv.get          list[key]                                    list[Item | None], same order;
                                                             expired items are None
kv.put          list[(key, value, expires_at_ms | None,      list[(version, expires_at_ms)];
                if_absent: bool, if_version: int)]           atomic: all entries or none
kv.delete       list[(key, if_version: int)]                 list[bool deleted]; atomic
kv.scan         (start, end | None, after | None, limit)     list[Item], live, ascending
                                                             bytewise, start <= key < end,
                                                             key > after, at most limit
ts.append       list[Event]                                  (appended, duplicates); durable
ts.query        (series_id, start_ns, end_ns, tag_filter,    list[Event] in [start, end),
                descending, after: (time_ns, event_id) |     ordered by (time_ns, event_id),
                None, limit)                                 strictly after `after`
ts.aggregate    (series_id, start_ns, end_ns, width_ns,      list[Bucket] for non-empty
                tag_filter)                                  buckets, ascending
noop            None                                         None (answered by the host)
==============  ===========================================  ================================

Put rules: `if_absent` fails with AlreadyExists when a live item exists; `if_version > 0`
fails with FailedPrecondition (naming key, expected and actual version or "does not
exist") unless the live item has exactly that version. Versions come from a per-namespace
counter that only grows (never reused, not even after delete), so CAS has no ABA problem.
Delete of a missing key returns False, unless `if_version > 0` (then FailedPrecondition).
Append is idempotent on (series_id, time_ns, event_id): an existing event is a duplicate
and is left unchanged. A Bucket is `(bucket_start_ns, count, value_count, sum, min, max)`
with `bucket_start = start_ns + ((t - start_ns) // width_ns) * width_ns`; `count` counts
events, the other fields only events with a value (min/max are 0.0 when value_count is 0).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeAlias

from prism.errors import PrismError, Unimplemented
from prism.plugins import generated
from prism.plugins.generated.keyvalue import KeyValueCapability
from prism.plugins.generated.timeseries import TimeSeriesCapability

__all__ = [
    "CAPABILITIES",
    "OP_METHODS",
    "AppendResult",
    "BackendPlugin",
    "Bucket",
    "Completion",
    "DeleteEntry",
    "Event",
    "EventCursor",
    "Item",
    "Key",
    "KeyValueBackend",
    "KeyValueCapability",
    "PutEntry",
    "PutResult",
    "Request",
    "TimeSeriesBackend",
    "TimeSeriesCapability",
    "render_key",
]

Key: TypeAlias = bytes
Item: TypeAlias = tuple[bytes, bytes, int, int | None]
PutEntry: TypeAlias = tuple[bytes, bytes, int | None, bool, int]
PutResult: TypeAlias = tuple[int, int | None]
DeleteEntry: TypeAlias = tuple[bytes, int]
Event: TypeAlias = tuple[str, int, str, dict[str, str], float | None, bytes]
EventCursor: TypeAlias = tuple[int, str]
AppendResult: TypeAlias = tuple[int, int]
Bucket: TypeAlias = tuple[int, int, int, float, float, float]

# Request id, namespace, op, args: what Bridge.drain() yields.
Request: TypeAlias = tuple[int, str, str, Any]
# Request id, ok, value or (code, message): what Bridge.complete() takes.
Completion: TypeAlias = tuple[int, bool, Any]

# Which plugin method serves which bridge op, and the capabilities of each pattern, come
# from the annotated protos (`prism.plugin_op`, `prism.capability`) via `make codegen`;
# the host reports `unimplemented` when the plugin object has no such method.
OP_METHODS: Mapping[str, str] = generated.OP_METHODS
CAPABILITIES: Mapping[str, tuple[str, ...]] = generated.CAPABILITIES


def render_key(key: bytes) -> str:
    """Show a key in an error message: text when printable UTF-8, else 0x-hex."""
    try:
        text = key.decode("utf-8")
    except UnicodeDecodeError:
        return "0x" + key.hex()
    return text if text.isprintable() else "0x" + key.hex()


class BackendPlugin(abc.ABC):
    """Lifecycle shared by every backend plugin; one instance per namespace."""

    #: Backend name, equal to its `prism.backends` entry point name.
    name: ClassVar[str]
    #: Patterns this backend serves, e.g. ("keyvalue", "timeseries").
    patterns: ClassVar[tuple[str, ...]]
    #: Capabilities per served pattern, e.g. {"keyvalue": frozenset({"core", "cas"})}; the
    #: names are those of CAPABILITIES / KeyValueCapability / TimeSeriesCapability.
    capabilities: ClassVar[Mapping[str, frozenset[str]]]

    def __init__(self, namespace: str, config: Mapping[str, Any]) -> None:
        self.namespace = namespace

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect and provision; calling it again is a no-op."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections; idempotent."""

    @abc.abstractmethod
    async def health(self) -> bool:
        """True when the backend answers right now."""

    async def deprovision(self) -> None:
        """Drop this namespace's backend data (tables, files, topics). Optional: the admin
        calls it only on an explicitly confirmed delete; the default refuses."""
        raise Unimplemented(f"deprovision not supported by backend {self.name}")


class KeyValueBackend(BackendPlugin):
    """KeyValue pattern. Batch-first: each call may carry many client requests."""

    @abc.abstractmethod
    async def get_many(self, keys: Sequence[bytes]) -> list[Item | None]:
        """Live items for `keys` in the same order; missing or expired -> None."""

    @abc.abstractmethod
    async def put_many(
        self, batches: Sequence[Sequence[PutEntry]]
    ) -> list[list[PutResult] | PrismError]:
        """Apply each batch atomically on its own; one result (or error) per batch.

        Many batches arrive per call so a backend can group-commit them (one fsync).
        """

    @abc.abstractmethod
    async def delete_many(
        self, batches: Sequence[Sequence[DeleteEntry]]
    ) -> list[list[bool] | PrismError]:
        """Apply each batch of deletes atomically; one result (or error) per batch."""

    @abc.abstractmethod
    async def scan(
        self, start: bytes, end: bytes | None, after: bytes | None, limit: int
    ) -> list[Item]:
        """Live items with start <= key < end and key > after, ascending, at most limit."""


class TimeSeriesBackend(BackendPlugin):
    """TimeSeries pattern."""

    @abc.abstractmethod
    async def append_many(
        self, batches: Sequence[Sequence[Event]]
    ) -> list[AppendResult | PrismError]:
        """Append each batch durably; (appended, duplicates) or an error per batch."""

    @abc.abstractmethod
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
        """Events in [start_ns, end_ns) matching every filter tag, ordered, after `after`."""

    @abc.abstractmethod
    async def aggregate(
        self,
        series_id: str,
        start_ns: int,
        end_ns: int,
        width_ns: int,
        tag_filter: Mapping[str, str],
    ) -> list[Bucket]:
        """Non-empty buckets of width `width_ns` over [start_ns, end_ns), ascending."""
