"""The data-access audit log (ADR-010): one JSON line per access (allowed, denied or not
authenticated) with principal, namespace, method, a keyed fingerprint of the key (never
the key), item count, code and latency; when the writer falls behind, namespaces marked
`audit_required` fail closed while the others serve and count the dropped records."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from helpers import unique
from helpers.oidc import HS256_SECRET, claims, mint
from helpers.pki import Pki
from helpers.rpc import kvpb, timestamp, tspb
from helpers.server import ServerProcess
from sectools import (
    AUDIT_KEY,
    UNAUTHENTICATED,
    Caller,
    audit_block,
    jwt_auth,
    running,
    secret_env,
    tls_credentials,
    wait_audit,
)

ACCESS = {"read": ["alice", "bob"], "write": ["alice"]}
NAMESPACES = [
    {
        "name": "audited",
        "patterns": ["keyvalue", "timeseries"],
        "backend": "memory",
        "access": ACCESS,
    }
]
FIELDS = {
    "ts",
    "principal",
    "namespace",
    "method",
    "key_fingerprint",
    "items",
    "code",
    "latency_us",
}


def fingerprint(key: bytes) -> str:
    """ADR-010: HMAC-SHA256 under $PRISM_AUDIT_KEY, first 16 bytes in hex."""
    return hmac.new(AUDIT_KEY.encode(), key, hashlib.sha256).digest()[:16].hex()


@pytest.fixture(scope="module")
def audit_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audit") / "audit.jsonl"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, pki: Pki, audit_path: Path
) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path_factory.mktemp("audit-server"),
        NAMESPACES,
        server={"auth": jwt_auth(pki, None), "audit": audit_block(audit_path)},
        env=secret_env(),
        credentials=tls_credentials(pki),
    )
    with running(proc):
        yield proc


@pytest.fixture(scope="module")
def users(server: ServerProcess, pki: Pki) -> Iterator[dict[str, Caller]]:
    out = {
        sub: Caller(
            server.address, tls_credentials(pki), token=mint(claims(sub), secret=HS256_SECRET)
        )
        for sub in ("alice", "bob")
    }
    yield out
    for c in out.values():
        c.close()


# Every key and value this module sends: none may appear in the audit log, in any encoding.
SENT: list[bytes] = []


def sent(raw: bytes) -> bytes:
    SENT.append(raw)
    return raw


def test_every_access_has_an_audit_line(users: dict[str, Caller], audit_path: Path) -> None:
    alice, bob = users["alice"], users["bob"]
    run = unique("aud")
    k1, k2, k3 = (sent(f"secret-key-{run}-{i}".encode()) for i in (1, 2, 3))
    v = sent(f"secret-value-{run}".encode())
    series = f"secret-series-{run}"
    SENT.append(series.encode())
    now = timestamp(datetime.now(UTC))
    # (caller, method, request, expected code, expected items, fingerprinted key)
    accesses: list[tuple[Caller, str, Any, str, int | None, bytes | None]] = [
        (alice, "Put", kvpb.PutRequest(namespace="audited", key=k1, value=v), "OK", 1, k1),
        (alice, "Get", kvpb.GetRequest(namespace="audited", key=k1), "OK", 1, k1),
        (alice, "Exists", kvpb.ExistsRequest(namespace="audited", key=k1), "OK", None, k1),
        (
            alice,
            "BatchPut",
            kvpb.BatchPutRequest(
                namespace="audited",
                entries=[kvpb.PutEntry(key=k2, value=v), kvpb.PutEntry(key=k3, value=v)],
            ),
            "OK",
            2,
            None,
        ),
        (
            alice,
            "BatchGet",
            kvpb.BatchGetRequest(namespace="audited", keys=[k1, k2, k3]),
            "OK",
            3,
            None,
        ),
        (
            bob,
            "Scan",
            kvpb.ScanRequest(namespace="audited", prefix=sent(f"secret-key-{run}".encode())),
            "OK",
            3,
            None,
        ),
        (
            bob,
            "Put",
            kvpb.PutRequest(namespace="audited", key=k2, value=v),
            "PERMISSION_DENIED",
            None,
            k2,
        ),
        (alice, "Delete", kvpb.DeleteRequest(namespace="audited", key=k1), "OK", 1, k1),
        (alice, "Get", kvpb.GetRequest(namespace="audited", key=k1), "OK", 0, k1),
        (
            alice,
            "TimeSeries/Append",
            tspb.AppendRequest(
                namespace="audited",
                events=[
                    tspb.Event(
                        series_id=series, event_time=now, event_id="e1", value=1.0, payload=v
                    )
                ],
            ),
            "OK",
            1,
            None,
        ),
    ]
    started = time.time()
    for caller, method, request, code, _, _ in accesses:
        if code == "OK":
            caller.call(method, request)
        else:
            caller.refused(method, request, getattr(grpc.StatusCode, code))
    principal = {id(alice): "alice", id(bob): "bob"}

    def ours(line: dict[str, Any]) -> bool:
        return line.get("namespace") == "audited" and _ts(line["ts"]) >= started - 1

    lines = wait_audit(audit_path, ours, count=len(accesses))
    assert len(lines) >= len(accesses), f"{len(lines)} audit lines for {len(accesses)} accesses"
    remaining = list(lines)
    for caller, method, _, code, items, key in accesses:
        full = method if "/" in method else f"KeyValue/{method}"
        match = next(
            (
                line
                for line in remaining
                if line["method"] == full
                and line["principal"] == principal[id(caller)]
                and line["code"] == code
                and (key is None or line.get("key_fingerprint") == fingerprint(key))
            ),
            None,
        )
        assert match is not None, (
            f"no audit line for {principal[id(caller)]} {full} {code}:\n{remaining}"
        )
        remaining.remove(match)
        assert FIELDS <= set(match), f"missing fields {FIELDS - set(match)} in {match}"
        assert isinstance(match["latency_us"], int) and match["latency_us"] >= 0, match
        if items is not None:
            assert match["items"] == items, f"{full}: items {match['items']}, expected {items}"


def _ts(value: Any) -> float:
    if isinstance(value, int | float):
        return value / 1e3 if value > 1e11 else float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-jwt", f"Bearer {mint(claims('x', lifetime=-600), secret=HS256_SECRET)}"],
)
def test_failed_authentication_is_audited(
    server: ServerProcess, pki: Pki, audit_path: Path, authorization: str | None
) -> None:
    key = sent(unique("unauth-key").encode())
    with Caller(server.address, tls_credentials(pki), raw_authorization=authorization) as c:
        c.refused("Get", kvpb.GetRequest(namespace="audited", key=key), UNAUTHENTICATED)
    lines = wait_audit(
        audit_path,
        lambda line: (
            line.get("code") == "UNAUTHENTICATED"
            and line.get("key_fingerprint") in (None, "", fingerprint(key))
            and line.get("principal") == "unauthenticated"
        ),
    )
    assert lines, "no audit line for a failed authentication"
    assert any(line.get("peer") for line in lines), f"no peer on failed authn lines: {lines}"


def test_no_raw_key_value_or_token_in_the_audit_log(audit_path: Path) -> None:
    assert SENT, "run with the tests above"
    text = audit_path.read_text()
    assert text.strip()
    for raw in SENT:
        for form in (raw, raw.hex().encode(), base64.b64encode(raw)):
            assert form.decode() not in text, f"{form!r} appears in the audit log"
    assert not re.search(r"eyJ[\w-]+\.eyJ", text), "a JWT appears in the audit log"


# ---- fail-closed when the writer cannot keep up -------------------------------------------


def test_audit_required_fails_closed_when_the_writer_is_stuck(tmp_path: Path, pki: Pki) -> None:
    # The audit "file" is a FIFO whose reader does not read: the writer blocks once the
    # pipe and its buffer are full, then the bounded channel fills up.
    fifo = tmp_path / "audit.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    namespaces: list[dict[str, Any]] = [
        {"name": "strict", "patterns": ["keyvalue"], "backend": "memory", "audit_required": True},
        {"name": "lenient", "patterns": ["keyvalue"], "backend": "memory"},
    ]
    proc = ServerProcess(
        tmp_path / "server",
        namespaces,
        server={
            "auth": jwt_auth(pki, None),
            "audit": audit_block(fifo, channel_capacity=8),
        },
        env=secret_env(),
        credentials=tls_credentials(pki),
    )
    drained = threading.Event()

    def drain() -> None:
        while not drained.is_set():
            try:
                if not os.read(reader, 1 << 16):
                    time.sleep(0.01)
            except BlockingIOError:
                time.sleep(0.01)

    drainer = threading.Thread(target=drain, daemon=True)
    try:
        proc.start()
        token = mint(claims("alice"), secret=HS256_SECRET)
        with Caller(proc.address, tls_credentials(pki), token=token) as alice:
            refused = _until_refused(lambda: alice.get("strict", b"k"), limit=5000)
            assert refused.code() == grpc.StatusCode.UNAVAILABLE, (
                refused.code(),
                refused.details(),
            )
            assert "audit" in (refused.details() or "").lower(), refused.details()
            # The other namespace serves, dropping (and counting) its records.
            for _ in range(20):
                alice.get("lenient", b"k")
            dropped = re.findall(
                r"^prism_audit_dropped_total(?:\{[^}]*\})?\s+(\S+)", proc.metrics(), re.M
            )
            assert dropped and sum(float(x) for x in dropped) > 0, "drops not counted"
            # Once the writer drains, the strict namespace serves again.
            drainer.start()
            deadline = time.monotonic() + 10
            while True:
                try:
                    alice.get("strict", b"k")
                    break
                except grpc.RpcError as err:
                    assert time.monotonic() < deadline, (
                        f"still refused after draining: {err.details()}"
                    )
                    time.sleep(0.1)
    finally:
        if not drainer.is_alive():
            drainer.start()
        proc.kill()
        drained.set()
        drainer.join(timeout=5)
        os.close(reader)


def _until_refused(call: Callable[[], Any], limit: int) -> grpc.RpcError:
    for _ in range(limit):
        try:
            call()
        except grpc.RpcError as err:
            return err
    raise AssertionError(
        f"{limit} calls on an audit_required namespace served with the writer stuck"
    )
