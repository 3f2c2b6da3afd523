"""The three judges of a namespace spec agree (property test over generated specs).

A spec is checked by the admin (pydantic model and backend checks, for the API and its
422s), by the proxies' parser (prism.config, for files and for admin snapshots) and by
the Rust core (when the proxy hands it the table). Where they disagree a user loses:
  - the admin stores a spec no proxy will run (the proxies keep the old table and log);
  - `prism serve --config` serves a file namespace the embedded admin then refuses
    (exit 2 after the data plane was already up).
So: whatever the admin accepts, the proxy parser and the core accept in its stored
form; whatever the proxy parser accepts from a file, the core and the admin accept.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prism import _core
from prism.admin.problems import Problem
from prism.admin.spec import NamespaceSpec
from prism.admin.validation import normalize, validate
from prism.cli.serve import namespace_spec
from prism.config import ServerConfig, core_namespaces
from prism.errors import ConfigError
from prism.proxy.namespaces import from_spec
from pydantic import ValidationError

DATA_DIR = Path("/var/tmp/prism-spec-agreement")

# Values around every bound either judge has, and values of the wrong type.
INTS = st.sampled_from([-1, 0, 1, 100, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**53, 2**53 + 1, 2**64])
NUMBERS = st.one_of(INTS, st.sampled_from([0.5, 1e12, 1.5e12, float("inf"), float("nan")]))
ODD = st.sampled_from([True, "10", None, [], {}, "yes"])
SELECTORS = st.lists(
    st.sampled_from(
        ["*", "alice", "group:ops", "claim:tier=gold", "cert:spiffe://a", "", "group:"]
    ),
    max_size=2,
)
LIMITS = ["max_key_bytes", "max_value_bytes", "max_batch_items", "max_page_items",
          "max_page_bytes", "default_page_items", "default_page_bytes"]  # fmt: skip

# (block, field) -> what to try there; `None` block: a top-level field.
FIELDS: dict[tuple[str | None, str], st.SearchStrategy[Any]] = {
    (None, "name"): st.sampled_from(["", "bad name", "x" * 128, "x" * 129, "a.b-c_1"]),
    (None, "patterns"): st.lists(st.sampled_from(["keyvalue", "timeseries", "queue"]), max_size=3),
    (None, "audit_required"): st.booleans(),
    **{("limits", key): INTS for key in LIMITS},
    ("cache", "enabled"): st.booleans(),
    ("cache", "max_entries"): NUMBERS,
    ("cache", "max_bytes"): NUMBERS,
    ("cache", "ttl_seconds"): NUMBERS,
    **{("access", key): SELECTORS for key in ("read", "write", "admin", "pii_read")},
    ("rate_limit", "requests_per_second"): NUMBERS,
    ("rate_limit", "per_principal_requests_per_second"): NUMBERS,
    ("rate_limit", "burst"): INTS,
    ("rate_limit", "per_principal_burst"): INTS,
}


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid spec with one to three fields set to a boundary or a wrong-typed value:
    random whole specs are almost never valid enough to reach the bounds."""
    spec: dict[str, Any] = {
        "name": "orders",
        "backend": draw(st.sampled_from(["memory", "sqlite"])),
    }
    for block, key in draw(st.lists(st.sampled_from(list(FIELDS)), min_size=1, max_size=3)):
        value = draw(st.one_of(FIELDS[(block, key)], FIELDS[(block, key)], ODD))
        if block is None:
            spec[key] = value
        else:
            spec.setdefault(block, {})[key] = value
    return spec


SPECS = specs()


# The same examples on every run (no example database): CI cannot fail on a new draw.
AGREEMENT = settings(
    max_examples=600,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def admin_accepts(raw: dict[str, Any]) -> dict[str, Any] | None:
    """The spec as the admin would store it, or None when it answers 422."""
    try:
        spec = normalize(NamespaceSpec.model_validate(raw), DATA_DIR)
        validate(spec)
    except (ValidationError, Problem):
        return None
    return spec.model_dump(mode="json")


def core_refusal(ns: Any) -> str | None:
    config = {"server": asdict(ServerConfig()), "namespaces": core_namespaces([ns])}
    try:
        _core.Proxy(json.dumps(config), _core.Bridge())
    except ValueError as err:
        return str(err)
    return None


@AGREEMENT
@given(SPECS)
def test_what_the_admin_stores_the_proxy_and_the_core_run(raw: dict[str, Any]) -> None:
    stored = admin_accepts(raw)
    if stored is None:
        return
    try:
        ns = from_spec(stored, DATA_DIR)
    except ConfigError as err:
        pytest.fail(f"the admin stores {stored} but the proxy refuses it: {err}")
    assert core_refusal(ns) is None, f"the admin stores {stored}; the core: {core_refusal(ns)}"


@AGREEMENT
@given(SPECS)
def test_what_a_file_may_hold_the_core_and_the_admin_take(raw: dict[str, Any]) -> None:
    try:
        ns = from_spec(raw, DATA_DIR)
    except ConfigError:
        return
    assert core_refusal(ns) is None, f"a file may hold {raw}; the core: {core_refusal(ns)}"
    spec = namespace_spec(ns)
    assert admin_accepts(spec) is not None, f"a file may hold {raw}; the admin refuses {spec}"
