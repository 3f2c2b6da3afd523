"""Token buckets per namespace and per (namespace, principal) (ADR-010): past the burst a
caller gets RESOURCE_EXHAUSTED with google.rpc.RetryInfo; other namespaces and (for
per-principal limits) other principals are unaffected; denied calls spend no tokens."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from helpers import unique
from helpers.oidc import HS256_SECRET, claims, mint
from helpers.pki import Pki
from helpers.rpc import kvpb
from helpers.server import ServerProcess
from sectools import (
    PERMISSION_DENIED,
    Caller,
    jwt_auth,
    retry_delay,
    running,
    secret_env,
    tls_credentials,
)

EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED


def ns(name: str, **rate: float) -> dict[str, Any]:
    return {"name": name, "patterns": ["keyvalue"], "backend": "memory", "rate_limit": rate}


NAMESPACES = [
    ns("limited", requests_per_second=5, burst=5),
    ns("neighbour", requests_per_second=5, burst=5),
    ns("per-user", per_principal_requests_per_second=1, per_principal_burst=2),
    {
        **ns("guarded", requests_per_second=1, burst=3),
        "access": {"read": ["alice"], "write": ["alice"]},
    },
    {"name": "free", "patterns": ["keyvalue"], "backend": "memory"},
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path_factory.mktemp("rate-server"),
        NAMESPACES,
        server={"auth": jwt_auth(pki, None)},
        env=secret_env(),
        credentials=tls_credentials(pki),
    )
    with running(proc):
        yield proc


@pytest.fixture
def as_user(server: ServerProcess, pki: Pki) -> Iterator[Callable[[str], Caller]]:
    opened: list[Caller] = []

    def make(sub: str) -> Caller:
        c = Caller(
            server.address, tls_credentials(pki), token=mint(claims(sub), secret=HS256_SECRET)
        )
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.close()


def hammer(c: Caller, namespace: str, calls: int) -> tuple[int, list[grpc.RpcError], float]:
    """`calls` Gets as fast as possible: (successes, errors, seconds taken)."""
    ok, errors = 0, []
    start = time.monotonic()
    for _ in range(calls):
        try:
            c.get(namespace, b"k")
            ok += 1
        except grpc.RpcError as err:
            errors.append(err)
    return ok, errors, time.monotonic() - start


def test_namespace_limit_answers_resource_exhausted_with_retry_info(
    as_user: Callable[[str], Caller],
) -> None:
    alice = as_user("alice")
    ok, errors, took = hammer(alice, "limited", 15)
    assert errors, f"15 calls in {took:.2f}s at 5/s with burst 5: none limited"
    assert {e.code() for e in errors} == {EXHAUSTED}, [(e.code(), e.details()) for e in errors]
    # The burst, plus what refilled while the loop ran (5/s), plus one for rounding.
    assert 5 <= ok <= 5 + int(took * 5) + 1, f"{ok} calls served in {took:.2f}s"
    err = errors[-1]
    assert "limited" in (err.details() or ""), err.details()
    delay = retry_delay(err)
    assert delay is not None, "RESOURCE_EXHAUSTED without google.rpc.RetryInfo in its details"
    assert 0 < delay <= 1.0, f"retry_delay {delay}s; one token at 5/s takes 0.2s"
    # The namespace bucket is shared: another principal is limited too, right now.
    bob = as_user("bob")
    bob.refused("Get", kvpb.GetRequest(namespace="limited", key=b"k"), EXHAUSTED)
    # Other namespaces are unaffected, limited or not.
    assert hammer(alice, "neighbour", 5)[0] == 5
    assert hammer(alice, "free", 20)[0] == 20
    # After the advertised delay a token is there again.
    time.sleep(delay + 0.05)
    alice.get("limited", b"k")


def test_per_principal_limit_leaves_other_principals_alone(
    as_user: Callable[[str], Caller],
) -> None:
    alice, bob = as_user("alice"), as_user("bob")
    ok, errors, took = hammer(alice, "per-user", 6)
    # The burst of 2, plus what refilled while the loop ran (1/s), plus one for rounding.
    assert errors and ok <= 2 + int(took) + 1, f"alice served {ok} of 6 in {took:.2f}s"
    assert all(e.code() == EXHAUSTED for e in errors)
    assert retry_delay(errors[-1]) is not None, "no RetryInfo on a per-principal limit"
    bob.put("per-user", unique("bob").encode(), b"v")
    bob.get("per-user", b"k")


def test_denied_calls_spend_no_tokens(as_user: Callable[[str], Caller]) -> None:
    mallory = as_user("mallory")
    for _ in range(10):
        mallory.refused("Get", kvpb.GetRequest(namespace="guarded", key=b"k"), PERMISSION_DENIED)
    # The burst of 3 is untouched by mallory's ten refusals.
    ok, errors, _ = hammer(as_user("alice"), "guarded", 3)
    assert ok == 3, [(e.code(), e.details()) for e in errors]
