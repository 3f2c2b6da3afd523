"""OIDC bearer JWTs for the admin API (ADR-010), beside the API tokens.

A token is accepted when it is signed by a key of the issuer's JWKS (RS*, ES* or PS*;
`none` and HMAC are refused: the admin shares no secret with the issuer), its `iss` and
`aud` match, and `exp`/`nbf` hold with a little leeway. The role comes from one claim
(`prism_role` by default): a string or a list, the highest of viewer/operator/admin wins.
The JWKS is fetched lazily (from the configured URL, else the issuer's discovery
document) and cached by PyJWKClient, which refetches when a token names an unknown kid.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from prism.admin.settings import AdminSettings

ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512")
ROLES = ("viewer", "operator", "admin")
FETCH_TIMEOUT_S = 10.0
JWKS_LIFESPAN_S = 300.0


class OidcError(Exception):
    """A refused token; `status` is 401 (bad token), 403 (no role) or 503 (no keys)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class OidcIdentity:
    subject: str
    role: str


def looks_like_jwt(token: str) -> bool:
    """JWS compact form: three base64url parts. API tokens (`prism_...`) have no dots."""
    return token.count(".") == 2


class OidcVerifier:
    def __init__(self, settings: AdminSettings) -> None:
        if not settings.oidc_audience:
            raise ValueError("PRISM_ADMIN_OIDC_AUDIENCE: is required to accept OIDC tokens")
        if not (settings.oidc_issuer or settings.oidc_jwks_url):
            raise ValueError(
                "PRISM_ADMIN_OIDC_ISSUER or PRISM_ADMIN_OIDC_JWKS_URL: one is needed to find "
                "the issuer's keys"
            )
        self.issuer = settings.oidc_issuer
        self.audience = settings.oidc_audience
        self.role_claim = settings.oidc_role_claim
        self.leeway = settings.oidc_leeway_s
        self._jwks_url = settings.oidc_jwks_url
        self._jwks: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: AdminSettings) -> OidcVerifier | None:
        """None when OIDC is not configured (no issuer, audience or JWKS URL)."""
        if not (settings.oidc_issuer or settings.oidc_audience or settings.oidc_jwks_url):
            return None
        return cls(settings)

    def verify(self, token: str) -> OidcIdentity:
        """The token's subject and role; OidcError naming the reason otherwise."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as err:
            raise OidcError(401, f"malformed token: {err}") from err
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise OidcError(
                401, f"token algorithm {alg!r} is not allowed (use one of {', '.join(ALGORITHMS)})"
            )
        key = self._signing_key(token)
        claims = self._decode(token, key, alg)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise OidcError(401, "token has no subject (sub)")
        return OidcIdentity(subject=subject, role=self._role(claims))

    # -- steps --------------------------------------------------------------------------

    def _signing_key(self, token: str) -> Any:
        try:
            return self._client().get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientConnectionError as err:
            raise OidcError(503, f"cannot fetch the issuer's keys: {err}") from err
        except (jwt.PyJWKClientError, jwt.DecodeError) as err:
            raise OidcError(401, f"unknown signing key: {err}") from err

    def _decode(self, token: str, key: Any, alg: str) -> dict[str, Any]:
        required = ["exp", "aud", "sub"] + (["iss"] if self.issuer else [])
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": required},
            )
        except jwt.ExpiredSignatureError as err:
            raise OidcError(401, "token expired") from err
        except jwt.ImmatureSignatureError as err:
            raise OidcError(401, "token not yet valid (nbf)") from err
        except jwt.InvalidAudienceError as err:
            raise OidcError(401, f"wrong audience: expected {self.audience!r}") from err
        except jwt.InvalidIssuerError as err:
            raise OidcError(401, f"wrong issuer: expected {self.issuer!r}") from err
        except jwt.InvalidSignatureError as err:
            raise OidcError(401, "bad signature") from err
        except jwt.MissingRequiredClaimError as err:
            raise OidcError(401, f"token has no {err.claim!r} claim") from err
        except jwt.InvalidTokenError as err:
            raise OidcError(401, f"invalid token: {err}") from err
        return claims

    def _role(self, claims: dict[str, Any]) -> str:
        value = claims.get(self.role_claim)
        values = value if isinstance(value, list) else [value]
        ranked = [ROLES.index(v) for v in values if isinstance(v, str) and v in ROLES]
        if not ranked:
            raise OidcError(
                403,
                f"token grants no admin role: claim {self.role_claim!r} must be one of "
                f"{', '.join(ROLES)}",
            )
        return ROLES[max(ranked)]

    def _client(self) -> jwt.PyJWKClient:
        with self._lock:
            if self._jwks is None:
                url = self._jwks_url or self._discover()
                self._jwks = jwt.PyJWKClient(
                    url, cache_keys=True, lifespan=JWKS_LIFESPAN_S, timeout=FETCH_TIMEOUT_S
                )
            return self._jwks

    def _discover(self) -> str:
        assert self.issuer is not None  # checked in __init__ when there is no JWKS URL
        url = f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"
        try:
            resp = httpx.get(url, timeout=FETCH_TIMEOUT_S)
            resp.raise_for_status()
            jwks_uri = resp.json().get("jwks_uri")
        except (httpx.HTTPError, ValueError, AttributeError) as err:
            raise OidcError(503, f"cannot discover the issuer's keys at {url}: {err}") from err
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise OidcError(503, f"{url} names no jwks_uri")
        return jwks_uri
