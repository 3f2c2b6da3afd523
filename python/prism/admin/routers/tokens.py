"""API tokens with roles (admin only). The secret is shown once, at creation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from prism.admin.auth import Admin, Role, StoreDep
from prism.admin.problems import responses

router = APIRouter(prefix="/v1", tags=["tokens"], responses=responses(401, 403, 422))


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    role: Role


class TokenRecord(BaseModel):
    id: str
    name: str
    role: Role
    created_at: datetime


class NewToken(TokenRecord):
    #: The bearer secret; it cannot be read again.
    token: str


@router.post("/tokens", status_code=201)
async def create_token(body: TokenCreate, who: Admin, store: StoreDep) -> NewToken:
    record, secret = await run_in_threadpool(store.create_token, body.name, body.role, who.name)
    return NewToken(**record, token=secret)


@router.get("/tokens")
async def list_tokens(_: Admin, store: StoreDep) -> list[TokenRecord]:
    return [TokenRecord(**r) for r in await run_in_threadpool(store.list_tokens)]


@router.delete("/tokens/{token_id}", status_code=204, responses=responses(404))
async def delete_token(
    token_id: Annotated[str, Path(max_length=32)], who: Admin, store: StoreDep
) -> Response:
    await run_in_threadpool(store.delete_token, token_id, who.name)
    return Response(status_code=204)
