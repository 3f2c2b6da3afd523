"""`prismctl schema`: an annotated .proto written here is compiled with protoc and turned
into a namespace spec (offline), then bound, shown and its key rotated on a real admin."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from ctlrun import Ctl, as_json, ok
from prism.admin.server import AdminServer
from prism.admin.settings import AdminSettings

TOKEN = f"ctl-schema-{os.urandom(6).hex()}"

USER_PROTO = """
syntax = "proto3";
package acme.users.v1;

import "prism/options.proto";
import "acme/common.proto";

message UserProfile {
  option (prism.namespace) = "users";
  option (prism.backend) = "postgres";
  option (prism.consistency) = CONSISTENCY_READ_YOUR_WRITES;
  option (prism.cache) = {enabled: true, max_entries: 500, ttl_seconds: 30};
  option (prism.retention) = {days: 90};
  option (prism.access_pattern) = ACCESS_PATTERN_READ_HEAVY;

  string id = 1 [(prism.index) = true];
  string email = 2 [(prism.pii) = true, (prism.index) = true,
                    (prism.validation) = {format: "email"}, (prism.max_length) = 254];
  acme.common.Address home = 3;
  string bio = 4 [(prism.max_length) = 1000];
}
"""

COMMON_PROTO = """
syntax = "proto3";
package acme.common;
import "prism/options.proto";
message Address {
  string street = 1 [(prism.encrypt_at_rest) = true];
  string country = 2;
}
"""


@pytest.fixture
def protos(tmp_path: Path) -> Path:
    root = tmp_path / "protos"
    (root / "acme").mkdir(parents=True)
    (root / "acme" / "common.proto").write_text(COMMON_PROTO)
    (root / "acme" / "users.proto").write_text(USER_PROTO)
    return root


def test_spec_yaml_is_an_applicable_namespace_spec(ctl: Ctl, protos: Path) -> None:
    result = ok(ctl("schema", "spec", str(protos / "acme/users.proto"), "-I", str(protos)))
    doc = yaml.safe_load(result.stdout)  # the schema part is comments
    assert doc == {
        "name": "users",
        "patterns": ["keyvalue"],
        "backend": "postgres",
        "consistency": "read_your_writes",
        "cache": {"enabled": True, "max_entries": 500, "max_bytes": 0, "ttl_seconds": 30},
        "retention": {"days": 90},
    }
    assert "#     - email" in result.stdout  # indexes and PII fields, as comments
    assert "#       - home.street" in result.stdout
    assert "prismctl schema bind users" in result.stdout


def test_spec_json_has_indexes_and_the_pii_policy(ctl: Ctl, protos: Path) -> None:
    doc = as_json(
        ctl(
            "-o",
            "json",
            "schema",
            "spec",
            str(protos / "acme/users.proto"),
            "-I",
            str(protos),
            "--message",
            "acme.users.v1.UserProfile",
            "--name",
            "people",
            "--pattern",
            "keyvalue",
        )
    )
    assert doc["spec"]["name"] == "people"
    schema = doc["schema"]
    assert schema["message"] == "acme.users.v1.UserProfile"
    assert schema["file"] == "acme/users.proto"
    assert schema["indexes"] == ["id", "email"]
    assert schema["pii"]["fields"] == ["email", "home.street"]
    assert "access.pii_read" in schema["pii"]["policy"]
    assert schema["access_pattern"] == "read_heavy"
    by_path = {f["path"]: f for f in schema["fields"]}
    assert by_path["email"] == {
        "path": "email",
        "number": 2,
        "type": "string",
        "index": True,
        "pii": True,
        "validation": {"format": "email"},
        "max_length": 254,
    }
    assert by_path["home.street"]["encrypt_at_rest"] is True
    assert by_path["bio"]["max_length"] == 1000
    assert "home.country" not in by_path  # no options, nothing to say


def test_spec_errors_exit_2_with_what_to_fix(ctl: Ctl, protos: Path, tmp_path: Path) -> None:
    two = tmp_path / "two.proto"
    two.write_text('syntax = "proto3";\npackage t;\nmessage A {}\nmessage B {}\n')
    result = ctl("schema", "spec", str(two))
    assert result.exit_code == 2
    assert "--message" in result.stderr and "t.A, t.B" in result.stderr
    broken = tmp_path / "broken.proto"
    broken.write_text('syntax = "proto3";\nmessage A { strin x = 1; }\n')
    result = ctl("schema", "spec", str(broken))
    assert result.exit_code == 2
    assert "protoc failed" in result.stderr and "broken.proto:2" in result.stderr
    result = ctl(
        "schema",
        "spec",
        str(protos / "acme/users.proto"),
        "-I",
        str(protos),
        "-m",
        "acme.users.v1.Nope",
    )
    assert result.exit_code == 2
    assert "acme.users.v1.UserProfile" in result.stderr
    # Without -I the import of acme/common.proto cannot be found: protoc says so.
    result = ctl("schema", "spec", str(protos / "acme/users.proto"))
    assert result.exit_code == 2 and "acme/common.proto" in result.stderr


@pytest.fixture
def admin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AdminServer]:
    monkeypatch.setenv("PRISM_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.delenv("PRISM_MASTER_KEY_FILE", raising=False)
    settings = AdminSettings(data_dir=tmp_path / "admin", bootstrap_token=TOKEN, port=0)
    with AdminServer(settings) as server:
        yield server


def test_bind_show_and_rotate(ctl: Ctl, protos: Path, admin: AdminServer, tmp_path: Path) -> None:
    ok(ctl("login", "--admin-url", admin.url, "--token", TOKEN))
    spec_file = tmp_path / "users.yaml"
    spec_file.write_text(
        ok(ctl("schema", "spec", str(protos / "acme/users.proto"), "-I", str(protos))).stdout
    )
    # The printed spec applies as is (postgres swapped for sqlite: no server here).
    spec = yaml.safe_load(spec_file.read_text())
    spec_file.write_text(yaml.safe_dump({**spec, "backend": "sqlite"}))
    ok(ctl("namespace", "apply", "-f", str(spec_file), "--wait", "0"))

    users = str(protos / "acme/users.proto")
    bound = ok(ctl("schema", "bind", "users", users, "-I", str(protos)))
    assert "acme.users.v1.UserProfile bound" in bound.stdout
    assert "PII fields: email, home.street" in bound.stdout
    assert "data key versions: 1 (active 1)" in bound.stdout

    shown = as_json(ctl("-o", "json", "schema", "show", "users"))
    assert shown["key_versions"] == [1]
    assert shown["pii_fields"] == ["email", "home.street"]
    assert "wrapped" not in str(shown)
    table = ok(ctl("schema", "show", "users")).stdout
    assert "acme.users.v1.UserProfile" in table and "home.street" in table

    rotated = as_json(ctl("-o", "json", "schema", "rotate-key", "users"))
    assert rotated["key_versions"] == [1, 2] and rotated["active_key_version"] == 2

    missing = ctl("schema", "show", "nobody")
    assert missing.exit_code == 1 and "not found (HTTP 404)" in missing.stderr
