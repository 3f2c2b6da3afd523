"""Bearer-token authentication with roles viewer < operator < admin.

The bootstrap admin token is PRISM_ADMIN_TOKEN (compared, never stored); without it, an
admin token is generated when the tokens table is empty, printed once to stderr and only
its sha256 is stored. When OIDC is configured (prism.admin.oidc), a bearer that looks like
a JWT is verified against the issuer instead; its principal is `oidc:<sub>`.
"""

from __future__ import annotations

import hmac
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from prism.admin.oidc import OidcError, OidcVerifier, looks_like_jwt
from prism.admin.problems import Problem
from prism.admin.settings import AdminSettings, get_settings
from prism.admin.store import Store

Role = Literal["viewer", "operator", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "operator", "admin")
_RANK = {role: i for i, role in enumerate(ROLES)}
_CHALLENGE = {"WWW-Authenticate": "Bearer"}

# auto_error=False: a missing header becomes our own 401 problem, not FastAPI's 403.
_bearer = HTTPBearer(auto_error=False, description="An admin API token or an OIDC JWT.")


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role


def bootstrap(store: Store, settings: AdminSettings) -> str | None:
    """Make sure some admin can log in; returns a newly generated token, if any."""
    if settings.bootstrap_token or store.count_tokens() > 0:
        return None
    _record, secret = store.create_token("bootstrap", "admin", actor="system")
    print(f"prism: admin token (shown once): {secret}", file=sys.stderr, flush=True)
    return secret


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_oidc(request: Request) -> OidcVerifier | None:
    verifier: OidcVerifier | None = getattr(request.app.state, "oidc", None)
    return verifier


def authenticate(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    settings: Annotated[AdminSettings, Depends(get_settings)],
    store: Annotated[Store, Depends(get_store)],
    oidc: Annotated[OidcVerifier | None, Depends(get_oidc)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(401, "missing bearer token", headers=_CHALLENGE)
    token = credentials.credentials
    if settings.bootstrap_token and hmac.compare_digest(
        token.encode("utf-8"), settings.bootstrap_token.encode("utf-8")
    ):
        return Principal("bootstrap", "admin")
    if oidc is not None and looks_like_jwt(token):
        try:
            identity = oidc.verify(token)
        except OidcError as err:
            headers = _CHALLENGE if err.status == 401 else None
            raise Problem(err.status, f"OIDC token refused: {err.reason}", headers=headers) from err
        return Principal(f"oidc:{identity.subject}", cast(Role, identity.role))
    record = store.find_token(token)
    if record is None:
        raise Problem(401, "invalid or revoked token", headers=_CHALLENGE)
    return Principal(str(record["name"]), record["role"])


def require(role: Role) -> Callable[[Principal], Principal]:
    """A dependency admitting principals with at least `role`."""

    def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if _RANK[principal.role] < _RANK[role]:
            raise Problem(403, f"role {principal.role!r} may not do this: needs {role!r}")
        return principal

    return check


Viewer = Annotated[Principal, Depends(require("viewer"))]
Operator = Annotated[Principal, Depends(require("operator"))]
Admin = Annotated[Principal, Depends(require("admin"))]
StoreDep = Annotated[Store, Depends(get_store)]
