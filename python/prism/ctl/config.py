"""~/.prism/config.yaml: login profiles (admin URL, token, gRPC address).

    current: default
    profiles:
      default: {admin_url: "http://127.0.0.1:8981", token: "...", grpc: "127.0.0.1:8980"}

$PRISM_CONFIG_DIR replaces ~/.prism (tests point it at a temporary directory). The file
holds tokens, so it is written with mode 0600 and its directory with 0700.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from prism.ctl.errors import USAGE_ERROR, CtlError

DEFAULT_PROFILE = "default"
DEFAULT_ADMIN_URL = "http://127.0.0.1:8981"
DEFAULT_GRPC = "127.0.0.1:8980"


@dataclass
class Profile:
    name: str
    admin_url: str
    token: str
    grpc: str = DEFAULT_GRPC


@dataclass
class CtlConfig:
    current: str | None = None
    profiles: dict[str, Profile] = field(default_factory=dict)


def config_dir() -> Path:
    override = os.environ.get("PRISM_CONFIG_DIR")
    return Path(override).expanduser() if override else Path.home() / ".prism"


def config_path() -> Path:
    return config_dir() / "config.yaml"


def load() -> CtlConfig:
    """The config file, or an empty config when there is none yet."""
    path = config_path()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        return CtlConfig()
    except (OSError, yaml.YAMLError) as err:
        raise CtlError(f"{path}: cannot read: {err}", exit_code=USAGE_ERROR) from err
    if not isinstance(raw, dict) or not isinstance(raw.get("profiles", {}), dict):
        raise CtlError(
            f"{path}: expected a mapping with `current` and `profiles`", exit_code=USAGE_ERROR
        )
    profiles: dict[str, Profile] = {}
    for name, entry in (raw.get("profiles") or {}).items():
        if not isinstance(entry, dict) or not entry.get("admin_url") or "token" not in entry:
            raise CtlError(
                f"{path}: profiles.{name}: needs admin_url and token", exit_code=USAGE_ERROR
            )
        profiles[str(name)] = Profile(
            name=str(name),
            admin_url=str(entry["admin_url"]),
            token=str(entry["token"]),
            grpc=str(entry.get("grpc") or DEFAULT_GRPC),
        )
    current = raw.get("current")
    return CtlConfig(current=str(current) if current else None, profiles=profiles)


def save(cfg: CtlConfig) -> Path:
    """Write the file atomically with mode 0600 (it holds tokens)."""
    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "current": cfg.current,
        "profiles": {
            name: {k: v for k, v in asdict(p).items() if k != "name"}
            for name, p in sorted(cfg.profiles.items())
        },
    }
    tmp = path.with_name(path.name + ".tmp")
    # O_CREAT with 0600: the token is never readable by others, not even for a moment.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        yaml.safe_dump(data, out, sort_keys=False)
    os.chmod(tmp, 0o600)  # a pre-existing tmp file keeps its old mode under O_CREAT
    os.replace(tmp, path)
    return path


def resolve_profile(cfg: CtlConfig, name: str | None) -> Profile:
    """The profile named by --profile, else the current one."""
    wanted = name or cfg.current or DEFAULT_PROFILE
    profile = cfg.profiles.get(wanted)
    if profile is None:
        known = f" (known: {', '.join(sorted(cfg.profiles))})" if cfg.profiles else ""
        raise CtlError(
            f"no profile {wanted!r} in {config_path()}{known}; run "
            f"`prismctl login --admin-url URL --token TOKEN"
            f"{'' if wanted == DEFAULT_PROFILE else f' --profile {wanted}'}` first",
            exit_code=USAGE_ERROR,
        )
    return profile
