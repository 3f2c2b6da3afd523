"""`prismctl plugin new` (wrapping tooling/scaffold) and shell completion."""

from __future__ import annotations

from pathlib import Path

from ctlrun import Ctl, ok


def test_plugin_new_scaffolds_a_package(ctl: Ctl, tmp_path: Path) -> None:
    result = ok(ctl("plugin", "new", "ctldemo", "--patterns", "keyvalue,timeseries",
                    "--dest", str(tmp_path)))  # fmt: skip
    root = tmp_path / "ctldemo"
    assert f"created {root}" in result.stdout
    assert (root / "pyproject.toml").is_file()
    assert (root / "prism_ctldemo" / "plugin.py").is_file()
    # An existing directory is never overwritten; a bad name is a usage error.
    again = ctl("plugin", "new", "ctldemo", "--patterns", "keyvalue", "--dest", str(tmp_path))
    assert again.exit_code == 2 and "ctldemo" in again.stderr
    bad = ctl("plugin", "new", "Bad-Name", "--patterns", "keyvalue", "--dest", str(tmp_path))
    assert bad.exit_code == 2 and "prismctl: plugin new:" in bad.stderr


def test_shell_completion_script_is_offered(ctl: Ctl) -> None:
    script = ok(ctl("--show-completion", "bash")).stdout
    assert "_prismctl_completion" in script or "prismctl" in script
