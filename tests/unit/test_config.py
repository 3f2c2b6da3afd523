"""prism.config: defaults, validation messages naming their field, and the core JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from prism.config import Limits, default_data_dir, load_config
from prism.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "prism.yaml"


def ns(**fields: Any) -> dict[str, Any]:
    return {"name": "a", "patterns": ["keyvalue"], "backend": "memory", **fields}


def test_no_config_is_the_embedded_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PRISM_DATA_DIR", str(tmp_path))
    cfg = load_config()
    assert cfg.server.listen == "127.0.0.1:8980"
    assert cfg.server.metrics_listen == "127.0.0.1:9464"
    assert cfg.data_dir == tmp_path
    [default] = cfg.namespaces
    assert default.name == "default"
    assert default.patterns == ("keyvalue", "timeseries")
    assert default.backend == "sqlite"
    assert default.config == {"path": str(tmp_path / "default.db")}
    assert default.limits == Limits()


def test_data_dir_defaults_follow_env() -> None:
    assert default_data_dir({"PRISM_DATA_DIR": "/p"}) == Path("/p")
    assert default_data_dir({"XDG_DATA_HOME": "/x"}) == Path("/x/prism")
    assert default_data_dir({}) == Path.home() / ".local/share/prism"


def test_example_file_loads_relative_to_itself() -> None:
    cfg = load_config(EXAMPLE)
    assert cfg.source == EXAMPLE
    assert cfg.data_dir == EXAMPLE.parent / "data"
    by_name = {n.name: n for n in cfg.namespaces}
    assert by_name["scratch"].backend == "memory"
    assert by_name["default"].config["path"] == str(EXAMPLE.parent / "data" / "default.db")
    assert by_name["metrics.events"].patterns == ("timeseries",)
    assert by_name["metrics.events"].config["path"].endswith("data/metrics-events.db")


def test_overrides_beat_the_file(tmp_path: Path) -> None:
    cfg = load_config(EXAMPLE, {"server": {"listen": "127.0.0.1:0"}, "data_dir": str(tmp_path)})
    assert cfg.server.listen == "127.0.0.1:0"
    assert cfg.server.metrics_listen == "127.0.0.1:9464"  # merged, not replaced
    assert cfg.data_dir == tmp_path


def test_to_core_json_fills_limits_and_omits_backend_config(tmp_path: Path) -> None:
    cfg = load_config(
        {
            "data_dir": str(tmp_path),
            "namespaces": [ns(limits={"max_key_bytes": 16}), ns(name="b", backend="sqlite")],
        }
    )
    core = json.loads(cfg.to_core_json())
    assert set(core) == {"server", "namespaces"}
    assert {k: v for k, v in core["server"].items() if k not in ("auth", "audit", "keys")} == {
        "listen": "127.0.0.1:8980",
        "metrics_listen": "127.0.0.1:9464",
        "max_concurrency": 1024,
        "default_deadline_ms": 30000,
        "shutdown_grace_s": 10.0,
    }
    assert core["server"]["auth"]["mode"] == "none"  # the security blocks: see test_security_config
    a, b = core["namespaces"]
    assert a == {
        "name": "a",
        "patterns": ["keyvalue"],
        "backend": "memory",
        "limits": {**vars(Limits()), "max_key_bytes": 16},
        "cache": {"enabled": False, "max_entries": 0, "max_bytes": 0, "ttl_seconds": 0.0},
        "access": {"read": ["*"], "write": ["*"], "admin": [], "pii_read": []},
        "rate_limit": {
            "requests_per_second": 0.0,
            "burst": 0,
            "per_principal_requests_per_second": 0.0,
            "per_principal_burst": 0,
        },
        "audit_required": False,
    }
    assert "config" not in b and b["backend"] == "sqlite"


def test_cache_block_is_parsed_and_sent_to_the_core(tmp_path: Path) -> None:
    cfg = load_config(
        {
            "data_dir": str(tmp_path),
            "namespaces": [ns(cache={"enabled": True, "max_entries": 50, "ttl_seconds": 2})],
        }
    )
    (entry,) = json.loads(cfg.to_core_json())["namespaces"]
    assert entry["cache"] == {
        "enabled": True,
        "max_entries": 50,
        "max_bytes": 0,
        "ttl_seconds": 2.0,
    }
    with pytest.raises(ConfigError, match=r"namespaces\[0\]\.cache\.ttl_seconds"):
        load_config({"data_dir": str(tmp_path), "namespaces": [ns(cache={"ttl_seconds": -1})]})
    with pytest.raises(ConfigError, match=r"namespaces\[0\]\.cache\.size: unknown key"):
        load_config({"data_dir": str(tmp_path), "namespaces": [ns(cache={"size": 1})]})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"bogus": 1}, "bogus: unknown key"),
        ({"server": {"port": 1}}, "server.port: unknown key"),
        ({"server": []}, "server: must be a mapping"),
        ({"server": {"listen": "localhost"}}, "server.listen: must be HOST:PORT"),
        ({"server": {"listen": "h:99999"}}, "server.listen: must be HOST:PORT"),
        ({"server": {"metrics_listen": 9464}}, "server.metrics_listen: must be HOST:PORT"),
        ({"server": {"max_concurrency": 0}}, "server.max_concurrency: must be a positive integer"),
        ({"server": {"max_concurrency": True}}, "server.max_concurrency: must be a positive"),
        ({"server": {"default_deadline_ms": "5s"}}, "server.default_deadline_ms: must be a"),
        ({"server": {"shutdown_grace_s": -1}}, "server.shutdown_grace_s: must be a non-negative"),
        ({"data_dir": 3}, "data_dir: must be a directory path"),
        ({"namespaces": []}, "namespaces: must be a non-empty list"),
        ({"namespaces": {"name": "a"}}, "namespaces: must be a non-empty list"),
        ({"namespaces": ["a"]}, "namespaces[0]: must be a mapping"),
        ({"namespaces": [{"patterns": ["keyvalue"]}]}, "namespaces[0].name: is required"),
        ({"namespaces": [ns(name="has space")]}, "namespaces[0].name: must be 1-128 characters"),
        ({"namespaces": [ns(name="x" * 129)]}, "namespaces[0].name: must be 1-128 characters"),
        ({"namespaces": [ns(name="")]}, "namespaces[0].name: must be 1-128"),
        ({"namespaces": [ns(), ns()]}, "namespaces[1].name: duplicate namespace name 'a'"),
        ({"namespaces": [ns(pattern="kv")]}, "namespaces[0].pattern: unknown key"),
        ({"namespaces": [ns(patterns="keyvalue")]}, "namespaces[0].patterns: must be a non-empty"),
        ({"namespaces": [ns(patterns=[])]}, "namespaces[0].patterns: must be a non-empty"),
        (
            {"namespaces": [ns(patterns=["keyvalue", "pubsub"])]},
            "namespaces[0].patterns[1]: unknown pattern 'pubsub'",
        ),
        ({"namespaces": [ns(patterns=["keyvalue"] * 2)]}, "namespaces[0].patterns: lists a"),
        ({"namespaces": [ns(backend="no/slash")]}, "namespaces[0].backend: must be 1-128"),
        ({"namespaces": [ns(config=[1])]}, "namespaces[0].config: must be a mapping"),
        ({"namespaces": [ns(config={"x": 1})]}, "namespaces[0].config: the memory backend"),
        (
            {"namespaces": [ns(backend="sqlite", config={"path": 5})]},
            "namespaces[0].config.path: must be a file path",
        ),
        ({"namespaces": [ns(limits=5)]}, "namespaces[0].limits: must be a mapping"),
        ({"namespaces": [ns(limits={"max_keys": 1})]}, "namespaces[0].limits.max_keys: unknown"),
        (
            {"namespaces": [ns(), ns(name="b", limits={"max_key_bytes": -1})]},
            "namespaces[1].limits.max_key_bytes: must be a positive integer",
        ),
        (
            {"namespaces": [ns(limits={"max_value_bytes": 1.5})]},
            "namespaces[0].limits.max_value_bytes: must be a positive integer",
        ),
        (
            {"namespaces": [ns(limits={"max_page_items": 10})]},
            "namespaces[0].limits.default_page_items: must not exceed max_page_items (10)",
        ),
        (
            {"namespaces": [ns(limits={"default_page_bytes": 5_000_000})]},
            "namespaces[0].limits.default_page_bytes: must not exceed max_page_bytes",
        ),
    ],
)
def test_invalid_config_names_the_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(data)
    assert str(info.value).startswith(message), str(info.value)


def test_yaml_file_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError, match="missing.yaml: cannot read"):
        load_config(missing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("server: [unclosed\n")
    with pytest.raises(ConfigError, match="broken.yaml: invalid YAML"):
        load_config(broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(ConfigError, match="the top level must be a mapping"):
        load_config(scalar)


def test_empty_file_is_the_default(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    cfg = load_config(empty, {"data_dir": str(tmp_path)})
    assert [n.name for n in cfg.namespaces] == ["default"]


def test_ipv6_and_ephemeral_ports_are_valid() -> None:
    cfg = load_config({"server": {"listen": "[::1]:0"}, "namespaces": [ns()]})
    assert cfg.server.listen == "[::1]:0"
