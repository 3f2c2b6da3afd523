"""Unit test of the pure Prometheus-text math behind /stats (no I/O)."""

from __future__ import annotations

import pytest
from prism.admin.metrics_text import delta, parse, quantile

TEXT = """\
# TYPE prism_requests_total counter
prism_requests_total{namespace="a",method="KeyValue/Put"} 90
prism_requests_total{namespace="a",method="KeyValue/Get"} 10
prism_requests_total{namespace="b",method="KeyValue/Get"} 7
prism_request_errors_total{namespace="a",method="KeyValue/Get",code="NOT_FOUND"} 4
prism_request_duration_seconds_bucket{namespace="a",method="KeyValue/Put",le="0.001"} 80
prism_request_duration_seconds_bucket{namespace="a",method="KeyValue/Put",le="0.01"} 90
prism_request_duration_seconds_bucket{namespace="a",method="KeyValue/Put",le="+Inf"} 90
prism_request_duration_seconds_bucket{namespace="a",method="KeyValue/Get",le="0.001"} 0
prism_request_duration_seconds_bucket{namespace="a",method="KeyValue/Get",le="0.01"} 10
prism_request_duration_seconds_bucket{namespace="a",method="KeyValue/Get",le="+Inf"} 10
"""


def test_parse_sums_methods_of_one_namespace() -> None:
    sample = parse(TEXT, "a")
    assert sample.requests == 100 and sample.errors == 4
    assert sample.buckets == {0.001: 80, 0.01: 100, float("inf"): 100}
    assert parse(TEXT, "b").requests == 7


def test_p99_interpolates_within_the_bucket() -> None:
    # rank 99 of 100 lies in (0.001, 0.01]: 80 below, 20 inside -> 0.001 + 0.009 * 19/20
    assert quantile(parse(TEXT, "a").buckets, 0.99) == pytest.approx(0.001 + 0.009 * 0.95)
    assert quantile({}, 0.99) is None


def test_delta_survives_a_counter_reset() -> None:
    before, now = parse(TEXT, "a"), parse(TEXT.replace(" 90\n", " 5\n"), "a")
    assert delta(now, before).requests == 15  # 5 + 10 after a restart of the Put series
