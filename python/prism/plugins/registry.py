"""Find backend plugin classes through the `prism.backends` entry point group.

A backend package declares, in its pyproject.toml:

    [project.entry-points."prism.backends"]
    sqlite = "prism_sqlite.plugin:SqlitePlugin"

`memory` is a native backend implemented in the Rust core: it never goes through the
bridge, so it is not a plugin and is not listed here (see NATIVE_BACKENDS).
"""

from __future__ import annotations

from importlib.metadata import entry_points

from prism.errors import ConfigError
from prism.plugins.api import BackendPlugin

GROUP = "prism.backends"
NATIVE_BACKENDS = frozenset({"memory"})


def available_backends() -> list[str]:
    """Names of the installed plugin backends, sorted (native backends excluded)."""
    return sorted({ep.name for ep in entry_points(group=GROUP)})


def load_backend(name: str) -> type[BackendPlugin]:
    """Import and return the plugin class registered as `name`.

    Raises ConfigError when it is native, missing, or not a BackendPlugin subclass.
    """
    if name in NATIVE_BACKENDS:
        raise ConfigError(f"backend '{name}' is native to the Rust core, not a plugin")
    matches = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not matches:
        installed = ", ".join(available_backends()) or "none"
        raise ConfigError(
            f"backend '{name}' is not installed; installed plugin backends: {installed} "
            f"(native: {', '.join(sorted(NATIVE_BACKENDS))})"
        )
    try:
        cls = matches[0].load()
    except Exception as exc:
        raise ConfigError(
            f"backend '{name}' failed to import: {type(exc).__name__}: {exc}"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, BackendPlugin)):
        raise ConfigError(f"backend '{name}' entry point does not name a BackendPlugin class")
    return cls
