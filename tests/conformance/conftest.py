"""Conformance suite: every test is generated per backend from claims.yaml.

A test declares the capability it exercises with `@pytest.mark.capability(pattern, cap)`
and takes the `target` fixture. `target.claimed` says whether the backend claims the
capability: claimed -> the test checks the semantics; not claimed -> the test checks
that the call is refused (`helpers.claims.assert_refused`). Nothing is skipped.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import claims
from helpers.claims import Target


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target" not in metafunc.fixturenames:
        return
    mark = metafunc.definition.get_closest_marker("capability")
    assert mark is not None, f"{metafunc.definition.nodeid}: no capability mark"
    pattern, capability = mark.args
    found = claims.targets(pattern, capability)
    metafunc.parametrize("target", found, ids=[str(t) for t in found])


@pytest.fixture
def kv(client: Any, target: Target) -> Any:
    return client.kv(target.namespace)


@pytest.fixture
def ts(client: Any, target: Target) -> Any:
    return client.ts(target.namespace)
