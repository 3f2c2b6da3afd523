"""What this backend claims: the conformance suite tests exactly these claims."""

from __future__ import annotations

from collections.abc import Mapping

BACKEND_NAME = "redis"

CAPABILITIES: Mapping[str, frozenset[str]] = {
    "keyvalue": frozenset({"core", "batch", "scan", "ttl", "cas"}),
    "timeseries": frozenset({"core", "aggregate", "tail"}),
}

CLAIMED_PATTERNS: tuple[str, ...] = tuple(CAPABILITIES)

#: Layout version of the keys under a namespace prefix, recorded by provisioning so that
#: a future incompatible layout is refused instead of misread.
DATA_FORMAT = "1"
