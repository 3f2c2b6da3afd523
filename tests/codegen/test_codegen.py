"""The prism codegen (tooling/codegen): it reads the options, and check-codegen catches drift.

Everything runs on copies in tmp_path; the real tree is only read.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).parent / "fixtures" / "sample.proto"
ROUTES_RS = "proxy/engine/src/routes_generated.rs"
GENERATED_DIR = "python/prism/plugins/generated"


@pytest.fixture(scope="module")
def run() -> ModuleType:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    return importlib.import_module("tooling.codegen.run")


Generate = Callable[[str], tuple[ModuleType, str]]


@pytest.fixture
def generate_sample(run: ModuleType, tmp_path: Path) -> Generate:
    """Run protoc-gen-prism on a version of the fixture proto; returns the generated Python
    module (imported) and the generated Rust route table."""
    counter = iter(range(1000))

    def generate(proto_text: str) -> tuple[ModuleType, str]:
        n = next(counter)
        protos, out = tmp_path / f"protos{n}", tmp_path / f"out{n}"
        (protos / "prism/sample/v1").mkdir(parents=True)
        out.mkdir()
        (protos / "prism/sample/v1/sample.proto").write_text(proto_text)
        run.run_prism_plugin(out, ["prism/sample/v1/sample.proto"], [protos, run.PROTO_DIR])
        path = out / GENERATED_DIR / "sample.py"
        spec = importlib.util.spec_from_file_location(f"_sample_generated_{n}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module, (out / ROUTES_RS).read_text()

    return generate


def rust_route(routes_rs: str, path: str) -> dict[str, str]:
    """The fields of one `Route { ... }` entry of the generated Rust table."""
    match = re.search(rf'"{re.escape(path)}",\s*Route \{{(.*?)\}}', routes_rs, re.S)
    assert match, f"{path} not in the generated routes"
    return dict(re.findall(r"(\w+): ([^,\s]+)", match.group(1)))


def test_generator_reads_the_options(generate_sample: Generate) -> None:
    sample, routes_rs = generate_sample(FIXTURE.read_text())

    read = sample.METHODS["Read"]
    assert (read.permission, read.idempotent, read.cacheable) == ("read", True, True)
    assert read.capability == "scan" and read.op == "sample.read"
    write = sample.METHODS["Write"]
    assert (write.permission, write.idempotent, write.cacheable) == ("write", False, False)
    # Method capabilities in declaration order, then the service-level ones.
    assert [c.value for c in sample.SampleCapability] == ["scan", "core", "ttl"]
    assert sample.OP_METHODS == {"sample.read": "read_many", "sample.write": "write_many"}

    assert rust_route(routes_rs, "/prism.sample.v1.Sample/Read") == {
        "permission": "Permission::Read",
        "idempotent": "true",
        "cacheable": "true",
        "capability": '"scan"',
    }
    assert rust_route(routes_rs, "/prism.sample.v1.Sample/Write")["idempotent"] == "false"


def test_flipping_an_option_changes_the_output(generate_sample: Generate) -> None:
    original = FIXTURE.read_text()
    read_block = original[original.index("rpc Read(") : original.index("rpc Write(")]
    flipped_block = (
        read_block.replace("PERMISSION_READ", "PERMISSION_WRITE")
        .replace("(prism.idempotent) = true", "(prism.idempotent) = false")
        .replace("(prism.cacheable) = true", "(prism.cacheable) = false")
        .replace('(prism.capability) = "scan"', '(prism.capability) = "batch"')
        .replace('method: "read_many"', 'method: "fetch_many"')
    )
    assert flipped_block != read_block
    sample, routes_rs = generate_sample(original.replace(read_block, flipped_block))

    read = sample.METHODS["Read"]
    assert (read.permission, read.idempotent, read.cacheable) == ("write", False, False)
    assert read.capability == "batch"
    assert "SCAN" not in sample.SampleCapability.__members__
    assert sample.SampleCapability.BATCH == "batch"
    assert sample.OP_METHODS["sample.read"] == "fetch_many"
    assert rust_route(routes_rs, "/prism.sample.v1.Sample/Read") == {
        "permission": "Permission::Write",
        "idempotent": "false",
        "cacheable": "false",
        "capability": '"batch"',
    }


def test_an_rpc_without_a_permission_is_refused(
    generate_sample: Generate, capfd: pytest.CaptureFixture[str]
) -> None:
    unguarded = FIXTURE.read_text().replace("option (prism.permission) = PERMISSION_WRITE;", "")
    with pytest.raises(SystemExit):
        generate_sample(unguarded)
    assert "/prism.sample.v1.Sample/Write: (prism.permission) is missing" in capfd.readouterr().err


def test_output_is_deterministic(generate_sample: Generate) -> None:
    _, first = generate_sample(FIXTURE.read_text())
    _, second = generate_sample(FIXTURE.read_text())
    assert first == second
    assert first.startswith("// Generated by tooling/codegen/protoc_gen_prism.py. DO NOT EDIT")


# -- check-codegen -------------------------------------------------------------------------


@pytest.fixture
def tree_copy(run: ModuleType, tmp_path: Path) -> Path:
    """The committed generated files of the repo, copied into a tree of their own."""
    fresh, tree = tmp_path / "fresh", tmp_path / "tree"
    run.generate_all(fresh)
    for rel in run.listing(fresh):
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        if (REPO_ROOT / rel).exists():
            shutil.copyfile(REPO_ROOT / rel, tree / rel)
    return tree


def test_check_passes_on_the_repo(run: ModuleType) -> None:
    assert run.check() == 0


def test_check_fails_on_an_edited_generated_file(
    run: ModuleType, tree_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run.check(tree_copy) == 0
    routes = tree_copy / ROUTES_RS
    routes.write_text(routes.read_text().replace("idempotent: false", "idempotent: true", 1))
    assert run.check(tree_copy) == 1
    assert f"changed: {ROUTES_RS}" in capsys.readouterr().out
    assert run.write(tree_copy) == 0  # `make codegen` repairs it
    assert run.check(tree_copy) == 0


def test_check_fails_on_missing_and_left_over_files(
    run: ModuleType, tree_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tree_copy / GENERATED_DIR / "keyvalue.py").unlink()
    (tree_copy / GENERATED_DIR / "retired.py").write_text("# a pattern that is gone\n")
    assert run.check(tree_copy) == 1
    out = capsys.readouterr().out
    assert f"missing: {GENERATED_DIR}/keyvalue.py" in out
    assert f"no longer generated: {GENERATED_DIR}/retired.py" in out
    run.write(tree_copy)
    assert not (tree_copy / GENERATED_DIR / "retired.py").exists()
    assert run.check(tree_copy) == 0


# -- the generated tables as the rest of Prism uses them -------------------------------------


def test_plugin_api_dispatch_table_comes_from_the_protos() -> None:
    from prism.plugins import api, generated

    assert api.OP_METHODS is generated.OP_METHODS
    assert dict(api.OP_METHODS) == {
        "kv.get": "get_many",
        "kv.put": "put_many",
        "kv.delete": "delete_many",
        "kv.scan": "scan",
        "ts.append": "append_many",
        "ts.query": "query",
        "ts.aggregate": "aggregate",
    }
    assert generated.METHODS["/prism.keyvalue.v1.KeyValue/Put"].idempotent is False
    assert generated.OPS["ts.query"].rpcs == ("Query", "Tail")


def test_claims_file_lists_the_capabilities_the_protos_declare() -> None:
    from prism.plugins.api import CAPABILITIES, KeyValueCapability, TimeSeriesCapability

    claims = yaml.safe_load((REPO_ROOT / "tests/conformance/claims.yaml").read_text())
    assert {p: tuple(c) for p, c in claims["capabilities"].items()} == dict(CAPABILITIES)
    assert tuple(KeyValueCapability) == CAPABILITIES["keyvalue"]
    assert tuple(TimeSeriesCapability) == CAPABILITIES["timeseries"]


def test_generated_rust_is_already_rustfmt_clean() -> None:
    """`cargo fmt` must leave the route table as generated, or check-codegen would fail."""
    rustfmt = shutil.which("rustfmt")
    if rustfmt is None:
        pytest.skip("rustfmt is not installed")
    # rustfmt finds the repo's rustfmt.toml from the file's directory.
    result = subprocess.run(
        [rustfmt, "--edition", "2021", "--check", str(REPO_ROOT / ROUTES_RS)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
