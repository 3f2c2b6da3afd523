"""The local stack (tooling/stack) against the real servers it starts: one stack for the
module (Kafka's JVM start dominates, so it happens once), a real client call per server,
stop/kill and start keeping data, the CLI, external endpoints, and finally `down`.

If a stack was already up (`make stack-up`), the tests use it and leave it up.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tooling.stack import api, install, process, provider, state
from tooling.stack.services import SERVICES, Endpoint
from tooling.stack.services.kafka import VERSION as KAFKA_VERSION

# First run on a fresh machine: apt installs plus Maven fetching Kafka (~45 s) come first.
pytestmark = pytest.mark.timeout(900)

REPO = Path(__file__).resolve().parents[2]
ENV_VARS = [s.env_var for s in SERVICES.values()]


PREEXISTING: list[str] = []  # services that were up before the fixture ran


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, Endpoint]]:
    # These tests are about the stack's own servers: ignore PRISM_*_URL pointing elsewhere.
    saved = {v: os.environ.pop(v) for v in ENV_VARS if v in os.environ}
    PREEXISTING[:] = [row.name for row in api.status() if row.state == "up"]
    try:
        with api.running() as eps:
            yield eps
    finally:
        os.environ.update(saved)


def sh(*argv: str) -> str:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"{argv} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout.strip()


def psql(url: str, sql: str) -> str:
    return sh("psql", url, "-X", "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql)


def test_all_four_up_with_their_endpoints(stack: dict[str, Endpoint]) -> None:
    assert {name: ep.url for name, ep in stack.items()} == {
        "postgres": "postgresql://prism@127.0.0.1:25432/prism",
        "redis": "redis://127.0.0.1:26379/0",
        "nats": "nats://127.0.0.1:24222",
        "kafka": "127.0.0.1:29092",
    }
    assert {row.name: row.state for row in api.status()} == dict.fromkeys(SERVICES, "up")
    assert api.endpoints() == stack


def test_postgres_select_as_prism(stack: dict[str, Endpoint]) -> None:
    url = stack["postgres"].url
    assert psql(url, "select 1") == "1"
    owner = "select pg_get_userbyid(datdba) from pg_database where datname = current_database()"
    assert psql(url, owner) == "prism"


def test_redis_ping(stack: dict[str, Endpoint]) -> None:
    assert sh("redis-cli", "-u", stack["redis"].url, "ping") == "PONG"
    assert sh("redis-cli", "-u", stack["redis"].url, "config", "get", "appendfsync").split() == [
        "appendfsync",
        "always",
    ]


def test_nats_jetstream_answers(stack: dict[str, Endpoint]) -> None:
    with urllib.request.urlopen("http://127.0.0.1:28222/jsz", timeout=5) as resp:
        jsz = json.load(resp)
    assert jsz["config"]["store_dir"].startswith(str(state.stack_dir()))
    # A JetStream API request over the client protocol: $JS.API.INFO -> account info.
    with socket.create_connection(("127.0.0.1", 24222), timeout=5) as s, s.makefile("rb") as f:
        assert f.readline().startswith(b"INFO ")
        s.sendall(b'CONNECT {"verbose":false}\r\n')
        s.sendall(b"SUB _INBOX.t 1\r\nPUB $JS.API.INFO _INBOX.t 0\r\n\r\n")
        header = f.readline()
        assert header.startswith(b"MSG _INBOX.t 1 "), header
        body = json.loads(f.readline())
    assert body["type"] == "io.nats.jetstream.api.v1.account_info_response"


def test_kafka_topic_produce_consume(stack: dict[str, Endpoint]) -> None:
    libs = install.kafka_libs(KAFKA_VERSION, lambda _: None)
    topic = f"stack-test-{uuid.uuid4().hex[:8]}"
    out = sh(
        "java", "-Xmx256m", "-cp", f"{libs}/*",
        str(Path(__file__).with_name("KafkaSmoke.java")), stack["kafka"].url, topic, "5",
    )  # fmt: skip
    assert out.splitlines()[-1] == "consumed 5"


def test_redis_key_survives_kill_and_restart(stack: dict[str, Endpoint]) -> None:
    url = stack["redis"].url
    key = f"stack-test-{uuid.uuid4().hex}"
    assert sh("redis-cli", "-u", url, "set", key, "kept") == "OK"
    api.stop("redis", kill=True)  # a crash: only appendfsync=always saves the key
    assert not process.port_open(26379)
    assert {r.name: r.state for r in api.status()}["redis"] == "down"
    api.start("redis")
    assert sh("redis-cli", "-u", url, "get", key) == "kept"


def test_postgres_row_survives_stop_and_start(stack: dict[str, Endpoint]) -> None:
    url = stack["postgres"].url
    table = f"stack_test_{uuid.uuid4().hex[:8]}"
    psql(url, f"create table {table} (v text); insert into {table} values ('kept')")
    api.stop("postgres")
    assert not process.port_open(25432)
    api.start("postgres")
    assert psql(url, f"select v from {table}") == "kept"


def test_cli_status_and_env(stack: dict[str, Endpoint]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    run = [sys.executable, "-m", "tooling.stack"]
    status = subprocess.run([*run, "status"], cwd=REPO, env=env, capture_output=True, text=True)
    rows = {line.split()[0]: line.split()[3] for line in status.stdout.splitlines()[1:]}
    assert rows == dict.fromkeys(SERVICES, "up"), status.stdout
    exports = subprocess.run([*run, "env"], cwd=REPO, env=env, capture_output=True, text=True)
    assert exports.stdout.splitlines() == [f"export {e.env_var}={e.url}" for e in stack.values()]
    up = subprocess.run([*run, "up"], cwd=REPO, env=env, capture_output=True, text=True)
    assert up.returncode == 0 and up.stdout.count("already running") == 4, up.stdout


def test_env_var_means_external(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRISM_REDIS_URL", "redis://external.invalid:6379/3")  # never contacted
    lines: list[str] = []
    eps = api.up(["redis"], out=lines.append)
    assert eps["redis"] == Endpoint(
        "redis", "redis://external.invalid:6379/3", "PRISM_REDIS_URL", True
    )
    assert lines == [
        "redis: using PRISM_REDIS_URL=redis://external.invalid:6379/3 (external, not started)"
    ]
    assert "export PRISM_REDIS_URL=redis://external.invalid:6379/3" in api.env_lines()
    # The stack's own URL is not "external": an eval'ed `env` must not disable the stack.
    monkeypatch.setenv("PRISM_REDIS_URL", "redis://127.0.0.1:26379/0")
    assert api.external(SERVICES["redis"]) is None


def test_maven_download_lines_are_parsed() -> None:
    line = "Downloaded from central: https://repo/x/kafka-clients-3.9.1.jar (5.6 MB at 1.2 MB/s)"
    assert install.parse_download(line) == ("kafka-clients-3.9.1.jar", 5.6e6)
    assert install.parse_download("[INFO] Downloaded from central: https://r/a.pom (2 kB)") is None


def test_docker_provider_fails_clearly() -> None:
    with pytest.raises(api.ServiceError, match="--provider docker"):
        provider.resolve("docker")
    assert provider.resolve("auto") == "native"


def test_down_stops_everything_and_removes_the_dir(stack: dict[str, Endpoint]) -> None:
    # Last in the module: the fixture's own `down` is then a no-op.
    if PREEXISTING:
        pytest.skip(f"{', '.join(PREEXISTING)} were up before the tests: left up")
    api.down()
    for svc in SERVICES.values():
        for port in svc.ports():
            assert not process.port_open(port), f"{svc.name} still listens on {port}"
    assert not state.stack_dir().exists()
