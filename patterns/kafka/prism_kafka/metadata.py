"""What this backend claims: the conformance suite tests exactly these claims."""

from __future__ import annotations

from collections.abc import Mapping

BACKEND_NAME = "kafka"

# TimeSeries only: a Kafka log has no point reads, updates or deletes by key, so it would
# serve KeyValue badly (see keyvalue.py). Tail is served by the core from appends that go
# through the proxy plus a query catch-up, so it needs nothing of the plugin.
CAPABILITIES: Mapping[str, frozenset[str]] = {
    "timeseries": frozenset({"core", "aggregate", "tail"}),
}

CLAIMED_PATTERNS: tuple[str, ...] = tuple(CAPABILITIES)
