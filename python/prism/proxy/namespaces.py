"""Namespace specs (admin or YAML) -> validated NamespaceConfig, plugins and core JSON.

The admin's spec (RFC-001) carries more than the data plane needs (features,
consistency, retention); name, patterns, backend, config, limits, cache, and the security
blocks access, rate_limit, audit_required and schema (ADR-010) reach a proxy.
Validation and defaults are prism.config's, so a namespace means the same thing
from a YAML file and from the admin (e.g. a SQLite path defaults to <data_dir>/<name>.db).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from prism.config import (
    MEMORY_BACKEND,
    Config,
    NamespaceConfig,
    core_namespaces,
    load_config,
)
from prism.errors import ConfigError
from prism.plugins.api import BackendPlugin
from prism.security_config import parse_schema

# The spec fields a proxy acts on (those prism.config parses); the others (features,
# consistency, retention) are the admin's business. A schema comes only from the admin
# (it made the data keys), so it is parsed here rather than by the file parser.
_DATA_PLANE_KEYS = tuple(f.name for f in fields(NamespaceConfig) if f.name != "schema")


def from_spec(spec: Mapping[str, Any], data_dir: Path) -> NamespaceConfig:
    """Validate one admin spec the way a YAML namespace is validated (ConfigError)."""
    raw = {k: spec[k] for k in _DATA_PLANE_KEYS if spec.get(k) is not None}
    if "patterns" not in raw and isinstance(spec.get("pattern"), str):
        raw["patterns"] = [spec["pattern"]]  # RFC-001 allows `pattern: keyvalue`
    cfg = load_config({"namespaces": [raw], "data_dir": str(data_dir)})
    schema = parse_schema(spec.get("schema"), "namespaces[0].schema")
    return replace(cfg.namespaces[0], schema=schema)


def build_plugin(ns: NamespaceConfig, where: str = "") -> BackendPlugin:
    """A constructed (not started) plugin for a non-memory namespace; ConfigError names
    the field, prefixed by `where` (e.g. "namespaces[2]")."""
    from prism.plugins.registry import load_backend

    prefix = f"{where}." if where else ""
    try:
        cls = load_backend(ns.backend)
    except ConfigError as err:
        raise ConfigError(f"{prefix}backend: {err}") from err
    served = set(getattr(cls, "patterns", ns.patterns))
    missing = [p for p in ns.patterns if p not in served]
    if missing:
        raise ConfigError(
            f"{prefix}patterns: backend {ns.backend!r} does not serve {', '.join(missing)}"
        )
    try:
        return cls(ns.name, ns.config)
    except (ConfigError, ValueError, TypeError) as err:
        raise ConfigError(f"{prefix}config: {err}") from err


def build_plugins(cfg: Config) -> dict[str, Any]:
    """One plugin instance per non-memory namespace; ConfigError names the namespace field."""
    return {
        ns.name: build_plugin(ns, f"namespaces[{i}]")
        for i, ns in enumerate(cfg.namespaces)
        if ns.backend != MEMORY_BACKEND
    }


def claimed_capabilities(
    namespaces: Iterable[NamespaceConfig], plugins: Mapping[str, Any]
) -> dict[str, dict[str, list[str]]]:
    """Per plugin-backed namespace, the capabilities its backend claims for each pattern
    it serves; the core refuses calls needing others with UNIMPLEMENTED."""
    claims: dict[str, dict[str, list[str]]] = {}
    for ns in namespaces:
        plugin = plugins.get(ns.name)
        if plugin is None:
            continue  # native backends support every capability
        declared = getattr(plugin, "capabilities", {})
        claims[ns.name] = {p: sorted(declared.get(p, ())) for p in ns.patterns}
    return claims


def native_reads(
    namespaces: Iterable[NamespaceConfig], plugins: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Per plugin-backed namespace whose plugin offers one (`native_reads()`, e.g. redis),
    where the core reads the data itself instead of calling the plugin (ADR-003)."""
    entries: dict[str, dict[str, Any]] = {}
    for ns in namespaces:
        offer = getattr(plugins.get(ns.name), "native_reads", None)
        entry = offer() if callable(offer) else None
        if entry is not None:
            entries[ns.name] = dict(entry)
    return entries


def core_namespaces_json(namespaces: Iterable[NamespaceConfig], plugins: Mapping[str, Any]) -> str:
    """The list `prism._core.Proxy.update_namespaces` takes (and the core is started
    with), with the capabilities claimed by `plugins` and their native read paths."""
    namespaces = tuple(namespaces)
    return json.dumps(
        core_namespaces(
            namespaces,
            claimed_capabilities(namespaces, plugins),
            native_reads(namespaces, plugins),
        )
    )


def needs_new_plugin(old: NamespaceConfig | None, new: NamespaceConfig) -> bool:
    """A plugin is rebuilt only when what it was built from changed; a limits-only change
    is swapped in the core and keeps the running plugin (and its connections)."""
    if new.backend == MEMORY_BACKEND:
        return False
    return old is None or (old.backend, old.patterns, old.config) != (
        new.backend,
        new.patterns,
        new.config,
    )
