"""AdminClient: the admin REST API (RFC-001) over httpx.

Every non-2xx answer becomes a CtlError carrying the server's problem-details `detail`
and field `errors`, so the command prints what the server said rather than a status line.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from prism.ctl.config import Profile
from prism.ctl.errors import CtlError

TIMEOUT_S = 15.0


class AdminClient:
    def __init__(self, admin_url: str, token: str, *, timeout: float = TIMEOUT_S) -> None:
        self.admin_url = admin_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.admin_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
        )

    @classmethod
    def for_profile(cls, profile: Profile) -> AdminClient:
        return cls(profile.admin_url, profile.token)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """The decoded JSON body (None for an empty one); CtlError on any failure."""
        try:
            resp = self._http.request(method, path, params=params, json=json)
        except httpx.TransportError as err:
            raise CtlError(f"cannot reach the admin at {self.admin_url}: {err}") from err
        if resp.is_success:
            if not resp.content:
                return None
            try:
                return resp.json()
            except ValueError as err:
                raise CtlError(f"{method} {path}: the admin sent a non-JSON body") from err
        raise problem_error(method, path, resp)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: Any, **params: Any) -> Any:
        return self.request("POST", path, params=params or None, json=body)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, json=body)

    def delete(self, path: str, **params: Any) -> Any:
        return self.request("DELETE", path, params=params or None)


def segment(name: str) -> str:
    """A path segment: names may hold `.`, which is safe, but never `/`."""
    return quote(name, safe="")


def problem_error(method: str, path: str, resp: httpx.Response) -> CtlError:
    """CtlError from an RFC 9457 problem-details body (or whatever the server sent)."""
    detail = ""
    errors: list[dict[str, str]] = []
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        raw_detail = body.get("detail")
        if isinstance(raw_detail, str):
            detail = raw_detail
        elif raw_detail is not None:
            detail = str(raw_detail)
        if not detail and isinstance(body.get("title"), str):
            detail = body["title"]
        for item in body.get("errors") or []:
            if isinstance(item, dict):
                errors.append(
                    {"field": str(item.get("field", "")), "message": str(item.get("message", ""))}
                )
    if not detail:
        detail = resp.text.strip()[:200] or resp.reason_phrase
    return CtlError(f"{detail} (HTTP {resp.status_code})", status=resp.status_code, errors=errors)
