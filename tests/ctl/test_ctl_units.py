"""Pure logic of prismctl: profiles file, spec file errors, diff lines, value and time
parsing, problem-details parsing. No server involved."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prism.ctl import config
from prism.ctl.diff import render_diff
from prism.ctl.errors import USAGE_ERROR, CtlError
from prism.ctl.http import problem_error
from prism.ctl.specfile import load_specs
from prism.ctl.ts import parse_tags, parse_time
from prism.ctl.values import read_value, show_value


def test_profiles_round_trip_with_mode_0600(ctl_config_dir: Path) -> None:
    cfg = config.CtlConfig(current="prod")
    cfg.profiles["prod"] = config.Profile("prod", "http://a:8981", "tok-1", "a:8980")
    cfg.profiles["dev"] = config.Profile("dev", "http://b:8981", "tok-2")
    path = config.save(cfg)
    assert path == ctl_config_dir / "config.yaml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = config.load()
    assert loaded.current == "prod"
    assert loaded.profiles["prod"].token == "tok-1"
    assert loaded.profiles["dev"].grpc == config.DEFAULT_GRPC
    assert config.resolve_profile(loaded, None).admin_url == "http://a:8981"
    assert config.resolve_profile(loaded, "dev").token == "tok-2"


def test_missing_profile_is_a_usage_error_pointing_at_login() -> None:
    with pytest.raises(CtlError) as info:
        config.resolve_profile(config.load(), "staging")
    assert info.value.exit_code == USAGE_ERROR
    assert "prismctl login" in info.value.message and "--profile staging" in info.value.message


def test_malformed_yaml_names_file_line_and_column(tmp_path: Path) -> None:
    spec = tmp_path / "x.yaml"
    spec.write_text("name: x\nbackend: sqlite\nconfig:\n  path: a\n  bad: b: c\n")
    with pytest.raises(CtlError) as info:
        load_specs(spec)
    assert info.value.exit_code == USAGE_ERROR
    assert info.value.message == f"{spec}:5:9: mapping values are not allowed here"


def test_spec_file_shapes(tmp_path: Path) -> None:
    multi = tmp_path / "two.yaml"
    multi.write_text("name: a\n---\nname: b\n")
    assert [s["name"] for s in load_specs(multi)] == ["a", "b"]
    listing = tmp_path / "list.yaml"
    listing.write_text("- name: a\n")
    with pytest.raises(CtlError, match="must be a mapping"):
        load_specs(listing)
    with pytest.raises(CtlError, match="cannot read"):
        load_specs(tmp_path / "absent.yaml")


def test_diff_lines_from_the_admins_field_changes() -> None:
    lines = render_diff(
        [
            {"field": "backend", "before": None, "after": "postgres"},
            {"field": "limits.max_key_bytes", "before": 1024, "after": 64},
            {"field": "features", "before": ["ttl"], "after": None},
        ]
    )
    assert lines == [
        "+ backend: postgres",
        "~ limits.max_key_bytes: 1024 -> 64",
        '- features: ["ttl"]',
    ]
    assert render_diff([]) == ["  (no changes)"]


def test_values_text_base64_and_binary_fallback(tmp_path: Path) -> None:
    assert read_value("héllo", b64=False, file=None) == "héllo".encode()
    assert read_value("AAEC", b64=True, file=None) == b"\x00\x01\x02"
    blob = tmp_path / "blob"
    blob.write_bytes(b"\xff\x00")
    assert read_value(None, b64=False, file=blob) == b"\xff\x00"
    with pytest.raises(CtlError, match="not valid base64"):
        read_value("***", b64=True, file=None)
    assert show_value(b"\xff\x00", b64=False) == ("/wA=", "base64")
    assert show_value(b"ok", b64=False) == ("ok", "utf-8")


def test_tags_and_times() -> None:
    assert parse_tags(["host=a", "dc=x=y"]) == {"host": "a", "dc": "x=y"}
    with pytest.raises(CtlError, match="KEY=VALUE"):
        parse_tags(["novalue"])
    assert parse_time("2026-01-02T03:04:05Z", "--time") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    ago = datetime.now(UTC) - parse_time("-5m", "--start")
    assert timedelta(minutes=4, seconds=59) < ago < timedelta(minutes=5, seconds=5)
    with pytest.raises(CtlError, match="ISO 8601"):
        parse_time("yesterday", "--start")


def test_problem_details_become_the_error_message() -> None:
    body = {
        "type": "about:blank",
        "title": "Unprocessable Entity",
        "status": 422,
        "detail": "backend: unknown backend 'nosuch'",
        "errors": [{"field": "backend", "message": "unknown backend 'nosuch'"}],
    }
    err = problem_error("POST", "/v1/namespaces", httpx.Response(422, json=body))
    assert err.status == 422 and err.exit_code == 1
    assert err.message == "backend: unknown backend 'nosuch' (HTTP 422)"
    assert err.errors == [{"field": "backend", "message": "unknown backend 'nosuch'"}]
    plain = problem_error("GET", "/x", httpx.Response(502, text="bad gateway"))
    assert plain.message == "bad gateway (HTTP 502)"
