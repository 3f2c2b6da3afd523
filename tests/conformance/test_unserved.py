"""Two-sided claims, pattern level: a backend that does not serve a pattern has no
namespace of that pattern, and calls of that pattern on its namespace are refused with
FAILED_PRECONDITION naming what the namespace serves (e.g. KeyValue on Kafka)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from helpers import claims, unique
from prism.client import Event
from prism.errors import FailedPrecondition

CASES = claims.unserved()


@pytest.mark.parametrize(
    ("backend", "namespace", "pattern"), CASES, ids=[f"{b}-{p}" for b, _, p in CASES]
)
def test_unserved_pattern_is_refused(
    client: Any, backend: str, namespace: str, pattern: str
) -> None:
    if pattern == "keyvalue":
        kv = client.kv(namespace)
        calls = [lambda: kv.put(unique("k"), b"v"), lambda: kv.get(unique("k"))]
    else:
        ts = client.ts(namespace)
        event = Event(unique("s"), datetime.now(UTC), value=1.0)
        calls = [lambda: ts.append([event]), lambda: ts.query(unique("s"))]
    for call in calls:
        with pytest.raises(FailedPrecondition, match=f"does not serve {pattern}"):
            call()
