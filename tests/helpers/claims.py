"""The conformance claims file (tests/conformance/claims.yaml) as Python values."""

from __future__ import annotations

import os
import re
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
# Restricts the run to some backends (comma-separated), e.g. while developing a plugin.
# Unset: every backend in the claims file runs, so none can silently drop out of CI.
SELECT_ENV = "PRISM_CONFORMANCE_BACKENDS"
_PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")


def selected(backend: str) -> bool:
    chosen = os.environ.get(SELECT_ENV, "").strip()
    return not chosen or backend in {b.strip() for b in chosen.split(",")}


def uses(backend: str) -> bool:
    """Whether this run tests `backend` (it is in the claims file and selected)."""
    return backend in load()["backends"] and selected(backend)


def expand(value: Any, backend: str) -> Any:
    """Replace ${VAR} in config strings with the environment (the stack's endpoints)."""
    if isinstance(value, dict):
        return {k: expand(v, backend) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, backend) for v in value]
    if not isinstance(value, str):
        return value

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise RuntimeError(
                f"claims.yaml: backend {backend} needs ${name}; start the local stack "
                f"(`make stack-up`, then `eval $(python -m tooling.stack env)`) or set "
                f"{SELECT_ENV} to the backends you want to run"
            )
        return os.environ[name]

    return _PLACEHOLDER.sub(sub, value)


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
        if entry.get(pattern) and selected(backend)
    ]


def unserved() -> list[tuple[str, str, str]]:
    """(backend, namespace, pattern) for every selected backend and pattern it does not
    serve: the other side of the claims, checked by tests/conformance/test_unserved.py."""
    return [
        (backend, entry["namespace"], pattern)
        for backend, entry in load()["backends"].items()
        for pattern in PATTERNS
        if selected(backend) and not entry.get(pattern)
    ]


def extra_namespaces(defined: set[str]) -> list[dict[str, Any]]:
    """Namespaces for claimed backends that the base test config does not define."""
    out = []
    for backend, entry in load()["backends"].items():
        if entry["namespace"] in defined or not selected(backend):
            continue
        ns: dict[str, Any] = {
            "name": entry["namespace"],
            "patterns": [p for p in PATTERNS if entry.get(p)],
            "backend": backend,
            "limits": dict(LIMITS),
        }
        if entry.get("config"):
            ns["config"] = expand(entry["config"], backend)
        out.append(ns)
    return out


REFUSED = (Unimplemented, FailedPrecondition)


def assert_refused(call: Callable[[], Any]) -> None:
    """An unclaimed capability is refused with UNIMPLEMENTED or FAILED_PRECONDITION."""
    with pytest.raises(REFUSED) as info:
        call()
    assert info.value.message, "refusal without a message"
