"""TimeSeries conformance: every test runs on every backend of claims.yaml.

A test checks its capability's semantics when the backend claims it, and that the call
is refused when it does not (`assert_refused`); `core` is required of every backend.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from helpers import unique
from helpers.claims import Target, assert_refused
from helpers.tail import TailCollector
from helpers.tsdata import (
    append_all,
    base_time,
    content,
    ident,
    matches,
    random_events,
    reference_aggregate,
)
from prism.client import Event

core = pytest.mark.capability("timeseries", "core")
aggregate = pytest.mark.capability("timeseries", "aggregate")
tail = pytest.mark.capability("timeseries", "tail")

SPAN = timedelta(minutes=10)


def stored(ts: Any, series: str, n: int, seed: int) -> tuple[datetime, list[Event]]:
    """Append `n` random events to `series`; their start time and the events."""
    start = base_time()
    events = random_events(series, n, start, SPAN, random.Random(seed))
    result = append_all(ts, events)
    assert (result.appended, result.duplicates) == (n, 0)
    return start, events


# ---------------------------------------------------------------- core


@core
def test_append_query_round_trip_per_series(ts: Any, target: Target) -> None:
    a, b = unique("series-a"), unique("series-b")
    _, events_a = stored(ts, a, 30, seed=1)
    _, events_b = stored(ts, b, 5, seed=2)
    got = list(ts.query_all(a))
    assert [content(e) for e in got] == [content(e) for e in sorted(events_a, key=ident)]
    assert {e.series_id for e in ts.query_all(b)} == {b}
    valueless = [e for e in got if e.value is None]
    assert valueless, "test data should include events without a value"


@core
def test_query_order_ascending_and_descending(ts: Any, target: Target) -> None:
    series = unique("order")
    _, events = stored(ts, series, 40, seed=3)
    expected = [ident(e) for e in sorted(events, key=ident)]
    assert [ident(e) for e in ts.query_all(series)] == expected
    assert [ident(e) for e in ts.query_all(series, descending=True)] == expected[::-1]


@core
def test_query_tag_filters(ts: Any, target: Target) -> None:
    series = unique("tags")
    _, events = stored(ts, series, 60, seed=4)
    for tag_filter in ({"host": "a"}, {"host": "b", "dc": "east"}, {"host": "nope"}):
        expected = [ident(e) for e in sorted(events, key=ident) if matches(e, tag_filter)]
        got = list(ts.query_all(series, tags=tag_filter))
        assert [ident(e) for e in got] == expected, f"filter {tag_filter}"
        assert all(matches(e, tag_filter) for e in got)


@core
@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
def test_query_pagination_each_event_once(ts: Any, target: Target, descending: bool) -> None:
    series = unique("pages")
    _, events = stored(ts, series, 53, seed=5)
    seen, token, pages = [], "", 0
    while True:
        page = ts.query(series, descending=descending, limit=7, page_token=token)
        assert len(page.events) <= 7
        seen += [ident(e) for e in page.events]
        pages += 1
        token = page.next_page_token
        if not token:
            break
        assert pages < 100, "pagination does not end"
    assert pages >= 8, f"53 events in pages of 7 came in {pages} pages"
    expected = sorted(ident(e) for e in events)
    assert seen == (expected[::-1] if descending else expected), "each event exactly once"


@core
def test_query_start_inclusive_end_exclusive(ts: Any, target: Target) -> None:
    series = unique("bounds")
    t0 = base_time()
    events = [
        Event(series, t0 + timedelta(seconds=s), event_id=f"s{s}", value=float(s))
        for s in range(10)
    ]
    append_all(ts, events)
    got = ts.query_all(series, start=t0 + timedelta(seconds=3), end=t0 + timedelta(seconds=7))
    assert [e.event_id for e in got] == ["s3", "s4", "s5", "s6"]
    got = ts.query_all(series, start=t0 + timedelta(seconds=8))
    assert [e.event_id for e in got] == ["s8", "s9"], "open end"
    got = ts.query_all(series, end=t0 + timedelta(seconds=2))
    assert [e.event_id for e in got] == ["s0", "s1"], "open start"


@core
def test_reappend_counts_duplicates_and_keeps_first(ts: Any, target: Target) -> None:
    series = unique("dups")
    _, events = stored(ts, series, 20, seed=6)
    again = append_all(ts, events)
    assert (again.appended, again.duplicates) == (0, 20)
    t = base_time() + SPAN + timedelta(seconds=1)
    fresh = [Event(series, t, event_id="fresh", value=1.0)]
    changed = [Event(e.series_id, e.event_time, e.event_id, value=12345.0) for e in events[:3]]
    mixed = ts.append(fresh + changed)
    assert (mixed.appended, mixed.duplicates) == (1, 3)
    got = {ident(e): content(e) for e in ts.query_all(series)}
    assert len(got) == 21
    for e in events:
        assert got[ident(e)] == content(e), "a duplicate replaced the stored event"


# ---------------------------------------------------------------- aggregate


def assert_buckets_equal(got: list[Any], expected: list[Any], label: str) -> None:
    assert [b.start for b in got] == [b.start for b in expected], f"{label}: bucket starts"
    for g, e in zip(got, expected, strict=True):
        where = f"{label}: bucket {e.start.isoformat()}"
        assert (g.count, g.value_count) == (e.count, e.value_count), where
        assert math.isclose(g.sum, e.sum, rel_tol=1e-9, abs_tol=1e-9), f"{where} sum"
        if e.value_count:
            assert g.min == e.min and g.max == e.max, f"{where} min/max"
            assert math.isclose(g.avg, e.avg, rel_tol=1e-9, abs_tol=1e-9), f"{where} avg"


@aggregate
def test_aggregate_equals_python_computation(ts: Any, target: Target) -> None:
    series = unique("agg")
    width = timedelta(seconds=60)
    if not target.claimed:
        assert_refused(
            lambda: ts.aggregate(
                series, start=base_time(), end=base_time() + SPAN, bucket_width=width
            )
        )
        return
    start = base_time()
    events = random_events(series, 300, start, SPAN, random.Random(8))
    # Leave minutes 2 and 3 empty: only non-empty buckets come back.
    events = [e for e in events if not 2 <= (e.event_time - start) // width <= 3]
    append_all(ts, events)

    windows = [
        (start, start + SPAN),  # the whole range
        (start + timedelta(seconds=90), start + timedelta(minutes=7)),  # buckets from start
    ]
    for lo, hi in windows:
        for tag_filter in (None, {"host": "a"}, {"host": "b", "dc": "west"}):
            got = ts.aggregate(series, start=lo, end=hi, bucket_width=width, tags=tag_filter)
            expected = reference_aggregate(events, lo, hi, width, tag_filter)
            assert expected, "reference has no buckets: bad test data"
            assert_buckets_equal(got, expected, f"[{lo:%H:%M:%S}, {hi:%H:%M:%S}) {tag_filter}")


# ---------------------------------------------------------------- tail


@tail
def test_tail_receives_events_appended_after_start(ts: Any, target: Target) -> None:
    series = unique("tail")
    if not target.claimed:
        assert_refused(lambda: next(iter(ts.tail(series))))
        return
    collector = TailCollector(ts.tail(series))
    try:
        collector.wait_live(ts, series)
        now = datetime.now(UTC)
        new = [
            Event(series, now + timedelta(milliseconds=i), event_id=f"n{i}", value=float(i))
            for i in range(15)
        ]
        append_all(ts, new)
        want = {ident(e) for e in new}
        arrived = collector.wait_for(
            lambda evs: want <= {ident(e) for e in evs if "probe" not in e.tags}, 5.0
        )
        collector.raise_error()
        got = [ident(e) for e in collector.real_events()]
        assert arrived, f"tail got {len(set(got) & want)} of {len(want)} events within 5 s"
        assert len(got) == len(set(got)), "an event arrived twice"
        assert [content(e) for e in collector.real_events()] == [content(e) for e in new]
    finally:
        collector.close()


@tail
def test_tail_from_time_replays_stored_events_first(ts: Any, target: Target) -> None:
    series = unique("tail-from")
    t0 = base_time()
    if not target.claimed:
        assert_refused(lambda: next(iter(ts.tail(series, from_time=t0))))
        return
    before = Event(series, t0 - timedelta(seconds=1), event_id="before")
    old = [Event(series, t0 + timedelta(seconds=i), event_id=f"old{i}") for i in range(5)]
    append_all(ts, [before, *old])
    collector = TailCollector(ts.tail(series, from_time=t0))
    try:
        assert collector.wait_for(lambda evs: len(evs) >= 5, 5.0), "stored events not replayed"
        collector.raise_error()
        assert [e.event_id for e in collector.snapshot()[:5]] == [e.event_id for e in old]
        new = [Event(series, datetime.now(UTC), event_id=f"new{i}") for i in range(3)]
        append_all(ts, new)
        assert collector.wait_for(lambda evs: len(evs) >= 8, 5.0), "live events not received"
        got = [e.event_id for e in collector.snapshot()]
        assert sorted(got[5:]) == ["new0", "new1", "new2"] and "before" not in got
    finally:
        collector.close()


@tail
def test_tail_tag_filter(ts: Any, target: Target) -> None:
    series = unique("tail-tags")
    if not target.claimed:
        assert_refused(lambda: next(iter(ts.tail(series, tags={"host": "a"}))))
        return
    collector = TailCollector(ts.tail(series, tags={"host": "a"}))
    try:
        collector.wait_live(ts, series, tags={"host": "a"})
        now = datetime.now(UTC)
        events = [
            Event(series, now, event_id=f"e{i}", tags={"host": "ab"[i % 2]}) for i in range(10)
        ]
        append_all(ts, events)
        last = Event(series, now + timedelta(seconds=1), event_id="last", tags={"host": "a"})
        ts.append([last])
        assert collector.wait_for(lambda evs: any(e.event_id == "last" for e in evs), 5.0)
        got = [e.event_id for e in collector.real_events()]
        assert got[:-1] == [e.event_id for e in events if e.tags["host"] == "a"]
        assert got[-1] == "last"
    finally:
        collector.close()
