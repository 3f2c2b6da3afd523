"""tooling/validate_docs.py on small docs trees built in tmp_path."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    return importlib.import_module("tooling.validate_docs")


validate_docs = _load()

ADR_FRONTMATTER = {
    "id": "ADR-001",
    "title": "Do the thing",
    "status": "Accepted",
    "date": "2026-11-21",
    "tags": "[proxy]",
    "deciders": "[prism-core]",
}


def frontmatter(**fields: str | None) -> str:
    merged = {**ADR_FRONTMATTER, **fields}
    lines = [f"{key}: {value}" for key, value in merged.items() if value is not None]
    return "---\n" + "\n".join(lines) + "\n---\n"


ADR_BODY = """
# ADR-001: Do the thing

## Context

See [the other decision](ADR-002-other.md#why-we-chose-b) and [below](#decision).

## Decision

Do it, as [the index](../README.md) says.
"""

OTHER_ADR = frontmatter(id="ADR-002", title="Other") + "\n# Other\n\n## Why we chose `B`?\n"

INDEX = """---
id: docs-index
title: Index
status: Living
date: 2026-11-21
tags: [index]
---

# Docs

- [ADR-001](adr/ADR-001-thing.md)
- [ADR-002](adr/ADR-002-other.md)
- [external](https://example.com/missing) and [mail](mailto:someone@example.com)
"""

ROOT_README = "# Project\n\nRead [the docs](docs-cms/README.md#docs).\n"


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def valid_files() -> dict[str, str]:
    return {
        "docs-cms/README.md": INDEX,
        "docs-cms/adr/ADR-001-thing.md": frontmatter() + ADR_BODY,
        "docs-cms/adr/ADR-002-other.md": OTHER_ADR,
        "README.md": ROOT_README,
    }


def messages(root: Path) -> list[str]:
    _, problems = validate_docs.validate(root)
    return [f"{p.path.name}:{p.line}: {p.message}" for p in problems]


def test_valid_tree_passes(
    tmp_path: Path, valid_files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_tree(tmp_path, valid_files)
    assert messages(root) == []
    assert validate_docs.main(["--root", str(root)]) == 0
    assert capsys.readouterr().out.strip() == "validate_docs: 4 documents OK"


@pytest.mark.parametrize("field", ["id", "title", "status", "date", "tags", "deciders"])
def test_missing_field_fails(tmp_path: Path, valid_files: dict[str, str], field: str) -> None:
    valid_files["docs-cms/adr/ADR-001-thing.md"] = frontmatter(**{field: None}) + ADR_BODY
    found = messages(write_tree(tmp_path, valid_files))
    assert any(f"missing required field '{field}'" in m for m in found), found


def test_deciders_not_required_outside_adrs(tmp_path: Path, valid_files: dict[str, str]) -> None:
    valid_files["docs-cms/rfcs/RFC-001-idea.md"] = (
        frontmatter(id="RFC-001", status="Draft", deciders=None) + "\n# Idea\n"
    )
    assert messages(write_tree(tmp_path, valid_files)) == []


def test_missing_frontmatter_fails(tmp_path: Path, valid_files: dict[str, str]) -> None:
    valid_files["docs-cms/adr/ADR-001-thing.md"] = ADR_BODY.lstrip()
    found = messages(write_tree(tmp_path, valid_files))
    assert "ADR-001-thing.md:1: missing YAML frontmatter (a leading '---' block)" in found


def test_bad_status_fails(tmp_path: Path, valid_files: dict[str, str]) -> None:
    valid_files["docs-cms/adr/ADR-001-thing.md"] = frontmatter(status="Done") + ADR_BODY
    found = messages(write_tree(tmp_path, valid_files))
    assert any(
        m.startswith("ADR-001-thing.md:4: status 'Done' is not one of: Proposed, Accepted")
        for m in found
    ), found


def test_template_status_only_for_adr_000(tmp_path: Path, valid_files: dict[str, str]) -> None:
    valid_files["docs-cms/adr/ADR-000-template.md"] = (
        frontmatter(id="ADR-000", status="Template") + "\n# Template\n"
    )
    assert messages(write_tree(tmp_path, valid_files)) == []
    valid_files["docs-cms/adr/ADR-001-thing.md"] = frontmatter(status="Template") + ADR_BODY
    found = messages(write_tree(tmp_path, valid_files))
    assert any("status 'Template' is not one of" in m for m in found), found


@pytest.mark.parametrize("date", ["2026-13-40", "21/11/2026", "'2026-1-5'"])
def test_bad_date_fails(tmp_path: Path, valid_files: dict[str, str], date: str) -> None:
    valid_files["docs-cms/adr/ADR-001-thing.md"] = frontmatter(date=date) + ADR_BODY
    found = messages(write_tree(tmp_path, valid_files))
    assert any(
        m.startswith("ADR-001-thing.md:5: date ") and "is not a valid YYYY-MM-DD date" in m
        for m in found
    ), found


def test_tags_must_be_a_list(tmp_path: Path, valid_files: dict[str, str]) -> None:
    valid_files["docs-cms/adr/ADR-001-thing.md"] = frontmatter(tags="proxy") + ADR_BODY
    found = messages(write_tree(tmp_path, valid_files))
    assert any("'tags' must be a list of non-empty strings" in m for m in found), found


def test_id_must_match_filename(tmp_path: Path, valid_files: dict[str, str]) -> None:
    valid_files["docs-cms/adr/ADR-001-thing.md"] = frontmatter(id="ADR-007") + ADR_BODY
    found = messages(write_tree(tmp_path, valid_files))
    assert any("id 'ADR-007' does not match the filename 'ADR-001-thing.md'" in m for m in found)


def test_id_must_match_kind(tmp_path: Path, valid_files: dict[str, str]) -> None:
    valid_files["docs-cms/memos/MEMO-001-notes.md"] = (
        frontmatter(id="RFC-001", status="Draft") + "\n# Notes\n"
    )
    found = messages(write_tree(tmp_path, valid_files))
    assert any("id 'RFC-001' must look like MEMO-001" in m for m in found), found


def test_duplicate_id_fails(tmp_path: Path, valid_files: dict[str, str]) -> None:
    valid_files["docs-cms/adr/ADR-001-again.md"] = frontmatter(title="Again") + "\n# Again\n"
    found = messages(write_tree(tmp_path, valid_files))
    assert any("duplicate id 'ADR-001' (also used by " in m and "ADR-001-" in m for m in found), (
        found
    )


def test_broken_link_fails(tmp_path: Path, valid_files: dict[str, str]) -> None:
    valid_files["docs-cms/adr/ADR-001-thing.md"] += "\nSee [gone](ADR-009-gone.md).\n"
    found = messages(write_tree(tmp_path, valid_files))
    assert "ADR-001-thing.md:20: broken link: 'ADR-009-gone.md' not found" in found, found


def test_broken_link_in_root_readme_fails(tmp_path: Path, valid_files: dict[str, str]) -> None:
    valid_files["README.md"] = ROOT_README + "\n[layout](proxy/engine/)\n"
    found = messages(write_tree(tmp_path, valid_files))
    assert "README.md:5: broken link: 'proxy/engine/' not found" in found, found


def test_broken_anchor_fails(tmp_path: Path, valid_files: dict[str, str]) -> None:
    valid_files["docs-cms/adr/ADR-001-thing.md"] += "\n[x](ADR-002-other.md#why-we-chose-c)\n"
    found = messages(write_tree(tmp_path, valid_files))
    assert any(
        m.startswith("ADR-001-thing.md:20: broken anchor: '#why-we-chose-c' has no matching")
        and "ADR-002-other.md" in m
        for m in found
    ), found


def test_broken_same_file_anchor_fails(tmp_path: Path, valid_files: dict[str, str]) -> None:
    valid_files["docs-cms/adr/ADR-001-thing.md"] += "\nBack to [the top](#consequences).\n"
    found = messages(write_tree(tmp_path, valid_files))
    assert any("broken anchor: '#consequences'" in m for m in found), found


def test_github_slugs(tmp_path: Path, valid_files: dict[str, str]) -> None:
    valid_files["docs-cms/adr/ADR-002-other.md"] = OTHER_ADR + (
        "\n## Notes\n\n## Notes\n\n### `make test` & CI: *fast*!\n\nSetext title\n---\n"
    )
    valid_files["docs-cms/adr/ADR-001-thing.md"] += (
        "\n[a](ADR-002-other.md#notes) [b](ADR-002-other.md#notes-1)"
        " [c](ADR-002-other.md#make-test--ci-fast) [d](ADR-002-other.md#setext-title)\n"
    )
    assert messages(write_tree(tmp_path, valid_files)) == []


def test_links_in_code_are_ignored(tmp_path: Path, valid_files: dict[str, str]) -> None:
    valid_files["docs-cms/adr/ADR-001-thing.md"] += (
        "\n`[inline](nowhere.md)`\n\n```md\n[fenced](nowhere.md)\n# not a heading\n```\n"
    )
    assert messages(write_tree(tmp_path, valid_files)) == []


def test_main_prints_path_line_message_and_exits_1(
    tmp_path: Path,
    valid_files: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    valid_files["docs-cms/adr/ADR-001-thing.md"] = frontmatter(status="Done") + ADR_BODY
    root = write_tree(tmp_path, valid_files)
    monkeypatch.chdir(root)
    assert validate_docs.main(["--root", str(root)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "docs-cms/adr/ADR-001-thing.md:4: status 'Done' is not one of: "
        "Proposed, Accepted, Deprecated, Superseded"
    ]


def test_repository_docs_are_valid() -> None:
    checked, problems = validate_docs.validate(REPO_ROOT)
    assert checked > 0
    assert [p.render(REPO_ROOT) for p in problems] == []
