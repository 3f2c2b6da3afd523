"""What the security tests share: config blocks for `server.auth`/`audit`, TLS channel
credentials, a caller that presents a bearer token on every RPC, status-detail decoding
(google.rpc.RetryInfo, by hand: no googleapis dependency), the audit file reader and a
small admin API client.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from helpers.oidc import AUDIENCE, HS256_SECRET, ISSUER, JwksServer
from helpers.pki import Issued, Pki
from helpers.rpc import RPC_TIMEOUT_S, kvpb
from helpers.server import ServerProcess, open_channel
from prism.keyvalue.v1.keyvalue_pb2_grpc import KeyValueStub
from prism.timeseries.v1.timeseries_pb2_grpc import TimeSeriesStub

HS256_ENV = "PRISM_TEST_HS256_SECRET"
AUDIT_KEY = "prism-test-audit-key-0123456789abcdef"
# 32 bytes, base64: the master key that wraps the namespace data keys.
MASTER_KEY_B64 = "cHJpc20tdGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzISE="
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
PERMISSION_DENIED = grpc.StatusCode.PERMISSION_DENIED


def secret_env() -> dict[str, str]:
    """The secrets every security test server gets in its environment."""
    return {
        HS256_ENV: HS256_SECRET,
        "PRISM_AUDIT_KEY": AUDIT_KEY,
        "PRISM_MASTER_KEY": MASTER_KEY_B64,
    }


def jwt_auth(
    pki: Pki | None,
    jwks: JwksServer | None,
    *,
    mode: str = "jwt",
    hs256: bool = True,
    **jwt_overrides: Any,
) -> dict[str, Any]:
    """A `server.auth` block verifying JWTs (TLS too when `pki` is given)."""
    jwt_block: dict[str, Any] = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "leeway_seconds": 5,
        "principal_claim": "sub",
        "groups_claim": "groups",
    }
    if jwks is not None:
        jwt_block["jwks_url"] = jwks.jwks_url
    if hs256:
        jwt_block["hs256_secret_env"] = HS256_ENV
    jwt_block.update(jwt_overrides)
    auth: dict[str, Any] = {"mode": mode, "jwt": jwt_block}
    if pki is not None:
        auth["tls"] = pki.server_tls(client_ca=mode.startswith("mtls"))
    return auth


def audit_block(path: Path, **overrides: Any) -> dict[str, Any]:
    return {"path": str(path), "fingerprint_key_env": "PRISM_AUDIT_KEY", **overrides}


def tls_credentials(
    pki: Pki, client: Issued | None = None, *, root: bytes | None = None
) -> grpc.ChannelCredentials:
    """Trust `root` (the PKI's CA by default); present `client`'s certificate if given."""
    return grpc.ssl_channel_credentials(
        root_certificates=root if root is not None else pki.ca.cert_pem,
        private_key=client.key_pem if client else None,
        certificate_chain=client.cert_pem if client else None,
    )


@contextmanager
def running(proc: ServerProcess) -> Iterator[ServerProcess]:
    """Start `proc` for a `with` block (a module fixture's lifetime); always cleaned up."""
    try:
        proc.start()
        yield proc
        proc.stop()
    finally:
        proc.kill()


@dataclass
class Caller:
    """One client identity: a channel (plaintext or TLS) and an optional bearer token,
    sent as `authorization` metadata on every call."""

    address: str
    credentials: grpc.ChannelCredentials | None = None
    token: str | None = None
    raw_authorization: str | None = None  # sent as is, instead of `Bearer <token>`
    extra_metadata: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.channel = open_channel(self.address, self.credentials)
        self.kv = KeyValueStub(self.channel)
        self.ts = TimeSeriesStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Caller:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def metadata(self) -> list[tuple[str, str]]:
        md = list(self.extra_metadata)
        if self.raw_authorization is not None:
            md.append(("authorization", self.raw_authorization))
        elif self.token is not None:
            md.append(("authorization", f"Bearer {self.token}"))
        return md

    def call(self, method: str, request: Any) -> Any:
        """KeyValue `method` (e.g. "Put"), or TimeSeries `method` given as
        "TimeSeries/Append", with this caller's credentials."""
        service, _, name = method.rpartition("/")
        stub = self.ts if service == "TimeSeries" else self.kv
        rpc: Callable[..., Any] = getattr(stub, name)
        return rpc(request, timeout=RPC_TIMEOUT_S, metadata=self.metadata())

    def put(self, namespace: str, key: bytes, value: bytes) -> kvpb.PutResponse:
        return self.call("Put", kvpb.PutRequest(namespace=namespace, key=key, value=value))

    def get(self, namespace: str, key: bytes) -> kvpb.GetResponse:
        return self.call("Get", kvpb.GetRequest(namespace=namespace, key=key))

    def refused(self, method: str, request: Any, *codes: grpc.StatusCode) -> grpc.RpcError:
        """Call and assert it fails with one of `codes` and a message; return the error."""
        try:
            response = self.call(method, request)
        except grpc.RpcError as err:
            got, message = err.code(), err.details() or ""
            names = sorted(c.name for c in codes)
            assert got in codes, f"{method}: expected {names}, got {got.name}: {message!r}"
            assert message.strip(), f"{method}: {got.name} without a message"
            return err
        raise AssertionError(
            f"{method}: expected {sorted(c.name for c in codes)}, succeeded: {response!r}"
        )


def unauthenticated(caller: Caller, namespace: str = "jwt") -> str:
    """The UNAUTHENTICATED message a Get by `caller` gets."""
    err = caller.refused("Get", kvpb.GetRequest(namespace=namespace, key=b"probe"), UNAUTHENTICATED)
    return str(err.details())


# ---- google.rpc.Status details, decoded by hand -----------------------------------


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def proto_fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, varint value or length-delimited bytes) of a protobuf message."""
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield number, value
        elif wire == 2:
            length, pos = _varint(buf, pos)
            yield number, buf[pos : pos + length]
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unexpected wire type {wire}")


def status_details(err: grpc.RpcError) -> dict[str, bytes]:
    """type_url -> packed value of every google.protobuf.Any in the status details
    (the `grpc-status-details-bin` trailer)."""
    trailers: list[Any] = list(err.trailing_metadata() or ())  # type: ignore[attr-defined]
    raw = next((v for k, v in trailers if k == "grpc-status-details-bin"), None)
    out: dict[str, bytes] = {}
    if not raw:
        return out
    for number, value in proto_fields(bytes(raw)):
        if number == 3 and isinstance(value, bytes):  # Status.details (repeated Any)
            parts = dict(proto_fields(value))
            out[bytes(parts.get(1, b"")).decode()] = bytes(parts.get(2, b""))  # type: ignore[arg-type]
    return out


def retry_delay(err: grpc.RpcError) -> float | None:
    """Seconds of google.rpc.RetryInfo.retry_delay, None when there is no RetryInfo."""
    for type_url, value in status_details(err).items():
        if type_url.endswith("/google.rpc.RetryInfo"):
            duration = next((v for n, v in proto_fields(value) if n == 1), b"")
            parts = dict(proto_fields(bytes(duration)))  # type: ignore[arg-type]
            return int(parts.get(1, 0)) + int(parts.get(2, 0)) / 1e9  # type: ignore[arg-type]
    return None


# ---- the audit file ---------------------------------------------------------------------


def audit_lines(path: Path) -> list[dict[str, Any]]:
    """Every JSON line of the audit file and its rotated siblings (oldest first)."""
    files = sorted(path.parent.glob(path.name + ".*"), reverse=True) + [path]
    out = []
    for f in files:
        if f.exists():
            for line in f.read_text().splitlines():
                if line.strip():
                    out.append(json.loads(line))
    return out


def wait_audit(
    path: Path, match: Callable[[dict[str, Any]], bool], timeout: float = 5.0, count: int = 1
) -> list[dict[str, Any]]:
    """Audit lines matching `match`, waiting (the writer is off the hot path) until there
    are at least `count`."""
    deadline = time.monotonic() + timeout
    while True:
        found = [line for line in audit_lines(path) if match(line)]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


# ---- the admin API --------------------------------------------------------------------


@dataclass
class Admin:
    """JSON over HTTP to the embedded admin, with its bootstrap token."""

    url: str
    token: str

    @classmethod
    def of(cls, server: ServerProcess) -> Admin:
        server.wait_admin()
        return cls(server.admin_url, server.admin_token)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                return err.code, json.loads(raw)
            except ValueError:
                return err.code, raw.decode(errors="replace")

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, doc = self.request(method, path, body)
        assert 200 <= status < 300, f"{method} {path}: HTTP {status}: {doc}"
        return doc

    def namespace(self, name: str, timeout: float = 30.0) -> dict[str, Any]:
        """The namespace's record; waits for it, since `prism serve` applies the file's
        namespaces to the admin after the admin starts."""
        deadline = time.monotonic() + timeout
        while True:
            status, doc = self.request("GET", f"/v1/namespaces/{name}")
            if status != 404 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert status == 200, f"GET /v1/namespaces/{name}: HTTP {status}: {doc}"
        return dict(doc)

    def update_spec(self, name: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Read the namespace, apply `change` to its spec, PUT it back (optimistic)."""
        record = self.namespace(name)
        spec = record["spec"]
        change(spec)
        return dict(
            self.ok("PUT", f"/v1/namespaces/{name}", {"spec": spec, "version": record["version"]})
        )


def stack_url(backend_stack: dict[str, str], env_var: str) -> str:
    """The stack endpoint in `env_var` (PRISM_POSTGRES_URL, PRISM_REDIS_URL); skips when
    this run does not select that backend (PRISM_CONFORMANCE_BACKENDS)."""
    url = backend_stack.get(env_var) or os.environ.get(env_var)
    if not url:
        pytest.skip(f"{env_var} not set: backend not selected for this run")
    return url
