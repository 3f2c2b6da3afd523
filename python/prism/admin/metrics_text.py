"""Read a namespace's request counters and latency histogram out of Prometheus text, and
turn two samples into rates and a p99 (pure functions, unit-tested on their own)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass
class Sample:
    """Cumulative counters of one namespace, summed over methods (and proxies)."""

    requests: float = 0.0
    errors: float = 0.0
    #: Upper bound (seconds, inf for +Inf) -> cumulative count.
    buckets: dict[float, float] = field(default_factory=dict)

    def add(self, other: Sample) -> None:
        self.requests += other.requests
        self.errors += other.errors
        for le, count in other.buckets.items():
            self.buckets[le] = self.buckets.get(le, 0.0) + count


def parse(text: str, namespace: str) -> Sample:
    sample = Sample()
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        name, raw_labels, raw_value = match.groups()
        if name not in (
            "prism_requests_total",
            "prism_request_errors_total",
            "prism_request_duration_seconds_bucket",
        ):
            continue
        labels = dict(_LABEL.findall(raw_labels or ""))
        if labels.get("namespace") != namespace:
            continue
        try:
            value = float(raw_value)
        except ValueError:
            continue
        if name == "prism_requests_total":
            sample.requests += value
        elif name == "prism_request_errors_total":
            sample.errors += value
        else:
            try:
                le = float(labels.get("le", "+Inf"))
            except ValueError:
                continue
            sample.buckets[le] = sample.buckets.get(le, 0.0) + value
    return sample


def delta(now: Sample, before: Sample | None) -> Sample:
    """Counts since `before`; a counter that went down (a proxy restarted) counts from 0."""
    if before is None:
        return now

    def sub(a: float, b: float) -> float:
        return a - b if a >= b else a

    return Sample(
        requests=sub(now.requests, before.requests),
        errors=sub(now.errors, before.errors),
        buckets={le: sub(c, before.buckets.get(le, 0.0)) for le, c in now.buckets.items()},
    )


def quantile(buckets: dict[float, float], q: float) -> float | None:
    """Histogram quantile as Prometheus computes it (linear within the bucket)."""
    if not buckets:
        return None
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower  # the highest finite bound: all we can say
            span = count - below
            return lower + (bound - lower) * ((rank - below) / span if span > 0 else 1.0)
        lower, below = bound, count
    return lower
