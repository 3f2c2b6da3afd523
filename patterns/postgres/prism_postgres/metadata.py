"""What this backend claims: the conformance suite tests exactly these claims."""

from __future__ import annotations

from collections.abc import Mapping

BACKEND_NAME = "postgres"

CAPABILITIES: Mapping[str, frozenset[str]] = {
    "keyvalue": frozenset({"core", "batch", "scan", "ttl", "cas"}),
    # `tail` is served by the core from appends through the proxy, catching up with query.
    "timeseries": frozenset({"core", "aggregate", "tail"}),
}

CLAIMED_PATTERNS: tuple[str, ...] = tuple(CAPABILITIES)
