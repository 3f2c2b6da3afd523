"""Plain Python values the client takes and returns, free of protobuf types.

One generic `Page` serves both patterns: KeyValue scans return `Page[Item]`
and TimeSeries queries return `Page[Event]`; `page.events` is an alias of
`page.items` so TimeSeries code reads naturally.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

Key = str | bytes
Ttl = float | timedelta

T = TypeVar("T")


def to_key(key: Key) -> bytes:
    """Keys are bytes on the wire; str keys are UTF-8 encoded."""
    if isinstance(key, bytes):
        return key
    if isinstance(key, str):
        return key.encode("utf-8")
    raise TypeError(f"key must be str or bytes, not {type(key).__name__}")


def to_utc(when: datetime) -> datetime:
    """Aware datetimes are converted to UTC; naive ones are taken to be UTC already."""
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Item:
    key: bytes
    value: bytes
    version: int
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PutEntry:
    """One write of a batch_put; conditions as for `put`."""

    key: Key
    value: bytes
    ttl: Ttl | None = None
    if_absent: bool = False
    if_version: int = 0


@dataclass(frozen=True)
class Event:
    """A time series event.

    The event id is generated here when left empty, so re-appending the same
    Event object (e.g. after a timeout) is a no-op on the server rather than a
    second event.
    """

    series_id: str
    event_time: datetime
    event_id: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    value: float | None = None
    payload: bytes = b""

    def __post_init__(self) -> None:
        # frozen: normalise through object.__setattr__ once, at construction.
        object.__setattr__(self, "event_time", to_utc(self.event_time))
        if not self.event_id:
            object.__setattr__(self, "event_id", str(uuid.uuid4()))


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_page_token: str = ""

    @property
    def events(self) -> list[T]:
        """Alias of `items` for TimeSeries pages."""
        return self.items

    @property
    def done(self) -> bool:
        return not self.next_page_token


@dataclass(frozen=True, slots=True)
class Bucket:
    start: datetime
    count: int
    value_count: int
    sum: float
    min: float
    max: float
    avg: float


@dataclass(frozen=True, slots=True)
class AppendResult:
    appended: int
    duplicates: int
