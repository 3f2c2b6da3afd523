"""Backend plugins: the batch-first interface, the host thread and the registry.

Backends other than the native ones (`memory`, implemented in Rust) are Python packages
that register a class under the `prism.backends` entry point group; the Rust core reaches
them through the bridge served by `PluginHost`.
"""

from prism.plugins.api import BackendPlugin, KeyValueBackend, TimeSeriesBackend
from prism.plugins.host import PluginHost
from prism.plugins.registry import available_backends, load_backend

__all__ = [
    "BackendPlugin",
    "KeyValueBackend",
    "PluginHost",
    "TimeSeriesBackend",
    "available_backends",
    "load_backend",
]
