"""Provision and deprovision a namespace's backend resources through its plugin.

Provisioning is the plugin's own idempotent `start()` (tables, files, topics) followed by
`close()`: the admin holds no connections afterwards; proxies open their own.
"""

from __future__ import annotations

import asyncio

from prism.admin.problems import Problem
from prism.admin.spec import NamespaceSpec
from prism.admin.validation import check_config
from prism.errors import PrismError, Unimplemented
from prism.plugins.api import BackendPlugin


async def provision(cls: type[BackendPlugin] | None, spec: NamespaceSpec, timeout_s: float) -> None:
    """Create the backend resources of `spec`; 503 when unreachable, 502 when it fails."""
    if cls is None:
        return  # the native memory backend has nothing to provision
    plugin = check_config(cls, spec)
    try:
        await asyncio.wait_for(plugin.start(), timeout_s)
    except TimeoutError as err:
        await _close_quietly(plugin)
        raise Problem(
            503, f"backend {spec.backend!r}: provisioning timed out after {timeout_s:g} s"
        ) from err
    except Exception as err:
        await _close_quietly(plugin)
        status = 503 if isinstance(err, PrismError) and err.is_retriable() else 502
        raise Problem(status, f"backend {spec.backend!r}: provisioning failed: {err}") from err
    await _close_quietly(plugin)


def supports_deprovision(cls: type[BackendPlugin] | None) -> bool:
    return cls is not None and cls.deprovision is not BackendPlugin.deprovision


async def deprovision(cls: type[BackendPlugin] | None, spec: NamespaceSpec) -> None:
    """Drop the namespace's backend data; 501 when the backend cannot."""
    if cls is None:
        return  # memory data goes away with the namespace
    if not supports_deprovision(cls):
        raise Problem(501, f"deprovision not supported by backend {spec.backend}")
    plugin = check_config(cls, spec)
    try:
        await plugin.deprovision()
    except Unimplemented as err:
        raise Problem(501, f"deprovision not supported by backend {spec.backend}") from err
    except Exception as err:
        raise Problem(502, f"backend {spec.backend!r}: deprovisioning failed: {err}") from err
    finally:
        await _close_quietly(plugin)


async def _close_quietly(plugin: BackendPlugin) -> None:
    try:
        await plugin.close()
    except Exception:  # closing a half-started plugin must not hide the first error
        pass
