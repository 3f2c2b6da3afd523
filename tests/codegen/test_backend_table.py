"""docs-cms/backends.md: rendered from claims.yaml, and stale when claims.yaml changes."""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TABLE = "docs-cms/backends.md"


@pytest.fixture(scope="module")
def run() -> ModuleType:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    return importlib.import_module("tooling.codegen.run")


def rows(markdown: str) -> dict[str, list[str]]:
    """Backend -> its cells, from the rendered table."""
    lines = [line for line in markdown.splitlines() if line.startswith("| `")]
    out = {}
    for line in lines:
        cells = [c.strip() for c in line.strip("|").split("|")]
        out[cells[0].split("`")[1]] = cells[1:]
    return out


def test_the_table_follows_the_claims() -> None:
    from tooling.codegen import render_docs

    data = {
        "capabilities": {"keyvalue": ["core", "ttl"], "timeseries": ["core", "tail"]},
        "backends": {
            "memory": {"namespace": "mem", "keyvalue": ["core", "ttl"], "timeseries": ["core"]},
            "kafkaish": {"namespace": "k", "timeseries": ["core", "tail"]},
        },
    }
    text = render_docs.render(data)
    assert text.startswith("---\nid: backends\n")
    header = next(line for line in text.splitlines() if line.startswith("| backend"))
    assert header == (
        "| backend | keyvalue core | keyvalue ttl | timeseries core | timeseries tail |"
    )
    assert rows(text) == {"memory": ["✓", "✓", "✓", "—"], "kafkaish": ["—", "—", "✓", "✓"]}


def test_the_committed_table_matches_claims_yaml() -> None:
    claims = yaml.safe_load((REPO_ROOT / "tests/conformance/claims.yaml").read_text())
    table = rows((REPO_ROOT / TABLE).read_text())
    assert list(table) == list(claims["backends"])
    for backend, cells in table.items():
        expected = [
            "✓" if cap in (claims["backends"][backend].get(pattern) or []) else "—"
            for pattern, caps in claims["capabilities"].items()
            for cap in caps
        ]
        assert cells == expected, backend


def test_check_codegen_fails_when_claims_change_without_regenerating(
    run: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A tree holding the committed table, and a claims file that drops a claim.
    tree = tmp_path / "tree"
    fresh = tmp_path / "fresh"
    run.generate_all(fresh)
    for rel in run.listing(fresh):
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / rel, tree / rel)
    assert run.check(tree) == 0
    data = yaml.safe_load(run.CLAIMS_PATH.read_text())
    data["backends"]["sqlite"]["keyvalue"].remove("ttl")
    changed = tmp_path / "claims.yaml"
    changed.write_text(yaml.safe_dump(data, sort_keys=False))

    assert run.check(tree, claims=changed) == 1
    assert f"changed: {TABLE}" in capsys.readouterr().out
    assert run.write(tree, claims=changed) == 0  # `make codegen` repairs it
    assert run.check(tree, claims=changed) == 0
    assert rows((tree / TABLE).read_text())["sqlite"][3] == "—"
