"""PluginHost.add_plugins / remove_plugins (live config) on a real bridge and real
SQLite plugins: started on the running host, failures name the namespace and leave
nothing half added, removed plugins are closed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prism import _core
from prism.errors import PrismError
from prism.plugins import PluginHost
from prism_sqlite import SqlitePlugin


class Tracked(SqlitePlugin):
    """A real SqlitePlugin that records whether it was closed."""

    closed = False

    async def close(self) -> None:
        self.closed = True
        await super().close()


@pytest.fixture
def host() -> Iterator[PluginHost]:
    running = PluginHost(_core.Bridge(), {})
    running.start()
    try:
        yield running
    finally:
        running.stop()


def test_added_plugins_serve_and_removed_ones_close(host: PluginHost, tmp_path: Path) -> None:
    first = Tracked("a", {"path": str(tmp_path / "a.db")})
    host.add_plugins({"a": first})
    assert host.health() == {"a": True}

    replacement = Tracked("a", {"path": str(tmp_path / "a2.db")})
    host.add_plugins({"a": replacement})
    assert first.closed, "the replaced plugin was not closed"
    assert not replacement.closed
    assert host.health() == {"a": True}

    host.remove_plugins(["a", "never-added"])
    assert replacement.closed
    assert host.health() == {}


def test_a_failing_start_names_the_namespace_and_adds_nothing(
    host: PluginHost, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    good = Tracked("good", {"path": str(tmp_path / "good.db")})
    bad = Tracked("bad", {"path": str(blocker / "bad.db")})  # parent is a file
    with pytest.raises(PrismError, match="namespace 'bad'"):
        host.add_plugins({"good": good, "bad": bad})
    assert good.closed, "the plugin that did start was not closed again"
    assert host.health() == {}


def test_add_before_start_is_refused(tmp_path: Path) -> None:
    idle = PluginHost(_core.Bridge(), {})
    with pytest.raises(RuntimeError, match="not running"):
        idle.add_plugins({"a": SqlitePlugin("a", {"path": str(tmp_path / "a.db")})})
