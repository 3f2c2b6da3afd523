"""Fixtures of the end-to-end security tests (issue 5, ADR-010, ADR-011): a PKI and an
OIDC issuer made at test time, shared by every module; each module starts its own
`prism serve` with the auth mode it tests (module-scoped, to keep the run short)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for sectools

from helpers.oidc import JwksServer, SigningKey, ec_key, rsa_key  # noqa: E402
from helpers.pki import Pki  # noqa: E402


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def rsa_signer() -> SigningKey:
    return rsa_key("rsa-1")


@pytest.fixture(scope="session")
def ec_signer() -> SigningKey:
    return ec_key("ec-1")


@pytest.fixture(scope="session")
def jwks(rsa_signer: SigningKey, ec_signer: SigningKey) -> Iterator[JwksServer]:
    """The issuer's JWKS endpoint, publishing the RSA and the EC key."""
    with JwksServer([rsa_signer, ec_signer]) as server:
        yield server
