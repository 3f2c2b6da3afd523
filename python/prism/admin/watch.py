"""Wakes `GET /v1/config` long polls when the config version moves.

The store calls `changed(version)` from whatever thread committed; waiters live on the
app's event loop, so the wake-up is handed over with call_soon_threadsafe. Waiters also
re-read the version from the store every `recheck_s`, which covers mutations committed
by another admin process sharing the same PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class ConfigWatch:
    def __init__(self, read_version: Callable[[], int], recheck_s: float = 1.0) -> None:
        self._read_version = read_version
        self._recheck_s = recheck_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._event = asyncio.Event()

    def changed(self, _version: int) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            if _running_loop() is loop:
                self._wake()
            else:
                loop.call_soon_threadsafe(self._wake)
        except RuntimeError:  # the loop closed between the check and the call
            pass

    def _wake(self) -> None:
        # Replace the event so later waiters block again, then release current ones.
        event, self._event = self._event, asyncio.Event()
        if event is not None:
            event.set()

    async def wait_changed(self, after: int, timeout: float) -> int:
        """The current version once it differs from `after`, or `after` at timeout."""
        from starlette.concurrency import run_in_threadpool

        deadline = time.monotonic() + timeout
        while True:
            event = self._event
            version = await run_in_threadpool(self._read_version)
            remaining = deadline - time.monotonic()
            if version != after or remaining <= 0:
                return version
            if event is None:
                await asyncio.sleep(min(remaining, self._recheck_s))
                continue
            try:
                await asyncio.wait_for(event.wait(), min(remaining, self._recheck_s))
            except TimeoutError:
                pass


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
