"""Validate a namespace spec against the installed backends: the backend exists, serves
the patterns, claims every requested feature, and its plugin accepts the config.

Every refusal is a 422 Problem naming the field (`backend`, `patterns[j]`,
`features[i]`, `config.<field>`), as RFC-001 requires.
"""

from __future__ import annotations

import re
from pathlib import Path

from prism.admin.problems import Problem, invalid
from prism.admin.spec import NamespaceSpec
from prism.config import MEMORY_BACKEND
from prism.errors import ConfigError
from prism.plugins.api import CAPABILITIES, BackendPlugin
from prism.plugins.registry import available_backends, load_backend

# Plugin config errors name the field as `field 'x'` or `unknown field 'x'`.
_FIELD_IN_MESSAGE = re.compile(r"field '([^']+)'")


def installed_backends() -> list[str]:
    return sorted({*available_backends(), MEMORY_BACKEND})


def normalize(spec: NamespaceSpec, data_dir: Path) -> NamespaceSpec:
    """Resolve what `prism serve` would resolve: a SQLite namespace's file defaults to
    <name>.db and a relative path is taken inside the admin's data directory, so the
    stored spec means the same file wherever a proxy runs it."""
    if spec.backend != "sqlite":
        return spec
    config = dict(spec.config)
    path = config.get("path", f"{spec.name}.db")
    if isinstance(path, str) and path and path != ":memory:":
        config["path"] = str(data_dir / Path(path).expanduser())
    return spec.model_copy(update={"config": config})


def validate(spec: NamespaceSpec) -> type[BackendPlugin] | None:
    """Check `spec`; returns the plugin class (None for the native memory backend)."""
    if spec.backend == MEMORY_BACKEND:
        if spec.config:
            raise invalid("config", "the memory backend takes no config")
        _check_known_features(spec)
        return None
    if spec.backend not in available_backends():
        raise invalid(
            "backend",
            f"unknown backend {spec.backend!r} (installed: {', '.join(installed_backends())})",
        )
    try:
        cls = load_backend(spec.backend)
    except ConfigError as err:
        raise invalid("backend", str(err)) from err
    served = set(cls.patterns)
    for j, pattern in enumerate(spec.patterns):
        if pattern not in served:
            raise invalid(f"patterns[{j}]", f"backend {spec.backend!r} does not serve {pattern}")
    _check_known_features(spec, per_pattern=False)
    for i, feature in enumerate(spec.features):
        claimed = [p for p in spec.patterns if feature in cls.capabilities.get(p, frozenset())]
        if not claimed:
            raise invalid(
                f"features[{i}]",
                f"backend {spec.backend!r} does not claim {feature!r} for "
                f"{', '.join(spec.patterns)}",
            )
    check_config(cls, spec)
    return cls


def check_config(cls: type[BackendPlugin], spec: NamespaceSpec) -> BackendPlugin:
    """Construct the plugin: its constructor validates the config (no I/O)."""
    try:
        return cls(spec.name, spec.config)
    except (ConfigError, ValueError, TypeError) as err:
        match = _FIELD_IN_MESSAGE.search(str(err))
        field = f"config.{match.group(1)}" if match else "config"
        raise invalid(field, str(err)) from err
    except Exception as err:  # a plugin bug must not become a 500 of the admin
        raise Problem(
            502, f"backend {spec.backend!r}: constructing the plugin failed: {err}"
        ) from err


def _check_known_features(spec: NamespaceSpec, per_pattern: bool = True) -> None:
    """Each feature must be a capability of some pattern (with `per_pattern`: of a pattern
    the namespace serves; plugin backends check that against their claims instead)."""
    every = {c for caps in CAPABILITIES.values() for c in caps}
    for i, feature in enumerate(spec.features):
        if feature not in every:
            raise invalid(
                f"features[{i}]",
                f"unknown feature {feature!r} (known: {', '.join(sorted(every))})",
            )
        if per_pattern and not any(feature in CAPABILITIES.get(p, ()) for p in spec.patterns):
            raise invalid(
                f"features[{i}]",
                f"{feature!r} is not a capability of {', '.join(spec.patterns)}",
            )
