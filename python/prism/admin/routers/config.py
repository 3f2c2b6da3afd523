"""`GET /v1/config?after=&wait=`: the long poll proxies follow to get namespace config.

Answers at once when the config version differs from `after` (newer, or older after the
admin's database was replaced), else waits up to `wait` seconds (at most 60) for a
mutation, then answers `{version}` alone so the proxy polls again.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from prism.admin.auth import StoreDep, Viewer
from prism.admin.problems import responses
from prism.admin.settings import AdminSettings, get_settings
from prism.admin.watch import ConfigWatch

router = APIRouter(prefix="/v1", tags=["config"], responses=responses(401, 403, 422))


class ConfigNamespace(BaseModel):
    name: str
    spec: dict[str, Any]
    version: int


class ConfigSnapshot(BaseModel):
    version: int
    #: Absent when the poll timed out with no change.
    namespaces: list[ConfigNamespace] | None = None


@router.get("/config", response_model_exclude_none=True)
async def get_config(
    request: Request,
    _: Viewer,
    store: StoreDep,
    settings: Annotated[AdminSettings, Depends(get_settings)],
    after: Annotated[
        int, Query(ge=-1, le=2**62, description="The version the caller has; -1 for none.")
    ] = -1,
    wait: Annotated[
        float, Query(ge=0, le=3600, description="Seconds to wait for a change (max 60).")
    ] = 0,
) -> ConfigSnapshot:
    watch: ConfigWatch = request.app.state.watch
    version = await watch.wait_changed(after, min(wait, settings.max_wait_s))
    if version == after:
        return ConfigSnapshot(version=version)
    version, rows = await run_in_threadpool(store.snapshot)
    return ConfigSnapshot(
        version=version,
        namespaces=[
            ConfigNamespace(name=r["name"], spec=r["spec"], version=r["version"]) for r in rows
        ],
    )
