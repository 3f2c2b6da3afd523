"""Validate the Markdown documents under docs-cms/ and the links of the root README.

Checks, for every ``*.md`` file under ``docs-cms/`` (recursively):

* YAML frontmatter between leading ``---`` lines, with ``id``, ``title``, ``status``,
  ``date`` (YYYY-MM-DD) and ``tags`` (a list); ADRs also need ``deciders``.
* The id matches the document kind and, for ADRs/RFCs/memos, the filename prefix
  (``docs-cms/adr/ADR-001-foo.md`` has ``id: ADR-001``); ids are unique.
* The status is one of the kind's statuses (``STATUSES``).

and, for those files and ``README.md`` at the root, that every relative Markdown link
``[text](path)`` / ``[text](path#anchor)`` / ``[text](#anchor)`` points to an existing
file and, when an anchor is given on a Markdown target, to an existing heading (GitHub
slug rules).

Prints one line per problem as ``path:line: message`` and exits 1 if there is any;
otherwise prints ``validate_docs: N documents OK``. Pure stdlib + PyYAML.

Usage: ``python tooling/validate_docs.py [--root REPO_ROOT]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DOCS_DIR = "docs-cms"
EXTRA_FILES = ("README.md",)

# Document kind by the folder directly under docs-cms/ (anything else is "doc").
KIND_BY_DIR = {"adr": "ADR", "rfcs": "RFC", "memos": "MEMO"}

# Allowed `status` values per kind. Keep this table small and explicit.
STATUSES: dict[str, tuple[str, ...]] = {
    "ADR": ("Proposed", "Accepted", "Deprecated", "Superseded"),
    "RFC": ("Draft", "Proposed", "Accepted", "Rejected", "Implemented", "Superseded"),
    "MEMO": ("Draft", "Final", "Superseded"),
    "doc": ("Draft", "Living", "Archived"),
}
# The ADR template (and only it) may have status Template.
TEMPLATE_ID = "ADR-000"
TEMPLATE_STATUS = "Template"

REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "ADR": ("id", "title", "status", "date", "tags", "deciders"),
    "RFC": ("id", "title", "status", "date", "tags"),
    "MEMO": ("id", "title", "status", "date", "tags"),
    "doc": ("id", "title", "status", "date", "tags"),
}

NUMBERED_ID = re.compile(r"^(ADR|RFC|MEMO)-\d{3}$")
DOC_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
ATX_HEADING = re.compile(r"^\s{0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETEXT_UNDERLINE = re.compile(r"^\s{0,3}(=+|-+)\s*$")
HTML_ANCHOR = re.compile(r"<a\s+[^>]*?(?:name|id)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
# [text](target "optional title") and ![alt](target); text may hold one level of [..].
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^)\s]*)(?:\s+[^)]*)?\)")
REFERENCE_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int
    message: str

    def render(self, root: Path) -> str:
        return f"{display_path(self.path, root)}:{self.line}: {self.message}"


def display_path(path: Path, root: Path) -> str:
    """Path relative to the working directory when under it, else relative to root."""
    for base in (Path.cwd(), root):
        try:
            return str(path.resolve().relative_to(base.resolve()))
        except ValueError:
            continue
    return str(path)


class _StringDateLoader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as strings, so a bad date is reported, not raised."""


_StringDateLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


# --------------------------------------------------------------------------- parsing


@dataclass
class Document:
    path: Path
    lines: list[str]
    body_start: int  # index of the first line after the frontmatter (0 if none)
    frontmatter: dict[str, Any] | None
    frontmatter_lines: dict[str, int]  # top-level key -> 1-based line number


