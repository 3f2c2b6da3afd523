"""Aggregation buckets computed in Python, for backends that cannot aggregate
server-side (or not with a tag filter). One implementation of the Aggregate contract of
`prism.plugins.api`: `count` counts events; `value_count`, `sum`, `min` and `max` only
events with a value (min and max are 0.0 when no event of the bucket has one)."""

from __future__ import annotations

from prism.errors import InvalidArgument
from prism.plugins.api import Bucket


class BucketAccumulator:
    """Adds events one by one; `buckets()` returns the non-empty buckets, ascending."""

    def __init__(self, start_ns: int, width_ns: int) -> None:
        if width_ns <= 0:
            raise InvalidArgument(f"bucket width must be > 0 ns, got {width_ns}")
        self.start_ns = start_ns
        self.width_ns = width_ns
        # bucket start -> [count, value_count, sum, min, max]
        self._acc: dict[int, list[float | int | None]] = {}

    def add(self, time_ns: int, value: float | None) -> None:
        start = self.start_ns + ((time_ns - self.start_ns) // self.width_ns) * self.width_ns
        acc = self._acc.setdefault(start, [0, 0, 0.0, None, None])
        acc[0] = int(acc[0] or 0) + 1
        if value is not None:
            acc[1] = int(acc[1] or 0) + 1
            acc[2] = float(acc[2] or 0.0) + value
            acc[3] = value if acc[3] is None else min(float(acc[3]), value)
            acc[4] = value if acc[4] is None else max(float(acc[4]), value)

    def buckets(self) -> list[Bucket]:
        return [
            (start, int(n or 0), int(nv or 0), float(s or 0.0), float(lo or 0.0), float(hi or 0.0))
            for start, (n, nv, s, lo, hi) in sorted(self._acc.items())
        ]
