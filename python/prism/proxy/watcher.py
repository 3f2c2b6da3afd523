"""ConfigWatcher: keeps a running proxy on the admin's latest config version (RFC-001).

One thread long-polls `GET /v1/config?after=<applied>&wait=<s>`: the admin answers as soon
as a newer version exists, so a mutation reaches the proxy in well under a second. Each
new version is validated, handed to ProxyRuntime.apply and saved to last-config.json.
While the admin is unreachable the proxy keeps serving what it has and retries with
exponential backoff. A second thread reports the applied version by heartbeat, at once
after each apply and every few seconds otherwise.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import typer

from prism.config import NamespaceConfig
from prism.errors import ConfigError
from prism.proxy import last_config
from prism.proxy.namespaces import from_spec
from prism.proxy.runtime import ProxyRuntime, describe

log = logging.getLogger(__name__)

WAIT_S = 30.0  # long-poll length; the admin caps it (max_wait_s)
RETRY_WAIT_S = 5.0  # long-poll length while some namespace failed and is retried
HEARTBEAT_S = 2.0
BACKOFF_MIN_S = 0.1
BACKOFF_MAX_S = 5.0


class AdminRefused(Exception):
    """The admin answered with an error; `status` is its HTTP status (0: not HTTP).
    A 4xx will not change on retry (bad token, refused spec); a 5xx may (a backend down
    while provisioning)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class AdminClient:
    """The two admin calls a proxy makes, over one pooled httpx client."""

    def __init__(self, admin_url: str, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = admin_url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers)

    def config(self, after: int, wait: float) -> dict[str, Any]:
        """`{version, namespaces}` when newer than `after`, else `{version}`; raises
        httpx.HTTPError when the admin is unreachable, AdminRefused on a 4xx."""
        resp = self._http.get(
            "/v1/config",
            params={"after": after, "wait": wait},
            timeout=httpx.Timeout(5.0, read=wait + 10.0),
        )
        if resp.status_code == 304:
            return {"version": after}
        if 400 <= resp.status_code < 500:
            raise AdminRefused(
                f"GET /v1/config: {resp.status_code} {_detail(resp)}", resp.status_code
            )
        resp.raise_for_status()
        body = resp.json()
        if not isinstance(body, dict) or not isinstance(body.get("version"), int):
            raise AdminRefused(f"GET /v1/config: unexpected answer {str(body)[:200]}")
        return body

    def namespace_names(self) -> list[str]:
        """Names of the stored namespaces (`prism serve` checks for an empty store)."""
        resp = self._http.get("/v1/namespaces", timeout=10.0)
        _check(resp, "GET /v1/namespaces")
        return [str(ns["name"]) for ns in resp.json()]

    def apply_namespace(self, spec: Mapping[str, Any]) -> str:
        """Create or update a namespace from `spec`; the action (create, update, unchanged).
        AdminRefused carries the admin's problem detail and field errors."""
        # Provisioning a backend may take a while (the admin bounds it at 30 s by default).
        resp = self._http.post("/v1/namespaces:apply", json=dict(spec), timeout=60.0)
        _check(resp, f"namespace '{spec.get('name')}'")
        return str(resp.json().get("action"))

    def heartbeat(self, proxy_id: str, body: Mapping[str, Any]) -> None:
        resp = self._http.post(f"/v1/proxies/{proxy_id}/heartbeat", json=body, timeout=5.0)
        if resp.status_code >= 400:
            log.warning("heartbeat refused: %s %s", resp.status_code, _detail(resp))

    def close(self) -> None:
        self._http.close()


def _check(resp: httpx.Response, what: str) -> None:
    if resp.status_code >= 400:
        raise AdminRefused(f"{what}: {resp.status_code} {_detail(resp)}", resp.status_code)


