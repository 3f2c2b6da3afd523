"""The client SDK against a secured gateway: PrismClient and AsyncPrismClient connect
over TLS with a client certificate (mtls+jwt) and send a bearer token on every call;
refusals surface as the SDK's Unauthenticated and PermissionDenied."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from helpers import unique
from helpers.oidc import HS256_SECRET, claims, mint
from helpers.pki import Pki
from helpers.server import ServerProcess
from prism.client import AsyncPrismClient, PrismClient
from prism.errors import PermissionDenied, Unauthenticated
from sectools import jwt_auth, running, secret_env, tls_credentials

NAMESPACES = [
    {
        "name": "sdk",
        "patterns": ["keyvalue"],
        "backend": "memory",
        "access": {"read": ["alice"], "write": ["alice"]},
    },
    {
        "name": "elsewhere",
        "patterns": ["keyvalue"],
        "backend": "memory",
        "access": {"read": ["bob"], "write": ["bob"]},
    },
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path_factory.mktemp("sdk-server"),
        NAMESPACES,
        server={"auth": jwt_auth(pki, None, mode="mtls+jwt")},
        env=secret_env(),
        credentials=tls_credentials(pki, pki.client_uri),
    )
    with running(proc):
        yield proc


def client(pki: Pki, address: str, token: str, retries: int = 3) -> PrismClient:
    return PrismClient(
        address,
        token=token,
        retries=retries,
        root_certificates=pki.ca.cert_pem,
        certificate_chain=pki.client_uri.cert_pem,
        private_key=pki.client_uri.key_pem,
    )


def async_client(pki: Pki, address: str, token: str) -> AsyncPrismClient:
    return AsyncPrismClient(
        address,
        token=token,
        root_certificates=pki.ca.cert_pem,
        certificate_chain=pki.client_uri.cert_pem,
        private_key=pki.client_uri.key_pem,
    )


def test_sync_client_with_mtls_and_token(server: ServerProcess, pki: Pki) -> None:
    key = unique("sdk").encode()
    token = mint(claims("alice"), secret=HS256_SECRET)
    with client(pki, server.address, token) as c:
        c.kv("sdk").put(key, b"via the SDK")
        item = c.kv("sdk").get(key)
        assert item is not None and item.value == b"via the SDK"
        with pytest.raises(PermissionDenied) as denied:
            c.kv("elsewhere").get(key)
    assert "alice" in str(denied.value) and "elsewhere" in str(denied.value)
    expired = mint(claims("alice", lifetime=-600), secret=HS256_SECRET)
    with client(pki, server.address, expired, retries=1) as c:
        with pytest.raises(Unauthenticated) as info:
            c.kv("sdk").get(key)
    assert "expired" in str(info.value).lower()


def test_async_client_with_mtls_and_token(server: ServerProcess, pki: Pki) -> None:
    key = unique("sdk-async").encode()
    token = mint(claims("alice"), secret=HS256_SECRET)

    async def main() -> bytes | None:
        async with async_client(pki, server.address, token) as c:
            await c.kv("sdk").put(key, b"async")
            item = await c.kv("sdk").get(key)
            with pytest.raises(PermissionDenied):
                await c.kv("elsewhere").get(key)
            return None if item is None else item.value

    assert asyncio.run(main()) == b"async"
