"""The asyncio client's tail stream (hand-written: see _tail_sync.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

import grpc

from prism.client import _wire as w
from prism.client.errors import error_for_status, from_rpc_error
from prism.client.types import Event


class AsyncTailStream:
    """Async-iterable of tailed events; cancel() (or leaving the `async with` block) ends it."""

    def __init__(self, call: Any) -> None:
        self._call = call
        self._cancelled = False

    async def wait_ready(self, timeout: float) -> None:
        """Wait for the response headers (the server has subscribed), at most `timeout`."""
        # shield: a timeout must not cancel the shared metadata future of the call.
        try:
            await asyncio.wait_for(asyncio.shield(self._call.initial_metadata()), timeout)
        except TimeoutError:
            return
        if self._call.done():
            code = await self._call.code()
            if code != grpc.StatusCode.OK:
                raise error_for_status(code, await self._call.details())

    async def __aiter__(self) -> AsyncIterator[Event]:
        try:
            async for msg in self._call:
                yield w.event_from_proto(msg)
        except grpc.RpcError as err:
            if self._cancelled and err.code() == grpc.StatusCode.CANCELLED:
                return
            raise from_rpc_error(err) from err
        except asyncio.CancelledError:
            # grpc.aio surfaces a locally cancelled call as CancelledError.
            if not self._cancelled:
                raise

    def cancel(self) -> None:
        self._cancelled = True
        self._call.cancel()

    async def __aenter__(self) -> AsyncTailStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cancel()
