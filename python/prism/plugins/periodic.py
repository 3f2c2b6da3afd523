"""A background job that plugins run on the host loop at a fixed interval (TTL purges).

Failures are logged by type and retried on the next tick: a backend outage must not end
the job, and the message may carry keys, so it is not logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Periodic:
    """Runs `job` every `interval_s` seconds on the running loop until `stop()`."""

    def __init__(self, name: str, interval_s: float, job: Callable[[], Awaitable[None]]) -> None:
        self.name = name
        self.interval_s = interval_s
        self._job = job
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Schedule the job; a second start while running is a no-op."""
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        """Cancel the job and wait for it; idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self._job()
            except Exception as exc:  # retried on the next tick
                log.warning(
                    "%s failed with %s; retrying in %gs",
                    self.name,
                    type(exc).__name__,
                    self.interval_s,
                )
