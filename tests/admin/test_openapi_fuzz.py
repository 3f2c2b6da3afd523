"""Bad input: schemathesis generates requests for every operation of the admin's OpenAPI
(with an admin token) and checks there is no 5xx and every answer conforms to the
schema: status code, content type, headers and body. Bounded to run in `make test`."""

from __future__ import annotations

import time

import pytest
import schemathesis
from conftest import ADMIN_TOKEN, bearer, kv_spec
from hypothesis import HealthCheck, given, settings
from prism.admin.server import AdminServer
from schemathesis import checks

MAX_EXAMPLES = 25
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


def test_no_server_error_and_schema_conformance(admin: AdminServer) -> None:
    started = time.monotonic()
    headers = bearer(ADMIN_TOKEN)
    # Something to read, so GETs of existing resources are exercised too.
    import httpx

    with httpx.Client(base_url=admin.url, headers=headers, trust_env=False) as api:
        assert api.post("/v1/namespaces", json=kv_spec("default")).status_code == 201

    schema = schemathesis.openapi.from_url(f"{admin.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 15
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=admin.url, headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as err:  # name the operation that failed
            pytest.fail(f"{operation.method.upper()} {operation.path}: {err}")
    assert time.monotonic() - started < 90
