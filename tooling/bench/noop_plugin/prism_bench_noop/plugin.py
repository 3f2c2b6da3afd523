"""A KeyValue plugin whose store is a Python dict: a Get through it costs the crossing into
Python and back (the bridge, the host's batching, one dict lookup per key) and nothing
else, which is what lane D measures. Not a backend anyone should deploy: nothing is
durable, and it claims only the `core` capability. Only the bench's gateway sees it
(tooling/bench/noop.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from prism.errors import PrismError
from prism.plugins.api import DeleteEntry, Item, KeyValueBackend, PutEntry, PutResult


class NoopPlugin(KeyValueBackend):
    name: ClassVar[str] = "bench_noop"
    patterns: ClassVar[tuple[str, ...]] = ("keyvalue",)
    capabilities: ClassVar[Mapping[str, frozenset[str]]] = {"keyvalue": frozenset({"core"})}

    def __init__(self, namespace: str, config: Mapping[str, Any]) -> None:
        super().__init__(namespace, config)
        self.items: dict[bytes, Item] = {}
        self.version = 0

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self.items.clear()

    async def health(self) -> bool:
        return True

    async def get_many(self, keys: Sequence[bytes]) -> list[Item | None]:
        items = self.items
        return [items.get(bytes(key)) for key in keys]

    async def put_many(
        self, batches: Sequence[Sequence[PutEntry]]
    ) -> list[list[PutResult] | PrismError]:
        # The bench only puts plain values (no TTL or conditions: `core` alone is claimed).
        out: list[list[PutResult] | PrismError] = []
        for batch in batches:
            results: list[PutResult] = []
            for key, value, expires_at_ms, _if_absent, _if_version in batch:
                self.version += 1
                self.items[bytes(key)] = (bytes(key), bytes(value), self.version, expires_at_ms)
                results.append((self.version, expires_at_ms))
            out.append(results)
        return out

    async def delete_many(
        self, batches: Sequence[Sequence[DeleteEntry]]
    ) -> list[list[bool] | PrismError]:
        return [[self.items.pop(bytes(key), None) is not None for key, _ in b] for b in batches]

    async def scan(
        self, start: bytes, end: bytes | None, after: bytes | None, limit: int
    ) -> list[Item]:
        keys = sorted(
            k
            for k in self.items
            if k >= start and (end is None or k < end) and (after is None or k > after)
        )
        return [self.items[k] for k in keys[:limit]]
