"""`GET /healthz`: liveness plus the config version (no token needed)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from prism.admin.auth import StoreDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    config_version: int


@router.get("/healthz")
async def healthz(store: StoreDep) -> Health:
    return Health(status="ok", config_version=await run_in_threadpool(store.config_version))
