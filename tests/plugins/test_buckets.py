"""The shared in-Python aggregation, against a plain computation of the contract."""

from __future__ import annotations

import random

import pytest
from prism.errors import InvalidArgument
from prism.plugins.buckets import BucketAccumulator


def test_buckets_match_a_plain_computation() -> None:
    rng = random.Random(7)
    start, width = 1_000, 250
    events = [
        (rng.randrange(start, start + 5_000), rng.choice([None, rng.uniform(-5, 5)]))
        for _ in range(500)
    ]
    acc = BucketAccumulator(start, width)
    for t, v in events:
        acc.add(t, v)
    expected = {}
    for t, v in events:
        b = start + (t - start) // width * width
        n, values = expected.get(b, (0, []))
        expected[b] = (n + 1, values + ([v] if v is not None else []))
    got = acc.buckets()
    assert [b[0] for b in got] == sorted(expected)
    for b, n, nv, total, lo, hi in got:
        count, values = expected[b]
        assert (n, nv) == (count, len(values))
        assert total == pytest.approx(sum(values))
        assert (lo, hi) == ((min(values), max(values)) if values else (0.0, 0.0))


def test_a_bucket_of_events_without_values_reports_zero_statistics() -> None:
    acc = BucketAccumulator(0, 10)
    acc.add(3, None)
    assert acc.buckets() == [(0, 1, 0, 0.0, 0.0, 0.0)]


def test_non_positive_width_is_invalid() -> None:
    with pytest.raises(InvalidArgument, match="bucket width"):
        BucketAccumulator(0, 0)
