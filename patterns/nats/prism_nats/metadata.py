"""What this backend claims: the conformance suite tests exactly these claims.

Not claimed, so refused by the core with UNIMPLEMENTED:
- keyvalue `batch`: JetStream (before server 2.12's atomic batch publish) has no
  multi-subject transaction, so a multi-key put or delete cannot be all-or-nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

BACKEND_NAME = "nats"

CAPABILITIES: Mapping[str, frozenset[str]] = {
    "keyvalue": frozenset({"core", "scan", "ttl", "cas"}),
    "timeseries": frozenset({"core", "aggregate", "tail"}),
}

CLAIMED_PATTERNS: tuple[str, ...] = tuple(CAPABILITIES)
