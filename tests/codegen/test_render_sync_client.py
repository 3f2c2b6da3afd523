"""The blocking client is generated from the asyncio one (tooling/codegen/render_sync_client.py)."""

from __future__ import annotations

import pytest

from tooling.codegen import render_sync_client as r

SOURCE = '''"""doc"""

from collections.abc import AsyncIterator, Iterable
from prism.client._tail_async import AsyncTailStream


class AsyncThing:
    async def close(self) -> None:
        await self._channel.close(None)  # the grace period

    async def __aenter__(self) -> AsyncThing:
        return self

    async def items(self) -> AsyncIterator[int]:
        async with self._lock:
            for item in page.items:
                yield item
'''


def test_the_rules_turn_async_code_into_blocking_code() -> None:
    out = r.render(SOURCE)
    assert out.startswith("# Generated from _async.py") and "DO NOT EDIT" in out
    body = out[out.index("from collections") :]
    assert (
        body
        == """from collections.abc import Iterable, Iterator
from prism.client._tail_sync import TailStream


class Thing:
    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Thing:
        return self

    def items(self) -> Iterator[int]:
        with self._lock:
            yield from page.items
"""
    )


def test_an_async_construct_no_rule_rewrites_fails_the_generation() -> None:
    with pytest.raises(SystemExit, match="no rule rewrites"):
        r.render(SOURCE + "\nx = await(f())\n")
