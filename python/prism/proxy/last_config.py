"""The last config version a proxy applied, kept on disk so that a proxy started while
the admin is down still serves the namespaces it served before (RFC-001, live config)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FILE_NAME = "last-config.json"


def path_in(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def save(data_dir: Path, snapshot: dict[str, Any]) -> None:
    """Write `{version, namespaces}` atomically: a crash mid-write leaves the old file."""
    target = path_in(data_dir)
    tmp = target.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(snapshot, sort_keys=True), encoding="utf-8")
        os.replace(tmp, target)
    except OSError as err:
        # Serving matters more than the cache: log and go on.
        log.warning("cannot save the last config to %s: %s", target, err.strerror or err)


def load(data_dir: Path) -> dict[str, Any] | None:
    """The saved snapshot, or None when there is none or it is unreadable."""
    target = path_in(data_dir)
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        log.warning("ignoring unreadable %s: %s", target, err)
        return None
    if not isinstance(data, dict) or not isinstance(data.get("namespaces"), list):
        log.warning("ignoring %s: not a {version, namespaces} snapshot", target)
        return None
    return data
