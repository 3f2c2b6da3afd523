"""Per-namespace access policies (ADR-010): principals, `group:` and `claim:` selectors
mapped to read and write separately; denials are PERMISSION_DENIED naming the principal,
the namespace and the missing permission; a policy changed in the admin applies live."""

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
    Admin,
    Caller,
    jwt_auth,
    running,
    secret_env,
    tls_credentials,
)

LIVE_BUDGET_S = 3.0  # ADR-008: a proxy applies admin changes within about a second


def ns(name: str, read: list[str], write: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "patterns": ["keyvalue"],
        "backend": "memory",
        "access": {"read": read, "write": write},
    }


NAMESPACES = [
    ns("team-a", ["alice"], ["alice"]),
    ns("team-b", ["bob"], ["bob"]),
    ns("shared", ["alice", "bob", "group:readers"], ["bob"]),
    ns("tenants", ["claim:tenant=acme"], ["claim:tenant=acme"]),
    ns("live", ["bob"], ["bob"]),
    {"name": "open", "patterns": ["keyvalue"], "backend": "memory"},  # default policy
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path_factory.mktemp("authz-server"),
        NAMESPACES,
        server={"auth": jwt_auth(pki, None)},
        env=secret_env(),
        credentials=tls_credentials(pki),
    )
    with running(proc):
        yield proc


@pytest.fixture
def as_user(server: ServerProcess, pki: Pki) -> Iterator[Callable[..., Caller]]:
    opened: list[Caller] = []

    def make(sub: str, **extra: Any) -> Caller:
        token = mint(claims(sub, **extra), secret=HS256_SECRET)
        c = Caller(server.address, tls_credentials(pki), token=token)
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.close()


def denial(c: Caller, method: str, request: Any) -> str:
    return str(c.refused(method, request, PERMISSION_DENIED).details())


def assert_names(message: str, principal: str, namespace: str, permission: str) -> None:
    for part in (principal, namespace):
        assert part in message, f"{part!r} not named in {message!r}"
    assert permission in message.lower(), f"permission {permission!r} not named in {message!r}"


CROSS_TEAM = [
    ("Get", lambda n: kvpb.GetRequest(namespace=n, key=b"k"), "read"),
    ("BatchGet", lambda n: kvpb.BatchGetRequest(namespace=n, keys=[b"k"]), "read"),
    ("Exists", lambda n: kvpb.ExistsRequest(namespace=n, key=b"k"), "read"),
    ("Scan", lambda n: kvpb.ScanRequest(namespace=n, prefix=b""), "read"),
    ("Put", lambda n: kvpb.PutRequest(namespace=n, key=b"k", value=b"v"), "write"),
    (
        "BatchPut",
        lambda n: kvpb.BatchPutRequest(namespace=n, entries=[kvpb.PutEntry(key=b"k", value=b"v")]),
        "write",
    ),
    ("Delete", lambda n: kvpb.DeleteRequest(namespace=n, key=b"k"), "write"),
    ("BatchDelete", lambda n: kvpb.BatchDeleteRequest(namespace=n, keys=[b"k"]), "write"),
]


@pytest.mark.parametrize(
    ("method", "build", "permission"), CROSS_TEAM, ids=[c[0] for c in CROSS_TEAM]
)
def test_principal_of_a_cannot_touch_b(
    as_user: Callable[..., Caller], method: str, build: Callable[[str], Any], permission: str
) -> None:
    bob = as_user("bob")
    key = unique("b-data").encode()
    bob.put("team-b", key, b"bob's")
    alice = as_user("alice")
    message = denial(alice, method, build("team-b"))
    assert_names(message, "alice", "team-b", permission)
    # Alice's own namespace still works, and bob's data is untouched.
    alice.put("team-a", key, b"alice's")
    assert bob.get("team-b", key).item.value == b"bob's"


def test_read_only_principal_cannot_write(as_user: Callable[..., Caller]) -> None:
    bob, alice = as_user("bob"), as_user("alice")
    key = unique("ro").encode()
    bob.put("shared", key, b"written by bob")
    assert alice.get("shared", key).item.value == b"written by bob"
    message = denial(alice, "Put", kvpb.PutRequest(namespace="shared", key=key, value=b"alice"))
    assert_names(message, "alice", "shared", "write")
    denial(alice, "Delete", kvpb.DeleteRequest(namespace="shared", key=key))
    # The refused calls changed nothing.
    assert bob.get("shared", key).item.value == b"written by bob"


def test_group_selector(as_user: Callable[..., Caller]) -> None:
    key = unique("grp").encode()
    as_user("bob").put("shared", key, b"for readers")
    carol = as_user("carol", groups=["staff", "readers"])
    assert carol.get("shared", key).item.value == b"for readers"
    message = denial(carol, "Put", kvpb.PutRequest(namespace="shared", key=key, value=b"x"))
    assert_names(message, "carol", "shared", "write")
    dave = as_user("dave", groups=["writers"])
    assert_names(
        denial(dave, "Get", kvpb.GetRequest(namespace="shared", key=key)), "dave", "shared", "read"
    )
    # A group name given as the principal does not match `group:` selectors.
    readers = as_user("readers")
    denial(readers, "Get", kvpb.GetRequest(namespace="shared", key=key))


def test_claim_selector(as_user: Callable[..., Caller]) -> None:
    key = unique("claim").encode()
    acme = as_user("erin", tenant="acme")
    acme.put("tenants", key, b"acme data")
    assert acme.get("tenants", key).item.value == b"acme data"
    for other in (as_user("frank", tenant="evil"), as_user("grace")):
        denial(other, "Get", kvpb.GetRequest(namespace="tenants", key=key))
    # A claim value that merely contains the expected one is not a match.
    denial(
        as_user("heidi", tenant="acme-evil"), "Get", kvpb.GetRequest(namespace="tenants", key=key)
    )


def test_default_policy_admits_any_authenticated_caller(as_user: Callable[..., Caller]) -> None:
    key = unique("open").encode()
    as_user("ivan").put("open", key, b"v")
    assert as_user("judy").get("open", key).found


def _until(check: Callable[[], bool], budget: float) -> float:
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < budget, f"not applied within {budget:.0f}s"
        time.sleep(0.05)
    return time.monotonic() - start


def test_policy_change_in_the_admin_applies_live(
    server: ServerProcess, as_user: Callable[..., Caller]
) -> None:
    admin = Admin.of(server)
    alice = as_user("alice")
    key = unique("live").encode()
    as_user("bob").put("live", key, b"v")

    def alice_reads() -> bool:
        try:
            alice.get("live", key)
            return True
        except grpc.RpcError as err:
            assert err.code() == PERMISSION_DENIED, f"{err.code()}: {err.details()}"
            return False

    assert not alice_reads()

    def grant(spec: dict[str, Any]) -> None:
        spec["access"]["read"] = ["bob", "alice"]

    admin.update_spec("live", grant)
    took = _until(alice_reads, LIVE_BUDGET_S)

    def revoke(spec: dict[str, Any]) -> None:
        spec["access"]["read"] = ["bob"]

    admin.update_spec("live", revoke)
    _until(lambda: not alice_reads(), LIVE_BUDGET_S)
    assert took < LIVE_BUDGET_S
