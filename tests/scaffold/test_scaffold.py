"""`python -m tooling.scaffold`: a new plugin package with the standard file shape that
passes lint and is refused with UNIMPLEMENTED by a real gateway until it is filled in."""

from __future__ import annotations

import asyncio
import importlib
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from helpers.rpc import Stubs, kvpb, rpc_error, timestamp, tspb
from helpers.server import ServerProcess
from prism.errors import ConfigError, Unimplemented
from prism.plugins import api, generated

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tooling.scaffold import MAX_NAME, ScaffoldError, scaffold  # noqa: E402

BIN = Path(sys.executable).parent
NAME = "demo_db"
PATTERNS = ("keyvalue", "timeseries")
UNIMPLEMENTED = grpc.StatusCode.UNIMPLEMENTED


def standard_shape(package: str) -> set[str]:
    """The file shape of patterns/sqlite, minus its SQLite-only group-commit module."""
    sqlite = REPO_ROOT / "patterns" / "sqlite"
    files = {
        str(p.relative_to(sqlite)).replace("prism_sqlite", package)
        for p in sqlite.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    return files - {f"{package}/txn.py"}


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scaffold(NAME, PATTERNS, tmp_path_factory.mktemp("scaffold"))


@pytest.fixture
def imported(package: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The scaffolded package importable in this process, for this test only."""
    monkeypatch.syspath_prepend(str(package))
    yield f"prism_{NAME}"
    for mod in [m for m in sys.modules if m == f"prism_{NAME}" or m.startswith(f"prism_{NAME}.")]:
        del sys.modules[mod]


def test_it_has_the_standard_file_shape(package: Path) -> None:
    files = {
        str(p.relative_to(package))
        for p in package.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert files == standard_shape(f"prism_{NAME}")
    project = tomllib.loads((package / "pyproject.toml").read_text())
    assert project["project"]["name"] == f"prism-backend-{NAME}"
    assert project["project"]["entry-points"]["prism.backends"] == {
        NAME: f"prism_{NAME}.plugin:DemoDbPlugin"
    }


@pytest.mark.parametrize(
    ("name", "patterns"),
    [(NAME, PATTERNS), ("k" * MAX_NAME, PATTERNS), ("x", ("keyvalue",)), ("y", ("timeseries",))],
)
def test_it_passes_lint(name: str, patterns: tuple[str, ...], tmp_path: Path) -> None:
    """ruff and mypy with the repo's settings, for every pattern choice and name length."""
    root = scaffold(name, patterns, tmp_path)
    config = str(REPO_ROOT / "pyproject.toml")
    commands = [
        [str(BIN / "ruff"), "check", "--no-cache", "--config", config, str(root)],
        [str(BIN / "ruff"), "format", "--no-cache", "--check", "--config", config, str(root)],
        [str(BIN / "mypy"), "--config-file", config, "--cache-dir", str(tmp_path / ".mypy")]
        + [str(root / f"prism_{name}")],
    ]
    for cmd in commands:
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=120)
        assert done.returncode == 0, f"{Path(cmd[0]).name} failed:\n{done.stdout}\n{done.stderr}"


def test_every_generated_op_raises_unimplemented(imported: str) -> None:
    plugin_mod = importlib.import_module(f"{imported}.plugin")
    metadata = importlib.import_module(f"{imported}.metadata")
    cls = plugin_mod.DemoDbPlugin
    assert issubclass(cls, api.KeyValueBackend) and issubclass(cls, api.TimeSeriesBackend)
    assert cls.name == NAME and cls.patterns == PATTERNS
    assert metadata.CAPABILITIES == {"keyvalue": frozenset(), "timeseries": frozenset()}
    with pytest.raises(ConfigError, match="unknown field 'nope'"):
        cls("ns", {"nope": 1})

    plugin = cls("ns", {})  # not abstract: every interface method exists

    async def exercise() -> None:
        assert not await plugin.health()
        await plugin.start()
        await plugin.start()  # idempotent
        assert await plugin.health()
        # The ops come from the protos via the generated dispatch table.
        for op, method in generated.OP_METHODS.items():
            with pytest.raises(Unimplemented) as info:
                await getattr(plugin, method)(*ARGS[method])
            assert info.value.message == f"backend '{NAME}' does not implement {op} yet"
        await plugin.close()
        assert not await plugin.health()

    asyncio.run(exercise())


ARGS: dict[str, tuple[object, ...]] = {
    "get_many": ([b"k"],),
    "put_many": ([[(b"k", b"v", None, False, 0)]],),
    "delete_many": ([[(b"k", 0)]],),
    "scan": (b"", None, None, 10),
    "append_many": ([[("s", 1, "e", {}, None, b"")]],),
    "query": ("s", 0, 10, {}, False, None, 10),
    "aggregate": ("s", 0, 10, 5, {}),
}


def test_args_cover_every_op() -> None:
    assert set(ARGS) == set(generated.OP_METHODS.values())


@pytest.mark.parametrize(
    ("name", "patterns", "message"),
    [
        ("Bad", PATTERNS, "invalid backend name"),
        ("1st", PATTERNS, "invalid backend name"),
        ("has-dash", PATTERNS, "invalid backend name"),
        ("k" * (MAX_NAME + 1), PATTERNS, "invalid backend name"),
        ("memory", PATTERNS, "reserved"),
        ("ok", ("kv",), "unknown pattern 'kv'"),
        ("ok", (), "at least one pattern"),
    ],
)
def test_bad_input_is_refused(
    name: str, patterns: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    with pytest.raises(ScaffoldError, match=message):
        scaffold(name, patterns, tmp_path)
    assert not any(tmp_path.iterdir()), "nothing is written for bad input"


def test_command_refuses_to_overwrite(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "tooling.scaffold", "mine", "--patterns", "keyvalue"]
    cmd += ["--dest", str(tmp_path)]
    first = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert first.returncode == 0, first.stderr
    marker = tmp_path / "mine" / "prism_mine" / "keyvalue.py"
    marker.write_text("# filled in by hand\n")
    second = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert second.returncode == 2
    assert "already exists" in second.stderr
    assert marker.read_text() == "# filled in by hand\n", "hand-written code was overwritten"


# -- end to end: pip-installed, served by a real gateway, refused ------------------------


def pip_install(package: Path, target: Path) -> None:
    """Build and install the package the way a user would (offline, no dependencies)."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
        + ["--no-build-isolation", "--target", str(target), str(package)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"pip install {package} failed:\n{done.stdout}\n{done.stderr}"


def test_a_real_gateway_refuses_it_with_unimplemented(
    package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    pip_install(package, site)
    # A second copy that claims the core capabilities without implementing them: the
    # gateway lets its calls through to the plugin, which refuses them itself.
    claiming = scaffold("claims_core", PATTERNS, tmp_path / "src")
    metadata = claiming / "prism_claims_core" / "metadata.py"
    metadata.write_text(
        metadata.read_text().replace(
            '": frozenset(),  # e.g. frozenset({"core"})', '": frozenset({"core"}),'
        )
    )
    pip_install(claiming, site)
    monkeypatch.setenv("PYTHONPATH", str(site))  # found through its entry point

    namespaces = [
        {"name": "fresh", "patterns": list(PATTERNS), "backend": NAME},
        {"name": "claimed", "patterns": list(PATTERNS), "backend": "claims_core"},
    ]
    server = ServerProcess(tmp_path / "server", namespaces)
    try:
        server.start()
        stubs = Stubs.connect(server.address)
        try:
            now = timestamp(datetime.now(UTC))
            event = tspb.Event(series_id="s", event_time=now, event_id="e1", value=1.0)
            calls = [
                (stubs.kv.Get, kvpb.GetRequest(key=b"k"), "kv.get"),
                (stubs.kv.Put, kvpb.PutRequest(key=b"k", value=b"v"), "kv.put"),
                (stubs.ts.Append, tspb.AppendRequest(events=[event]), "ts.append"),
                (stubs.ts.Query, tspb.QueryRequest(series_id="s"), "ts.query"),
            ]
            for call, request, op in calls:
                # Claims nothing: the core refuses before the call reaches the plugin.
                request.namespace = "fresh"
                msg = rpc_error(call, request, UNIMPLEMENTED)
                assert "capability 'core'" in msg, msg
                # Claims core: the call reaches the plugin, whose stub refuses it.
                request.namespace = "claimed"
                msg = rpc_error(call, request, UNIMPLEMENTED)
                assert f"backend 'claims_core' does not implement {op} yet" in msg, msg
            for ns in ("fresh", "claimed"):  # optional capabilities stay unclaimed
                scan = kvpb.ScanRequest(namespace=ns, prefix=b"k", limit=10)
                assert "capability 'scan'" in rpc_error(stubs.kv.Scan, scan, UNIMPLEMENTED)
        finally:
            stubs.close()
        server.stop()
    finally:
        server.kill()
