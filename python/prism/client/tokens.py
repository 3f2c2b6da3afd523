"""Idempotency tokens: a client-generated id plus its generation time.

The client makes one token per logical mutation and reuses it on every
retry of that mutation, so the server applies the write once. The time lets
the server expire remembered tokens and reject stale ones.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class IdempotencyToken:
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def new(cls) -> IdempotencyToken:
        return cls()
