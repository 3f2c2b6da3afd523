"""The conformance claims file (tests/conformance/claims.yaml) as Python values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from prism.errors import FailedPrecondition, Unimplemented

from . import LIMITS

CLAIMS_PATH = Path(__file__).resolve().parent.parent / "conformance" / "claims.yaml"
PATTERNS = ("keyvalue", "timeseries")


@dataclass(frozen=True)
class Target:
    """One backend under test for one pattern capability."""

    backend: str
    namespace: str
    pattern: str
    capability: str
    claimed_caps: frozenset[str]

    @property
    def claimed(self) -> bool:
        """Whether the backend claims the capability this test exercises."""
        return self.capability in self.claimed_caps

    def requires(self, capability: str) -> bool:
        """Whether the backend claims `capability` of this pattern (for set-up steps)."""
        return capability in self.claimed_caps

    def __str__(self) -> str:
        return f"{self.backend}-{self.capability}"


@cache
def load() -> dict[str, Any]:
    data = yaml.safe_load(CLAIMS_PATH.read_text())
    known = data["capabilities"]
    for backend, entry in data["backends"].items():
        assert "namespace" in entry, f"claims: backend {backend} has no namespace"
        for pattern in PATTERNS:
            unknown = set(entry.get(pattern, [])) - set(known[pattern])
            assert not unknown, f"claims: {backend} claims unknown {pattern} caps {unknown}"
            if entry.get(pattern):
                assert "core" in entry[pattern], f"claims: {backend} serves {pattern} without core"
    return data


def targets(pattern: str, capability: str) -> list[Target]:
    """Every backend serving `pattern`, each with its claims for that pattern."""
    data = load()
    assert capability in data["capabilities"][pattern], (
        f"{capability!r} is not a {pattern} capability in {CLAIMS_PATH.name}"
    )
    return [
        Target(backend, entry["namespace"], pattern, capability, frozenset(entry[pattern]))
        for backend, entry in data["backends"].items()
        if entry.get(pattern)
    ]


def extra_namespaces(defined: set[str]) -> list[dict[str, Any]]:
    """Namespaces for claimed backends that the base test config does not define."""
    out = []
    for backend, entry in load()["backends"].items():
        if entry["namespace"] in defined:
            continue
        ns: dict[str, Any] = {
            "name": entry["namespace"],
            "patterns": [p for p in PATTERNS if entry.get(p)],
            "backend": backend,
            "limits": dict(LIMITS),
        }
        if entry.get("config"):
            ns["config"] = entry["config"]
        out.append(ns)
    return out


REFUSED = (Unimplemented, FailedPrecondition)


def assert_refused(call: Callable[[], Any]) -> None:
    """An unclaimed capability is refused with UNIMPLEMENTED or FAILED_PRECONDITION."""
    with pytest.raises(REFUSED) as info:
        call()
    assert info.value.message, "refusal without a message"