def read_document(path: Path) -> tuple[Document, list[Problem]]:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    problems: list[Problem] = []
    doc = Document(path, lines, 0, None, {})
    if not lines or lines[0].strip() != "---":
        return doc, problems
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        problems.append(Problem(path, 1, "frontmatter is not closed by a '---' line"))
        return doc, problems
    doc.body_start = end + 1
    raw = "\n".join(lines[1:end])
    try:
        data = yaml.load(raw, Loader=_StringDateLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = 2 + mark.line if mark is not None else 1
        problems.append(Problem(path, line, f"frontmatter is not valid YAML: {exc}"))
        return doc, problems
    if not isinstance(data, dict):
        problems.append(Problem(path, 1, "frontmatter must be a YAML mapping"))
        return doc, problems
    doc.frontmatter = data
    for i in range(1, end):
        match = re.match(r"^([A-Za-z_][\w-]*)\s*:", lines[i])
        if match:
            doc.frontmatter_lines.setdefault(match.group(1), i + 1)
    return doc, problems


def body_lines(doc: Document) -> Iterator[tuple[int, str]]:
    """(1-based line number, text) of body lines outside fenced code blocks."""
    fence: str | None = None
    for index in range(doc.body_start, len(doc.lines)):
        line = doc.lines[index]
        match = FENCE.match(line)
        if fence is None:
            if match:
                fence = match.group(1)
                continue
            yield index + 1, line
        elif match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
            fence = None


# --------------------------------------------------------------------------- anchors


def heading_text(raw: str) -> str:
    """Approximate the rendered text of a heading: strip code marks, links, emphasis, HTML."""
    text = INLINE_CODE.sub(lambda m: m.group(2), raw)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"(\*+|(?<!\w)_+|_+(?!\w))", "", text)
    return text.strip()


def github_slug(text: str) -> str:
    """GitHub's heading id: lower case, drop punctuation but '-' and '_', spaces to '-'."""
    slug = text.strip().lower()
    slug = "".join(ch for ch in slug if ch.isalnum() or ch in "-_ " or ch == "\u00a0")
    return re.sub(r"[ \u00a0]", "-", slug)


def anchors_of(doc: Document) -> set[str]:
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    previous = ""
    for _, line in body_lines(doc):
        for match in HTML_ANCHOR.finditer(line):
            anchors.add(match.group(1))
        title: str | None = None
        atx = ATX_HEADING.match(line)
        if atx:
            title = atx.group(2) or ""
        elif (
            previous.strip()
            and SETEXT_UNDERLINE.match(line)
            and not previous.startswith("    ")
            and not ATX_HEADING.match(previous)
        ):
            title = previous
        previous = line
        if title is None:
            continue
        slug = github_slug(heading_text(title))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


# --------------------------------------------------------------------------- checks


def doc_kind(path: Path, docs_root: Path) -> str:
    relative = path.relative_to(docs_root)
    if path.name.lower() == "readme.md" or len(relative.parts) < 2:
        return "doc"
    return KIND_BY_DIR.get(relative.parts[0], "doc")


def check_frontmatter(doc: Document, kind: str) -> list[Problem]:
    path = doc.path
    fm = doc.frontmatter
    if fm is None:
        return [Problem(path, 1, "missing YAML frontmatter (a leading '---' block)")]
    problems: list[Problem] = []

    def line_of(key: str) -> int:
        return doc.frontmatter_lines.get(key, 1)

    for field in REQUIRED_FIELDS[kind]:
        value = fm.get(field)
        if value is None or value == "" or value == []:
            problems.append(Problem(path, 1, f"frontmatter: missing required field '{field}'"))

    doc_id = fm.get("id")
    if doc_id is not None:
        doc_id = str(doc_id)
        if kind in ("ADR", "RFC", "MEMO"):
            if not NUMBERED_ID.match(doc_id) or not doc_id.startswith(kind + "-"):
                problems.append(
                    Problem(path, line_of("id"), f"id '{doc_id}' must look like {kind}-001")
                )
            elif not (path.name.startswith(doc_id + "-") or path.name == doc_id + ".md"):
                problems.append(
                    Problem(
                        path,
                        line_of("id"),
                        f"id '{doc_id}' does not match the filename '{path.name}' "
                        f"(expected '{doc_id}-<slug>.md')",
                    )
                )
        elif not DOC_ID.match(doc_id):
            problems.append(
                Problem(path, line_of("id"), f"id '{doc_id}' must be lower-case words and '-'")
            )

    status = fm.get("status")
    if status is not None:
        allowed = STATUSES[kind]
        is_template = kind == "ADR" and doc_id == TEMPLATE_ID and status == TEMPLATE_STATUS
        if status not in allowed and not is_template:
            problems.append(
                Problem(
                    path,
                    line_of("status"),
                    f"status '{status}' is not one of: {', '.join(allowed)}",
                )
            )

    date = fm.get("date")
    if date is not None and date != "":
        if not _valid_date(date):
            problems.append(
                Problem(path, line_of("date"), f"date '{date}' is not a valid YYYY-MM-DD date")
            )

    for field in ("tags", "deciders"):
        value = fm.get(field)
        if value is None or value == []:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            problems.append(
                Problem(path, line_of(field), f"'{field}' must be a list of non-empty strings")
            )

    title = fm.get("title")
    if title is not None and not isinstance(title, str):
        problems.append(Problem(path, line_of("title"), "'title' must be a string"))
    return problems


