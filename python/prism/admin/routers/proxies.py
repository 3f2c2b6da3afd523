"""Proxies: heartbeats (address, metrics address, config version run) and the list."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from prism.admin.auth import Operator, StoreDep, Viewer
from prism.admin.problems import responses
from prism.admin.settings import AdminSettings, get_settings
from prism.admin.store import now

router = APIRouter(prefix="/v1", tags=["proxies"], responses=responses(401, 403, 422))
PROXY_ID = r"^[A-Za-z0-9_.:@-]{1,128}$"
ADDRESS = r"^[A-Za-z0-9_.\-\[\]:]{1,250}:[0-9]{1,5}$"  # HOST:PORT, IPv6 in brackets


class Heartbeat(BaseModel):
    address: str = Field(pattern=ADDRESS, description="The proxy's gRPC HOST:PORT.")
    metrics_address: str | None = Field(
        None, pattern=ADDRESS, description="HOST:PORT serving /metrics."
    )
    config_version: int = Field(ge=0, le=2**62, description="The config version it runs.")


class ProxyRecord(BaseModel):
    id: str
    address: str
    metrics_address: str | None
    config_version: int
    last_seen: datetime
    healthy: bool
    #: How many config versions it is behind the admin.
    lag: int


class HeartbeatAck(BaseModel):
    proxy: ProxyRecord
    #: The admin's current config version: a proxy behind it should poll now.
    config_version: int


def _proxy(row: dict[str, Any], version: int, stale_s: float) -> ProxyRecord:
    healthy = now() - row["last_seen"] <= timedelta(seconds=stale_s)
    lag = max(0, version - int(row["config_version"]))
    return ProxyRecord(**row, healthy=healthy, lag=lag)


@router.post("/proxies/{proxy_id}/heartbeat")
async def heartbeat(
    proxy_id: Annotated[str, Path(pattern=PROXY_ID)],
    body: Heartbeat,
    _: Operator,
    store: StoreDep,
    settings: Annotated[AdminSettings, Depends(get_settings)],
) -> HeartbeatAck:
    row = await run_in_threadpool(
        store.heartbeat, proxy_id, body.address, body.metrics_address, body.config_version
    )
    version = await run_in_threadpool(store.config_version)
    return HeartbeatAck(proxy=_proxy(row, version, settings.proxy_stale_s), config_version=version)


@router.get("/proxies")
async def list_proxies(
    _: Viewer, store: StoreDep, settings: Annotated[AdminSettings, Depends(get_settings)]
) -> list[ProxyRecord]:
    rows = await run_in_threadpool(store.list_proxies)
    version = await run_in_threadpool(store.config_version)
    return [_proxy(r, version, settings.proxy_stale_s) for r in rows]
