"""ACCEPTANCE (issue 4): as a new user would, with the installed `prismctl` executable.

`prism serve` with no config (fresh data dir, free ports, PRISM_ADMIN_TOKEN set), then
`prismctl login` (the gRPC address is discovered from the admin's proxy list), then
`prismctl namespace apply -f examples/postgres-kv.yaml` against the local stack's
PostgreSQL, then `prismctl kv put` and `prismctl kv get` on the new namespace: it works
without restarting anything.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from helpers import unique
from helpers.server import ServerProcess

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "postgres-kv.yaml"
PRISMCTL = Path(sys.executable).parent / "prismctl"


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """The stack's PostgreSQL, started here unless already up (stopped only if started)."""
    from tooling.stack import api

    with api.running(["postgres"]) as endpoints:
        yield endpoints["postgres"].url


def prismctl(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PRISM_CONFIG_DIR=str(home))
    env.pop("PRISM_ADMIN_TOKEN", None)  # the user types the token; prismctl must not need it
    return subprocess.run(
        [str(PRISMCTL), *args], env=env, capture_output=True, text=True, timeout=60
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (
        f"{' '.join(result.args)} exited {result.returncode}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result.stdout


def test_new_user_flow(tmp_path: Path, postgres_url: str) -> None:
    assert PRISMCTL.exists(), f"{PRISMCTL} is not installed (pyproject [project.scripts])"
    spec_file = EXAMPLE
    spec = yaml.safe_load(EXAMPLE.read_text())
    if spec["config"]["url"] != postgres_url:
        # Only when PRISM_POSTGRES_URL points at another server: same spec, that URL.
        spec["config"]["url"] = postgres_url
        spec_file = tmp_path / "postgres-kv.yaml"
        spec_file.write_text(yaml.safe_dump(spec, sort_keys=False))

    server = ServerProcess(tmp_path / "serve", namespaces=None)
    home = tmp_path / "home"
    try:
        server.start()
        assert f"prism: admin on {server.admin_url}" in server.log_text()

        login = ok(prismctl(home, "login", "--admin-url", server.admin_url,
                            "--token", server.admin_token))  # fmt: skip
        assert f"gRPC {server.address}" in login  # discovered, not typed

        applied = ok(prismctl(home, "namespace", "apply", "-f", str(spec_file)))
        assert "namespace orders: created" in applied
        assert "+ backend: postgres" in applied

        key = unique("order")
        put = ok(prismctl(home, "kv", "put", "-n", "orders", key, '{"qty": 3}'))
        assert f"orders/{key}: version" in put
        assert ok(prismctl(home, "kv", "get", "-n", "orders", key)) == '{"qty": 3}\n'
        assert server.running  # nothing was restarted

        listed = ok(prismctl(home, "namespace", "list"))
        assert "orders" in listed and "postgres" in listed
        # Plain delete: the postgres plugin does not deprovision (the admin answers 501),
        # and keys are unique per run, so rows left in kv_orders harm no later run.
        ok(prismctl(home, "namespace", "delete", "orders"))
        gone = prismctl(home, "kv", "get", "-n", "orders", key)
        assert gone.returncode == 1 and "not_found" in gone.stderr
        server.stop()
    finally:
        server.kill()
