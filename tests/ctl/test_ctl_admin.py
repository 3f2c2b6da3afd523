"""prismctl against a real admin (AdminServer over HTTP, SQLite store): login, namespace
apply/get/list/diff/delete in table and JSON form, backends, proxies, and the exit codes
and messages of server errors and bad input."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from ctlrun import Ctl, as_json, ok
from prism.admin.server import AdminServer
from prism.admin.settings import AdminSettings

TOKEN = f"ctl-test-{os.urandom(6).hex()}"


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminServer]:
    data_dir = tmp_path_factory.mktemp("ctl-admin")
    server = AdminServer(AdminSettings(data_dir=data_dir, bootstrap_token=TOKEN, port=0))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def logged_in(admin: AdminServer, ctl: Ctl) -> AdminServer:
    ok(ctl("login", "--admin-url", admin.url, "--token", TOKEN, "--grpc", "127.0.0.1:1"))
    return admin


def write_spec(path: Path, **spec: object) -> Path:
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_login_stores_the_profile_0600(admin: AdminServer, ctl: Ctl, ctl_config_dir: Path) -> None:
    result = ok(ctl("login", "--admin-url", admin.url + "/", "--token", TOKEN, "--profile", "lab"))
    assert "profile 'lab'" in result.stdout
    path = ctl_config_dir / "config.yaml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = yaml.safe_load(path.read_text())
    assert saved["current"] == "lab"
    assert saved["profiles"]["lab"]["admin_url"] == admin.url  # trailing slash dropped
    assert saved["profiles"]["lab"]["token"] == TOKEN
    # --profile selects it; the current one is used without it.
    assert as_json(ctl("--profile", "lab", "-o", "json", "namespace", "list")) == []
    assert as_json(ctl("-o", "json", "namespace", "list")) == []


def test_login_with_a_wrong_token_exits_1_and_stores_nothing(
    admin: AdminServer, ctl: Ctl, ctl_config_dir: Path
) -> None:
    result = ctl("login", "--admin-url", admin.url, "--token", "not-a-token")
    assert result.exit_code == 1
    assert "refused the token" in result.stderr and "(HTTP 401)" in result.stderr
    assert not (ctl_config_dir / "config.yaml").exists()


def test_commands_before_login_exit_2_pointing_at_login(ctl: Ctl) -> None:
    result = ctl("namespace", "list")
    assert result.exit_code == 2
    assert "prismctl login" in result.stderr


def test_namespace_round_trip_table_and_json(
    logged_in: AdminServer, ctl: Ctl, tmp_path: Path
) -> None:
    spec = write_spec(
        tmp_path / "ns.yaml",
        name="ctl-rt",
        patterns=["keyvalue"],
        backend="sqlite",
        config={"path": "ctl-rt.db"},
        limits={"max_key_bytes": 128},
    )
    # diff before anything exists: everything is an addition, and nothing is created.
    diff = ok(ctl("namespace", "diff", "-f", str(spec)))
    assert "namespace ctl-rt: would be created" in diff.stdout
    assert "+ backend: sqlite" in diff.stdout
    assert as_json(ctl("-o", "json", "namespace", "list")) == []

    created = as_json(ctl("-o", "json", "namespace", "apply", "-f", str(spec)))
    assert created["action"] == "create"
    assert created["namespace"]["version"] == 1
    assert created["namespace"]["spec"]["limits"]["max_key_bytes"] == 128

    listing = ok(ctl("namespace", "list")).stdout
    assert "NAME" in listing and "ctl-rt" in listing and "sqlite" in listing
    [item] = as_json(ctl("-o", "json", "namespace", "list"))
    assert item["name"] == "ctl-rt" and item["version"] == 1

    table = ok(ctl("namespace", "get", "ctl-rt")).stdout
    assert "spec.limits.max_key_bytes" in table and "128" in table
    got = as_json(ctl("-o", "json", "namespace", "get", "ctl-rt"))
    assert got["spec"]["backend"] == "sqlite" and got["version"] == 1

    # A change: the dry run shows it and changes nothing; apply then bumps the version.
    write_spec(
        spec,
        name="ctl-rt",
        patterns=["keyvalue"],
        backend="sqlite",
        config={"path": "ctl-rt.db"},
        limits={"max_key_bytes": 64},
    )
    dry = ok(ctl("namespace", "apply", "-f", str(spec), "--dry-run")).stdout
    assert "would be updated" in dry and "~ limits.max_key_bytes: 128 -> 64" in dry
    assert as_json(ctl("-o", "json", "namespace", "get", "ctl-rt"))["version"] == 1
    applied = ok(ctl("namespace", "apply", "-f", str(spec))).stdout
    assert "namespace ctl-rt: updated (version 2)" in applied
    assert "unchanged" in ok(ctl("namespace", "apply", "-f", str(spec))).stdout

    deleted = ok(ctl("namespace", "delete", "ctl-rt"))
    assert "deleted, backend data kept" in deleted.stdout
    missing = ctl("namespace", "get", "ctl-rt")
    assert missing.exit_code == 1
    assert "namespace 'ctl-rt' not found (HTTP 404)" in missing.stderr


def test_delete_with_deprovision_asks_unless_yes(
    logged_in: AdminServer, ctl: Ctl, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path / "d.yaml", name="ctl-dep", patterns=["keyvalue"], backend="sqlite")
    ok(ctl("namespace", "apply", "-f", str(spec)))
    refused = ctl("namespace", "delete", "ctl-dep", "--deprovision", input="n\n")
    assert refused.exit_code == 1  # aborted at the prompt: nothing deleted
    assert as_json(ctl("-o", "json", "namespace", "get", "ctl-dep"))["name"] == "ctl-dep"
    done = ok(ctl("namespace", "delete", "ctl-dep", "--deprovision", "--yes"))
    assert "backend data dropped" in done.stdout
    assert ctl("namespace", "get", "ctl-dep").exit_code == 1


def test_malformed_yaml_reports_the_line_and_exits_2(
    logged_in: AdminServer, ctl: Ctl, tmp_path: Path
) -> None:
    bad = tmp_path / "x.yaml"
    bad.write_text("name: broken\npatterns: [keyvalue]\nbackend: sqlite\nconfig:\n  path: a\n"
                   "limits:\n  max_key_bytes: 1\n  oops: : :\n")  # fmt: skip
    for command in ("apply", "diff"):
        result = ctl("namespace", command, "-f", str(bad))
        assert result.exit_code == 2, result.stderr
        assert f"{bad}:8:" in result.stderr
        assert "not allowed here" in result.stderr or "mapping values" in result.stderr
    assert as_json(ctl("-o", "json", "namespace", "list")) == [] or all(
        ns["name"] != "broken" for ns in as_json(ctl("-o", "json", "namespace", "list"))
    )


def test_unknown_backend_is_422_naming_the_field_exit_1(
    logged_in: AdminServer, ctl: Ctl, tmp_path: Path
) -> None:
    spec = write_spec(
        tmp_path / "u.yaml", name="ctl-unknown", patterns=["keyvalue"], backend="nosuch"
    )
    result = ctl("namespace", "apply", "-f", str(spec))
    assert result.exit_code == 1
    assert "(HTTP 422)" in result.stderr
    assert "backend" in result.stderr and "nosuch" in result.stderr


def test_unclaimed_feature_is_refused_naming_features_index(
    logged_in: AdminServer, ctl: Ctl, tmp_path: Path
) -> None:
    spec = write_spec(
        tmp_path / "f.yaml",
        name="ctl-feat",
        patterns=["timeseries"],
        backend="sqlite",
        features=["aggregate", "teleport"],
    )
    result = ctl("namespace", "diff", "-f", str(spec))
    assert result.exit_code == 1
    assert "features[1]" in result.stderr and "(HTTP 422)" in result.stderr


def test_stale_version_is_409_with_the_servers_message(
    logged_in: AdminServer, ctl: Ctl, tmp_path: Path
) -> None:
    spec = write_spec(
        tmp_path / "s.yaml", name="ctl-stale", patterns=["keyvalue"], backend="sqlite"
    )
    ok(ctl("namespace", "apply", "-f", str(spec)))
    write_spec(spec, name="ctl-stale", patterns=["keyvalue"], backend="sqlite",
               limits={"max_key_bytes": 99})  # fmt: skip
    updated = as_json(ctl("-o", "json", "namespace", "apply", "-f", str(spec), "--if-version", "1"))
    assert updated["namespace"]["version"] == 2
    stale = ctl("namespace", "apply", "-f", str(spec), "--if-version", "1")
    assert stale.exit_code == 1
    assert "(HTTP 409)" in stale.stderr and "version 2" in stale.stderr
    ok(ctl("namespace", "delete", "ctl-stale"))


def test_backend_list_and_health(logged_in: AdminServer, ctl: Ctl) -> None:
    backends = {b["name"]: b for b in as_json(ctl("-o", "json", "backend", "list"))}
    assert "ttl" in backends["sqlite"]["capabilities"]["keyvalue"]
    table = ok(ctl("backend", "list")).stdout
    assert "sqlite" in table and "CAPABILITIES" in table
    health = as_json(ctl("-o", "json", "backend", "health", "sqlite"))
    assert health["healthy"] is True
    unknown = ctl("backend", "health", "nosuch")
    assert unknown.exit_code == 1 and "nosuch" in unknown.stderr and "(HTTP 404)" in unknown.stderr


def test_proxy_list_and_health_without_a_proxy(logged_in: AdminServer, ctl: Ctl) -> None:
    assert as_json(ctl("-o", "json", "proxy", "list")) == []
    assert "ADDRESS" in ok(ctl("proxy", "list")).stdout
    # The admin is up but the profile's gateway (127.0.0.1:1) is not: exit 1 naming it.
    result = ctl("-o", "json", "health")
    assert result.exit_code == 1
    assert "proxy 127.0.0.1:1" in result.stderr
    checks = {c["component"]: c for c in __import__("json").loads(result.stdout)}
    assert checks["admin"]["status"] == "ok"
    assert checks["proxy"]["status"].startswith("unreachable")
