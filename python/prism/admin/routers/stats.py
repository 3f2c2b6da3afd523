"""`GET /v1/namespaces/{name}/stats`: request rate, error rate (both per second) and p99
latency of a namespace, from every registered proxy's metrics."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from prism.admin.auth import StoreDep, Viewer
from prism.admin.problems import Problem, responses
from prism.admin.settings import AdminSettings, get_settings
from prism.admin.spec import NAME_PATTERN
from prism.admin.stats_scraper import StatsScraper
from prism.admin.store import now

router = APIRouter(prefix="/v1", tags=["stats"], responses=responses(401, 403, 422))


class NamespaceStats(BaseModel):
    namespace: str
    request_rate: float | None
    error_rate: float | None
    p99_seconds: float | None
    requests_total: float
    errors_total: float
    proxies_scraped: int
    #: Unix time of the sample, in seconds.
    at: float


@router.get("/namespaces/{name}/stats", responses=responses(404))
async def namespace_stats(
    name: Annotated[str, Path(pattern=NAME_PATTERN)],
    request: Request,
    _: Viewer,
    store: StoreDep,
    settings: Annotated[AdminSettings, Depends(get_settings)],
) -> NamespaceStats:
    if await run_in_threadpool(store.get_namespace, name) is None:
        raise Problem(404, f"namespace {name!r} not found")
    proxies = await run_in_threadpool(store.list_proxies)
    # Only proxies heard from lately: a gone proxy would cost a timeout on every call.
    fresh = now() - timedelta(seconds=settings.proxy_stale_s)
    addresses = sorted(
        {p["metrics_address"] for p in proxies if p["metrics_address"] and p["last_seen"] >= fresh}
    )
    scraper: StatsScraper = request.app.state.scraper
    return NamespaceStats(**await scraper.stats(name, addresses))
