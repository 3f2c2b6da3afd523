"""prismctl kv and ts through a running gateway: `prism serve` (admin + proxy) with no
config, so the embedded `default` namespace (KeyValue + TimeSeries on SQLite) exists, and
a namespace applied through prismctl is served without a restart."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ctlrun import Ctl, as_json, ok
from helpers import unique
from helpers.server import ServerProcess

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("ctl-serve"), namespaces=None)
    try:
        proc.start()
        yield proc
        proc.stop()
    finally:
        proc.kill()


@pytest.fixture
def gateway(served: ServerProcess, ctl: Ctl) -> ServerProcess:
    ok(ctl("login", "--admin-url", served.admin_url, "--token", served.admin_token,
           "--grpc", served.address))  # fmt: skip
    return served


def test_kv_put_get_scan_delete(gateway: ServerProcess, ctl: Ctl, tmp_path: Path) -> None:
    prefix = unique("kv")
    put = ok(ctl("kv", "put", f"{prefix}/a", "héllo"))
    assert f"default/{prefix}/a: version" in put.stdout
    assert ok(ctl("kv", "get", f"{prefix}/a")).stdout == "héllo\n"
    # Binary values: in as base64, back as base64 (and untouched in a file).
    ok(ctl("kv", "put", f"{prefix}/b", base64.b64encode(b"\x00\xff\x01").decode(), "--base64"))
    got = as_json(ctl("-o", "json", "kv", "get", f"{prefix}/b"))
    assert got["encoding"] == "base64" and base64.b64decode(got["value"]) == b"\x00\xff\x01"
    blob = tmp_path / "in.bin"
    blob.write_bytes(bytes(range(256)))
    ok(ctl("kv", "put", f"{prefix}/c", "--file", str(blob)))
    out = tmp_path / "out.bin"
    ok(ctl("kv", "get", f"{prefix}/c", "--file", str(out)))
    assert out.read_bytes() == bytes(range(256))

    items = as_json(ctl("-o", "json", "kv", "scan", "--prefix", f"{prefix}/"))
    assert [i["key"] for i in items] == [f"{prefix}/a", f"{prefix}/b", f"{prefix}/c"]
    assert items[0]["value"] == "héllo" and items[0]["version"] >= 1
    table = ok(ctl("kv", "scan", "--prefix", f"{prefix}/", "--limit", "1")).stdout
    assert f"{prefix}/a" in table and f"{prefix}/b" not in table

    ok(ctl("kv", "delete", f"{prefix}/a"))
    missing = ctl("kv", "get", f"{prefix}/a")
    assert missing.exit_code == 1
    assert f"key '{prefix}/a' not found" in missing.stderr
    assert ctl("kv", "delete", f"{prefix}/a").exit_code == 1


def test_kv_on_an_unknown_namespace_exits_1_with_the_gateways_message(
    gateway: ServerProcess, ctl: Ctl
) -> None:
    result = ctl("kv", "get", "k", "-n", "no-such-namespace")
    assert result.exit_code == 1
    assert "namespace no-such-namespace:" in result.stderr and "not_found" in result.stderr


def test_ts_append_query_tail(gateway: ServerProcess, ctl: Ctl) -> None:
    series = unique("cpu")
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    for i, host in enumerate(("a", "b", "a")):
        when = (t0 + timedelta(seconds=i)).isoformat()
        ok(ctl("ts", "append", series, str(i * 1.5), "--tag", f"host={host}", "--time", when))
    events = as_json(ctl("-o", "json", "ts", "query", series, "--start", "-1h"))
    assert [e["value"] for e in events] == [0.0, 1.5, 3.0]
    assert events[1]["tags"] == {"host": "b"}
    assert datetime.fromisoformat(events[0]["event_time"]) == t0
    only_a = as_json(ctl("-o", "json", "ts", "query", series, "--tag", "host=a", "--desc"))
    assert [e["value"] for e in only_a] == [3.0, 0.0]
    assert series in ok(ctl("ts", "query", series, "--limit", "1")).stdout

    # tail replays from --from and stops after --count events (JSON Lines).
    tailed = ok(ctl("-o", "json", "ts", "tail", series, "--from", "-1h", "--count", "2"))
    lines = [json.loads(line) for line in tailed.stdout.splitlines()]
    assert [e["value"] for e in lines] == [0.0, 1.5]


def test_applied_namespace_is_served_without_restart(gateway: ServerProcess, ctl: Ctl) -> None:
    # examples/sqlite-ts.yaml: `metrics`, TimeSeries on SQLite in the server's data dir.
    ok(ctl("namespace", "apply", "-f", str(EXAMPLES / "sqlite-ts.yaml")))
    series = unique("load")
    ok(ctl("ts", "append", "-n", "metrics", series, "0.25", "--tag", "host=x"))
    [event] = as_json(ctl("-o", "json", "ts", "query", "-n", "metrics", series))
    assert event["value"] == 0.25 and event["tags"] == {"host": "x"}
    assert (gateway.data_dir / "metrics.db").exists()
    # It serves TimeSeries only: KeyValue on it is refused, exit 1 with the reason.
    refused = ctl("kv", "get", "k", "-n", "metrics")
    assert refused.exit_code == 1 and "namespace metrics:" in refused.stderr

    health = as_json(ctl("-o", "json", "proxy", "list"))
    assert [p["address"] for p in health] == [gateway.address]
    ok(ctl("health"))
    ok(ctl("namespace", "delete", "metrics"))
    gone = ctl("ts", "query", "-n", "metrics", series)
    assert gone.exit_code == 1 and "not_found" in gone.stderr
