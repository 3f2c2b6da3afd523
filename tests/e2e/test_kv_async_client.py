"""The asyncio client against the real server: concurrent calls and error mapping."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from helpers import unique
from helpers.server import ServerProcess
from prism.client import AsyncPrismClient, Event, IdempotencyToken
from prism.errors import AlreadyExists, FailedPrecondition, NotFound


@pytest.mark.parametrize("ns", ["mem", "lite"])
def test_async_client_round_trip(server: ServerProcess, ns: str) -> None:
    prefix = unique("async")

    async def main() -> None:
        async with AsyncPrismClient(server.address, timeout=10.0) as c:
            kv, ts = c.kv(ns), c.ts(ns)
            keys = [f"{prefix}/{i}" for i in range(50)]
            versions = await asyncio.gather(*(kv.put(k, k.encode()) for k in keys))
            assert len(set(versions)) == 50, "concurrent puts share a version"
            items = await asyncio.gather(*(kv.get(k) for k in keys))
            assert [(i.value, i.version) if i else None for i in items] == [
                (k.encode(), v) for k, v in zip(keys, versions, strict=True)
            ]
            with pytest.raises(AlreadyExists):
                await kv.put(keys[0], b"x", if_absent=True)
            with pytest.raises(FailedPrecondition):
                await kv.put(keys[0], b"x", if_version=versions[0] + 10_000_000)
            token = IdempotencyToken.new()
            first = await kv.put(keys[1], b"once", token=token)
            assert await kv.put(keys[1], b"once", token=token) == first

            series = unique("async-series")
            now = datetime.now(UTC)
            events = [Event(series, now + timedelta(seconds=i), value=float(i)) for i in range(5)]
            assert (await ts.append(events)).appended == 5
            page = await ts.query(series, descending=True)
            assert [e.event_id for e in page.events] == [e.event_id for e in events[::-1]]

        async with AsyncPrismClient(server.address, timeout=10.0) as c:
            with pytest.raises(NotFound):
                await c.kv(unique("nosuchns")).get("k")

    asyncio.run(main())
