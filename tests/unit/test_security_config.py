"""The security blocks of the config (ADR-010): errors naming the field, relative files,
what reaches the core, and the same meaning from a YAML file and from an admin spec."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from prism.cli.serve import namespace_spec
from prism.config import core_namespaces, load_config
from prism.errors import ConfigError
from prism.proxy.namespaces import from_spec


def cfg_with(tmp_path: Path, server: dict[str, Any] | None = None, **ns: Any) -> Any:
    data = {
        "data_dir": str(tmp_path),
        "server": server or {},
        "namespaces": [{"name": "a", "patterns": ["keyvalue"], "backend": "memory", **ns}],
    }
    return load_config(data)


def pem_files(tmp_path: Path) -> dict[str, str]:
    # Contents do not matter to the Python side (the core loads them); existence does.
    for name in ("cert.pem", "key.pem", "ca.pem"):
        (tmp_path / name).write_text("-----BEGIN X-----\n")
    return {"cert_file": "cert.pem", "key_file": "key.pem", "client_ca_file": "ca.pem"}


@pytest.mark.parametrize(
    ("server", "message"),
    [
        (
            {"auth": {"mode": "oauth"}},
            r"server\.auth\.mode: must be one of none, tls, mtls, jwt, mtls\+jwt",
        ),
        ({"auth": {"mode": "tls"}}, r"server\.auth\.tls\.cert_file: is required with mode 'tls'"),
        (
            {"auth": {"mode": "mtls", "tls": {"cert_file": "cert.pem", "key_file": "key.pem"}}},
            r"server\.auth\.tls\.client_ca_file: is required with mode 'mtls'",
        ),
        (
            {"auth": {"mode": "tls", "tls": {"cert_file": "nope.pem", "key_file": "key.pem"}}},
            r"server\.auth\.tls\.cert_file: no such file: .*nope\.pem",
        ),
        (
            {"auth": {"mode": "jwt", "jwt": {"issuer": "https://id"}}},
            r"server\.auth\.jwt\.audience",
        ),
        (
            {"auth": {"mode": "jwt", "jwt": {"audience": "prism"}}},
            r"server\.auth\.jwt: mode 'jwt' needs a key source",
        ),
        (
            {"auth": {"mode": "jwt", "jwt": {"audience": "p", "hs256_secret_env": "UNSET_XYZ"}}},
            r"server\.auth\.jwt\.hs256_secret_env: the environment variable UNSET_XYZ is not set",
        ),
        (
            {"auth": {"mode": "jwt", "jwt": {"audience": "p", "jwks_url": "ftp://x"}}},
            r"server\.auth\.jwt\.jwks_url: must be an http\(s\) URL",
        ),
        ({"auth": {"max_metadata_bytes": 10}}, r"server\.auth\.max_metadata_bytes"),
        ({"auth": {"moed": "none"}}, r"server\.auth\.moed: unknown key"),
        ({"audit": {"keep": -1}}, r"server\.audit\.keep: must be a non-negative integer"),
        ({"audit": {"max_bytes": 0}}, r"server\.audit\.max_bytes: must be a positive integer"),
        ({"keys": {"master_key_env": "1BAD"}}, r"server\.keys\.master_key_env"),
        ({"keys": {"master_key_file": "missing.key"}}, r"server\.keys\.master_key_file: no such"),
    ],
)
def test_server_security_errors_name_the_field(
    tmp_path: Path, server: dict[str, Any], message: str
) -> None:
    pem_files(tmp_path)
    (tmp_path / "prism.yaml").write_text(json.dumps({"server": server}))
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path / "prism.yaml")


def test_mtls_files_are_resolved_relative_to_the_config_file(tmp_path: Path) -> None:
    tls = pem_files(tmp_path)
    (tmp_path / "prism.yaml").write_text(
        json.dumps(
            {
                "server": {
                    "auth": {
                        "mode": "mtls+jwt",
                        "tls": tls,
                        "jwt": {"audience": "prism", "issuer": "https://id.example"},
                    },
                    "audit": {"path": "logs/audit.jsonl", "keep": 2},
                },
                "namespaces": [{"name": "a", "backend": "memory"}],
            }
        )
    )
    cfg = load_config(tmp_path / "prism.yaml")
    server = json.loads(cfg.to_core_json())["server"]
    assert server["auth"]["mode"] == "mtls+jwt"
    assert server["auth"]["tls"] == {
        "cert_file": str(tmp_path / "cert.pem"),
        "key_file": str(tmp_path / "key.pem"),
        "client_ca_file": str(tmp_path / "ca.pem"),
    }
    assert server["auth"]["jwt"]["audience"] == "prism"
    assert server["auth"]["jwt"]["principal_claim"] == "sub"
    assert server["audit"]["path"] == str(tmp_path / "logs" / "audit.jsonl")
    assert server["audit"]["keep"] == 2
    assert server["keys"] == {"master_key_env": "PRISM_MASTER_KEY", "master_key_file": ""}


def test_hs256_secret_env_is_accepted_when_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRISM_TEST_HS", "s3cret")
    auth = {"mode": "jwt", "jwt": {"audience": "p", "hs256_secret_env": "PRISM_TEST_HS"}}
    cfg = cfg_with(tmp_path, {"auth": auth})
    assert cfg.server.auth.jwt.hs256_secret_env == "PRISM_TEST_HS"


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"access": {"read": "*"}}, r"namespaces\[0\]\.access\.read: must be a list"),
        ({"access": {"write": ["ok", "group:"]}}, r"access\.write\[1\]: 'group:' names no group"),
        ({"access": {"pii_read": ["claim:x"]}}, r"access\.pii_read\[0\]: .*claim:<name>=<value>"),
        ({"access": {"read": ["two words"]}}, r"access\.read\[0\]: .*whitespace"),
        ({"access": {"owner": []}}, r"access\.owner: unknown key"),
        ({"rate_limit": {"requests_per_second": -1}}, r"rate_limit\.requests_per_second"),
        ({"rate_limit": {"burst": 1.5}}, r"rate_limit\.burst: must be a non-negative integer"),
        ({"audit_required": "yes"}, r"namespaces\[0\]\.audit_required: must be true or false"),
        ({"schema": {"message": "x"}}, r"namespaces\[0\]\.schema: bind a schema through the admin"),
    ],
)
def test_namespace_security_errors_name_the_field(
    tmp_path: Path, block: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        cfg_with(tmp_path, **block)


def test_access_rate_limit_and_audit_reach_the_core(tmp_path: Path) -> None:
    cfg = cfg_with(
        tmp_path,
        access={"read": ["*"], "write": ["group:writers", "svc-a"], "pii_read": ["claim:r=x"]},
        rate_limit={"requests_per_second": 50, "burst": 10, "per_principal_requests_per_second": 5},
        audit_required=True,
    )
    (entry,) = json.loads(cfg.to_core_json())["namespaces"]
    assert entry["access"] == {
        "read": ["*"],
        "write": ["group:writers", "svc-a"],
        "admin": [],
        "pii_read": ["claim:r=x"],
    }
    assert entry["rate_limit"] == {
        "requests_per_second": 50.0,
        "burst": 10,
        "per_principal_requests_per_second": 5.0,
        "per_principal_burst": 0,
    }
    assert entry["audit_required"] is True
    assert "schema" not in entry


def test_file_namespace_round_trips_through_an_admin_spec(tmp_path: Path) -> None:
    """prism serve: file namespace -> admin spec -> (proxy) NamespaceConfig: nothing lost."""
    cfg = cfg_with(
        tmp_path,
        access={"read": ["group:r"], "admin": ["ops"]},
        rate_limit={"per_principal_burst": 3},
        audit_required=True,
    )
    (ns,) = cfg.namespaces
    spec = json.loads(json.dumps(namespace_spec(ns)))  # as it travels over HTTP
    back = from_spec(spec, tmp_path)
    assert back == ns


def test_admin_schema_reaches_the_core(tmp_path: Path) -> None:
    schema = {
        "descriptor_set": "AAAA",
        "message": "acme.v1.User",
        "data_keys": [{"version": 1, "wrapped": "d3JhcHBlZA=="}],
    }
    spec = {"name": "u", "patterns": ["keyvalue"], "backend": "memory", "schema": schema}
    ns = from_spec(spec, tmp_path)
    assert ns.schema is not None and ns.schema.message == "acme.v1.User"
    (entry,) = json.loads(json.dumps(core_namespaces([ns])))  # as the core reads it
    assert entry["schema"] == schema
    with pytest.raises(ConfigError, match=r"schema\.data_keys\[0\]\.version"):
        from_spec(
            {**spec, "schema": {**schema, "data_keys": [{"version": 0, "wrapped": "x"}]}}, tmp_path
        )


def test_prism_proxy_config_takes_server_settings_not_namespaces(tmp_path: Path) -> None:
    from prism.cli.main import app
    from typer.testing import CliRunner

    with_ns = tmp_path / "proxy.yaml"
    with_ns.write_text(json.dumps({"namespaces": [{"name": "a", "backend": "memory"}]}))
    args = ["proxy", "--admin", "http://127.0.0.1:1", "--config"]
    result = CliRunner().invoke(app, [*args, str(with_ns)])
    assert result.exit_code == 2
    assert "serves the admin's namespaces" in result.stderr
    bad_auth = tmp_path / "auth.yaml"
    bad_auth.write_text(json.dumps({"server": {"auth": {"mode": "mtls"}}}))
    result = CliRunner().invoke(app, [*args, str(bad_auth)])
    assert result.exit_code == 2
    assert "server.auth.tls.cert_file: is required with mode 'mtls'" in result.stderr