def _detail(resp: httpx.Response) -> str:
    """The problem-details message: detail, then each `field: message`."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200]
    if not isinstance(body, dict):
        return str(body)[:200]
    parts = [str(body.get("detail") or body.get("title") or "")]
    for error in body.get("errors") or []:
        if isinstance(error, dict):
            parts.append(f"{error.get('field')}: {error.get('message')}")
    return "; ".join(p for p in parts if p)


def proxy_id(data_dir: Path) -> str:
    """A stable id per data directory, so a restarted proxy updates its own record."""
    path = data_dir / "proxy-id"
    try:
        existing = path.read_text().strip()
        if existing:
            return existing
    except OSError:
        pass
    new = f"proxy-{uuid.uuid4().hex[:12]}"
    try:
        path.write_text(new + "\n")
    except OSError as err:
        log.warning("cannot save the proxy id to %s: %s", path, err)
    return new


def initial_config(client: AdminClient, data_dir: Path) -> tuple[dict[str, Any], str]:
    """The config to start with and where it came from: the admin, else the last one
    saved, else nothing (`{version: 0, namespaces: []}`). AdminRefused propagates: a
    wrong token should stop the start, not be served around."""
    try:
        snapshot = client.config(after=-1, wait=0)
    except httpx.HTTPError as err:
        saved = last_config.load(data_dir)
        if saved is not None:
            return saved, f"admin unreachable ({_reason(err)}); last config saved on disk"
        return {"version": 0, "namespaces": []}, f"admin unreachable ({_reason(err)})"
    last_config.save(data_dir, snapshot)
    return snapshot, "admin"


def parse_namespaces(
    snapshot: Mapping[str, Any], data_dir: Path, running: Mapping[str, NamespaceConfig]
) -> tuple[list[NamespaceConfig], list[str]]:
    """Validated namespaces of a snapshot; a spec this proxy cannot take keeps the
    version it runs (if any), and the messages say which."""
    out: list[NamespaceConfig] = []
    errors: list[str] = []
    for entry in snapshot.get("namespaces", []):
        name = entry.get("name", "?") if isinstance(entry, Mapping) else "?"
        try:
            spec = dict(entry.get("spec") or {}) if isinstance(entry, Mapping) else {}
            spec.setdefault("name", name)
            out.append(from_spec(spec, data_dir))
        except (ConfigError, TypeError, ValueError) as err:
            errors.append(f"namespace '{name}': {err}")
            if name in running:
                out.append(running[name])
    return out, errors


def _reason(err: Exception) -> str:
    return str(err) or type(err).__name__


class ConfigWatcher:
    """Long-polls the admin and applies each new version to `runtime` (see module doc)."""

    def __init__(
        self,
        client: AdminClient,
        runtime: ProxyRuntime,
        data_dir: Path,
        *,
        version: int,
        snapshot: Mapping[str, Any],
        retry: bool = False,
        wait_s: float = WAIT_S,
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        """`version`/`snapshot`: what `runtime` already serves; `retry`: some of it
        failed to start and is re-applied until it does."""
        self._client = client
        self._runtime = runtime
        self._data_dir = data_dir
        self._version = version
        self._snapshot = dict(snapshot)
        self._retry = retry
        self._wait_s = wait_s
        self._heartbeat_s = heartbeat_s
        self._id = proxy_id(data_dir)
        self._stop = threading.Event()
        self._beat_now = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def version(self) -> int:
        """The config version the proxy runs."""
        return self._version

    def start(self) -> None:
        for target, name in ((self._watch, "prism-config-watch"), (self._beat, "prism-heartbeat")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop both threads (idempotent); a long poll in flight is abandoned."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._beat_now.set()
        for thread in self._threads:
            # The watch thread may sit in a long poll: do not wait it out (daemon thread).
            thread.join(timeout=1.0 if thread.name == "prism-heartbeat" else 0.1)
        self._client.close()

    # -- config ------------------------------------------------------------------------

    def _watch(self) -> None:
        backoff = BACKOFF_MIN_S
        down = False
        while not self._stop.is_set():
            wait = RETRY_WAIT_S if self._retry else self._wait_s
            try:
                answer = self._client.config(self._version, wait)
            except Exception as err:  # unreachable, refused, or the client closed by stop()
                if self._stop.is_set():
                    return
                if not down:
                    log.warning(
                        "admin %s unreachable (%s); serving config version %d, retrying",
                        self._client.url,
                        _reason(err),
                        self._version,
                    )
                    down = True
                self._stop.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            if down:
                log.warning("admin %s reachable again", self._client.url)
                down, backoff = False, BACKOFF_MIN_S
            try:
                self._handle(answer)
            except Exception:  # never let one bad version end the watch
                log.exception("applying config version %s failed", answer.get("version"))
                self._stop.wait(BACKOFF_MAX_S)

    def _handle(self, answer: dict[str, Any]) -> None:
        version = answer["version"]
        if "namespaces" in answer and version != self._version:
            self._apply(answer)
        elif self._retry:
            self._apply(self._snapshot)
        elif version < self._version:
            # The admin lost its store (or is another admin): wait for its next version.
            log.warning(
                "admin is at config version %d, behind the %d this proxy runs",
                version,
                self._version,
            )
            self._version = version

    def _apply(self, snapshot: dict[str, Any]) -> None:
        before = {ns.name: ns for ns in self._runtime.namespaces}
        namespaces, errors = parse_namespaces(snapshot, self._data_dir, before)
        errors += self._runtime.apply(namespaces)
        for message in errors:
            typer.echo(f"prism: {message}", err=True)
        self._retry = bool(errors)
        if snapshot is not self._snapshot:
            last_config.save(self._data_dir, snapshot)
            self._snapshot = snapshot
        self._version = int(snapshot["version"])
        after = {ns.name: ns for ns in self._runtime.namespaces}
        for line in changes(before, after):
            typer.echo(f"prism: config version {self._version}: {line}")
        self._beat_now.set()

    # -- heartbeat ---------------------------------------------------------------------

    def _beat(self) -> None:
        while not self._stop.is_set():
            self._beat_now.clear()  # before sending: an apply during the send beats again
            try:
                self._client.heartbeat(
                    self._id,
                    {
                        "address": self._runtime.grpc_address,
                        "metrics_address": self._runtime.metrics_address,
                        "config_version": self._version,
                    },
                )
            except Exception as err:  # the admin down: the next beat will tell it
                log.debug("heartbeat failed: %s", _reason(err))
            self._beat_now.wait(self._heartbeat_s)


def changes(
    before: Mapping[str, NamespaceConfig], after: Mapping[str, NamespaceConfig]
) -> list[str]:
    """Human lines for what an apply changed, for the process log."""
    lines = [f"namespace {describe(ns)} added" for n, ns in after.items() if n not in before]
    lines += [
        f"namespace {describe(ns)} updated"
        for n, ns in after.items()
        if n in before and before[n] != ns
    ]
    lines += [f"namespace {n} removed" for n in before if n not in after]
    return lines
