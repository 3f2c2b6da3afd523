"""prismctl tests: each test gets its own config dir ($PRISM_CONFIG_DIR); `ctl(...)` runs
prismctl in-process with typer's CliRunner, keeping stdout and stderr apart."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for ctlrun

from ctlrun import Ctl, run  # noqa: E402


@pytest.fixture(autouse=True)
def ctl_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ~/.prism for every test, so no test reads the user's real profiles."""
    path = tmp_path / "prismctl-home"
    monkeypatch.setenv("PRISM_CONFIG_DIR", str(path))
    monkeypatch.delenv("PRISMCTL_PROFILE", raising=False)
    return path


@pytest.fixture
def ctl() -> Ctl:
    return run
