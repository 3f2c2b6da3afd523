"""TailCollector: consume a Tail stream on a thread and wait for what arrives."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from prism.client import Event

PROBE_TAG = "probe"


class TailCollector:
    """Reads `stream` (an iterable of Event with .cancel()) in a background thread."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.events: list[Event] = []
        self.error: BaseException | None = None
        self.done = False
        self._closing = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for event in self.stream:
                with self._cond:
                    self.events.append(event)
                    self._cond.notify_all()
        except BaseException as exc:  # surfaced through wait_for / close
            if not self._closing:
                self.error = exc
        finally:
            with self._cond:
                self.done = True
                self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[Event]], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.events):
                left = deadline - time.monotonic()
                if left <= 0 or self.done:
                    return predicate(self.events)
                self._cond.wait(left)
            return True

    def snapshot(self) -> list[Event]:
        with self._cond:
            return list(self.events)

    def real_events(self) -> list[Event]:
        """Received events without the probes used to detect that the tail is live."""
        return [e for e in self.snapshot() if PROBE_TAG not in e.tags]

    def wait_live(
        self, ts: Any, series_id: str, tags: dict[str, str] | None = None, timeout: float = 10.0
    ) -> None:
        """Append probe events until one arrives: from then on the tail is surely live."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            probe = Event(series_id, datetime.now(UTC), tags={**(tags or {}), PROBE_TAG: "1"})
            ts.append([probe])
            if self.wait_for(self._has_event(probe.event_id), 0.3):
                return
            self.raise_error()
        raise AssertionError(f"tail received no probe within {timeout}s")

    @staticmethod
    def _has_event(event_id: str) -> Callable[[list[Event]], bool]:
        return lambda events: any(e.event_id == event_id for e in events)

    def raise_error(self) -> None:
        if self.error is not None:
            raise AssertionError(f"tail stream failed: {self.error!r}") from self.error

    def close(self, *, ended_by_server: bool = False) -> None:
        """Cancel and join; `ended_by_server`: an error ending the stream is expected."""
        if ended_by_server:
            self.error = None
        self._closing = True
        self.stream.cancel()
        self._thread.join(timeout=10)
        assert not self._thread.is_alive(), "tail thread did not end after cancel"
        self.raise_error()