def _valid_date(value: object) -> bool:
    if isinstance(value, dt.date):
        return True
    if not isinstance(value, str) or not DATE.match(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def links_of(doc: Document) -> Iterator[tuple[int, str]]:
    """(line, target) of every inline link and reference definition outside code."""
    for number, line in body_lines(doc):
        without_code = INLINE_CODE.sub(lambda m: " " * len(m.group(0)), line)
        for match in INLINE_LINK.finditer(without_code):
            yield number, match.group(1)
        ref = REFERENCE_DEF.match(without_code)
        if ref:
            yield number, ref.group(1)


def check_links(doc: Document, root: Path, cache: dict[Path, set[str]]) -> list[Problem]:
    problems: list[Problem] = []
    for number, raw_target in links_of(doc):
        target = raw_target.strip("<>").strip()
        if not target or SCHEME.match(target) or target.startswith("//"):
            continue
        path_part, _, anchor = target.partition("#")
        path_part = urllib.parse.unquote(path_part.split("?", 1)[0])
        if path_part:
            base = root if path_part.startswith("/") else doc.path.parent
            resolved = (base / path_part.lstrip("/")).resolve()
            if not resolved.exists():
                problems.append(Problem(doc.path, number, f"broken link: '{target}' not found"))
                continue
        else:
            resolved = doc.path.resolve()
        if not anchor or resolved.suffix.lower() != ".md" or not resolved.is_file():
            continue
        if resolved not in cache:
            target_doc, _ = read_document(resolved)
            cache[resolved] = anchors_of(target_doc)
        if urllib.parse.unquote(anchor) not in cache[resolved]:
            problems.append(
                Problem(
                    doc.path,
                    number,
                    f"broken anchor: '#{anchor}' has no matching heading in "
                    f"'{display_path(resolved, root)}'",
                )
            )
    return problems


def validate(root: Path) -> tuple[int, list[Problem]]:
    """Validate the docs under ``root``; returns (documents checked, problems)."""
    root = root.resolve()
    docs_root = root / DOCS_DIR
    problems: list[Problem] = []
    anchors: dict[Path, set[str]] = {}
    ids: dict[str, Path] = {}
    checked = 0

    doc_files = sorted(docs_root.rglob("*.md")) if docs_root.is_dir() else []
    if not docs_root.is_dir():
        problems.append(Problem(docs_root, 1, f"'{DOCS_DIR}/' directory not found"))
    for path in doc_files:
        checked += 1
        doc, parse_problems = read_document(path)
        problems.extend(parse_problems)
        if not parse_problems:
            problems.extend(check_frontmatter(doc, doc_kind(path, docs_root)))
        if doc.frontmatter is not None and doc.frontmatter.get("id") is not None:
            doc_id = str(doc.frontmatter["id"])
            if doc_id in ids:
                first = display_path(ids[doc_id], root)
                problems.append(
                    Problem(
                        path,
                        doc.frontmatter_lines.get("id", 1),
                        f"duplicate id '{doc_id}' (also used by {first})",
                    )
                )
            else:
                ids[doc_id] = path
        problems.extend(check_links(doc, root, anchors))

    for name in EXTRA_FILES:
        path = root / name
        if path.is_file():
            checked += 1
            doc, parse_problems = read_document(path)
            problems.extend(parse_problems)
            problems.extend(check_links(doc, root, anchors))
    return checked, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(__file__).resolve().parent.parent,
        help="repository root holding docs-cms/ and README.md (default: this checkout)",
    )
    args = parser.parse_args(argv)
    checked, problems = validate(args.root)
    for problem in problems:
        print(problem.render(args.root.resolve()))
    if problems:
        print(f"validate_docs: {len(problems)} problem(s) in {checked} documents", file=sys.stderr)
        return 1
    print(f"validate_docs: {checked} documents OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
