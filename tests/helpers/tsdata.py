"""Event generation, chunked appends and a plain-Python reference for Aggregate."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prism.client import AppendResult, Event

from . import MAX_BATCH_ITEMS, chunks

HOSTS = ("a", "b", "c")
DCS = ("east", "west")


def base_time() -> datetime:
    """A whole second an hour ago: fixed within a test, far from "now" edge cases."""
    now = datetime.now(UTC).replace(microsecond=0)
    return now - timedelta(hours=1)


def random_events(
    series_id: str,
    n: int,
    start: datetime,
    span: timedelta,
    rng: random.Random,
    *,
    value_ratio: float = 0.8,
) -> list[Event]:
    """`n` events at distinct microsecond times in [start, start+span), varied tags,
    most with a value (some without, so count and value_count differ)."""
    span_us = int(span / timedelta(microseconds=1))
    offsets = rng.sample(range(span_us), n)
    events = []
    for i, off in enumerate(offsets):
        value = round(rng.uniform(-100.0, 100.0), 3) if rng.random() < value_ratio else None
        events.append(
            Event(
                series_id=series_id,
                event_time=start + timedelta(microseconds=off),
                event_id=f"e{i:05d}",
                tags={"host": rng.choice(HOSTS), "dc": rng.choice(DCS)},
                value=value,
                payload=f"p{i}".encode(),
            )
        )
    return events


def append_all(ts: Any, events: list[Event], chunk: int = MAX_BATCH_ITEMS) -> AppendResult:
    """Append in batches within the namespace batch limit; summed result."""
    appended = duplicates = 0
    for group in chunks(events, chunk):
        result = ts.append(group)
        appended += result.appended
        duplicates += result.duplicates
    return AppendResult(appended, duplicates)


def ident(e: Event) -> tuple[datetime, str]:
    """An event's identity within its series, also its sort key."""
    return (e.event_time, e.event_id)


def content(e: Event) -> tuple[Any, ...]:
    """Everything the server must round-trip."""
    return (e.series_id, e.event_time, e.event_id, dict(e.tags), e.value, bytes(e.payload))


def matches(e: Event, tag_filter: Mapping[str, str] | None) -> bool:
    return all(e.tags.get(k) == v for k, v in (tag_filter or {}).items())


@dataclass(frozen=True)
class RefBucket:
    start: datetime
    count: int
    value_count: int
    sum: float
    min: float | None
    max: float | None
    avg: float | None


def reference_aggregate(
    events: Iterable[Event],
    start: datetime,
    end: datetime,
    width: timedelta,
    tag_filter: Mapping[str, str] | None = None,
) -> list[RefBucket]:
    """Count/sum/min/max/avg per bucket [start + k*width, +width), non-empty, ascending."""
    groups: dict[int, list[Event]] = {}
    for e in events:
        if start <= e.event_time < end and matches(e, tag_filter):
            groups.setdefault((e.event_time - start) // width, []).append(e)
    out = []
    for k in sorted(groups):
        values = [e.value for e in groups[k] if e.value is not None]
        out.append(
            RefBucket(
                start=start + k * width,
                count=len(groups[k]),
                value_count=len(values),
                sum=sum(values),
                min=min(values) if values else None,
                max=max(values) if values else None,
                avg=sum(values) / len(values) if values else None,
            )
        )
    return out
