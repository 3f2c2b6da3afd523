"""Problem-details JSON (RFC 9457) for every error the admin returns.

Handlers raise `Problem`; FastAPI's own errors (404 route, 405, request validation) are
turned into the same shape by `install_handlers`, so clients parse one format.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"


class FieldError(BaseModel):
    field: str
    message: str


class ProblemBody(BaseModel):
    """The problem-details document; `errors` names the offending fields, if any."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = ""
    errors: list[FieldError] = []


class Problem(Exception):
    """Raise from a handler to answer with problem details."""

    def __init__(
        self,
        status: int,
        detail: str,
        errors: Sequence[tuple[str, str]] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = [FieldError(field=f, message=m) for f, m in errors]
        self.headers = headers


def invalid(field: str, message: str) -> Problem:
    """422 naming one field."""
    return Problem(422, f"{field}: {message}", [(field, message)])


def problem_response(
    status: int,
    detail: str,
    errors: Sequence[FieldError] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body = ProblemBody(title=title, status=status, detail=detail, errors=list(errors))
    return JSONResponse(
        body.model_dump(), status_code=status, media_type=MEDIA_TYPE, headers=headers
    )


def field_path(loc: Sequence[Any]) -> str:
    """("body", "spec", "features", 0) -> "spec.features[0]"; the request part is dropped."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "body"


def validation_errors(errors: Sequence[Any]) -> list[FieldError]:
    found: list[FieldError] = []
    for err in errors:
        loc = [p for p in err.get("loc", ()) if not _is_wrapper(p)]
        found.append(FieldError(field=field_path(loc), message=str(err.get("msg", "invalid"))))
    return found


def _is_wrapper(part: Any) -> bool:
    # pydantic puts validator names ("function-after[...]") in loc; they are not fields.
    return isinstance(part, str) and ("[" in part and "]" in part and "(" not in part)


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.detail, exc.errors, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc.errors())
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or "invalid request"
        return problem_response(422, detail, errors)

    @app.exception_handler(ValidationError)
    async def _model_invalid(_: Request, exc: ValidationError) -> JSONResponse:
        errors = validation_errors(exc.errors())
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or "invalid request"
        return problem_response(422, detail, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("admin: unexpected error")
        return problem_response(500, f"internal error: {type(exc).__name__}")


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for problem-details answers with these statuses."""
    return {
        status: {
            "model": ProblemBody,
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemBody"}}},
            "description": HTTPStatus(status).phrase,
        }
        for status in statuses
    }
