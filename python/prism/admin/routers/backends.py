"""Backends: the installed ones with their patterns, claims and config schema; health of
the namespaces each one serves."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from prism.admin.auth import StoreDep, Viewer
from prism.admin.problems import Problem, responses
from prism.admin.spec import NAME_PATTERN, NamespaceSpec
from prism.admin.validation import check_config, installed_backends
from prism.config import MEMORY_BACKEND, PATTERNS
from prism.errors import ConfigError
from prism.plugins.api import CAPABILITIES, BackendPlugin
from prism.plugins.registry import load_backend

router = APIRouter(prefix="/v1", tags=["backends"], responses=responses(401, 403, 422))
HEALTH_TIMEOUT_S = 5.0


class ConfigField(BaseModel):
    name: str
    type: str
    required: bool
    default: Any = None


class BackendInfo(BaseModel):
    name: str
    patterns: list[str]
    capabilities: dict[str, list[str]]
    config_schema: list[ConfigField]
    namespaces: list[str]


class NamespaceHealth(BaseModel):
    name: str
    healthy: bool
    detail: str = ""


class BackendHealth(BaseModel):
    name: str
    healthy: bool
    namespaces: list[NamespaceHealth]


def _load(name: str) -> type[BackendPlugin] | None:
    if name == MEMORY_BACKEND:
        return None
    if name not in installed_backends():
        installed = ", ".join(installed_backends())
        raise Problem(404, f"backend {name!r} not found (installed: {installed})")
    try:
        return load_backend(name)
    except ConfigError as err:
        raise Problem(502, str(err)) from err


def _config_schema(cls: type[BackendPlugin] | None) -> list[ConfigField]:
    """Fields of the plugin's config dataclass (`<package>.config`, with from_mapping)."""
    if cls is None:
        return []
    try:
        module = importlib.import_module(cls.__module__.rsplit(".", 1)[0] + ".config")
    except ImportError:
        return []
    for value in vars(module).values():
        if dataclasses.is_dataclass(value) and hasattr(value, "from_mapping"):
            return [
                ConfigField(
                    name=f.name,
                    type=str(f.type),
                    required=f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING,
                    default=None if f.default is dataclasses.MISSING else f.default,
                )
                for f in dataclasses.fields(value)
            ]
    return []


def _info(name: str, used_by: list[str]) -> BackendInfo:
    cls = _load(name)
    if cls is None:
        patterns = list(PATTERNS)
        claims = {p: list(CAPABILITIES[p]) for p in PATTERNS}
    else:
        patterns = list(cls.patterns)
        claims = {p: sorted(cls.capabilities.get(p, ())) for p in cls.patterns}
    return BackendInfo(
        name=name,
        patterns=patterns,
        capabilities=claims,
        config_schema=_config_schema(cls),
        namespaces=used_by,
    )


@router.get("/backends")
async def list_backends(_: Viewer, store: StoreDep) -> list[BackendInfo]:
    rows = await run_in_threadpool(store.list_namespaces)
    return [
        _info(name, [r["name"] for r in rows if r["spec"].get("backend") == name])
        for name in installed_backends()
    ]


@router.get("/backends/{name}/health", responses=responses(404, 502))
async def backend_health(
    name: Annotated[str, Path(pattern=NAME_PATTERN)], _: Viewer, store: StoreDep
) -> BackendHealth:
    """Connects to the backend once per namespace on it and asks the plugin's health."""
    cls = _load(name)
    rows = await run_in_threadpool(store.list_namespaces)
    specs = [NamespaceSpec.model_validate(r["spec"]) for r in rows]
    specs = [s for s in specs if s.backend == name]
    checks = await asyncio.gather(*(_namespace_health(cls, s) for s in specs))
    return BackendHealth(name=name, healthy=all(c.healthy for c in checks), namespaces=checks)


async def _namespace_health(
    cls: type[BackendPlugin] | None, spec: NamespaceSpec
) -> NamespaceHealth:
    if cls is None:
        return NamespaceHealth(name=spec.name, healthy=True, detail="native")
    try:
        plugin = check_config(cls, spec)
    except Problem as err:
        return NamespaceHealth(name=spec.name, healthy=False, detail=err.detail)
    try:
        await asyncio.wait_for(plugin.start(), HEALTH_TIMEOUT_S)
        healthy = await asyncio.wait_for(plugin.health(), HEALTH_TIMEOUT_S)
        return NamespaceHealth(name=spec.name, healthy=bool(healthy))
    except Exception as err:
        return NamespaceHealth(name=spec.name, healthy=False, detail=f"{type(err).__name__}: {err}")
    finally:
        try:
            await plugin.close()
        except Exception:  # health reporting must not fail on a close error
            pass
