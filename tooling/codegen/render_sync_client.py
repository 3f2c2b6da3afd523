"""The blocking client, python/prism/client/_sync.py, generated from the asyncio one.

The two clients have the same surface and differ only in awaiting, so one is written
(_async.py) and the other derived from it by the token rules below, in order; the tail
streams, where grpcio and grpc.aio really differ, are hand-written on both sides
(_tail_async.py, _tail_sync.py). The rules match whole words, so none can rewrite part of
a longer name, and a construct no rule rewrites fails the generation.
"""

from __future__ import annotations

import re
from pathlib import Path

SOURCE = Path("python/prism/client/_async.py")
TARGET = Path("python/prism/client/_sync.py")

DOCSTRING = '''"""Blocking client over grpcio: PrismClient, its KeyValue and TimeSeries views.

Generated from the asyncio client (_async.py), which documents every method; the tail
stream is hand-written in _tail_sync.py.
"""'''

RULES: tuple[tuple[str, str], ...] = (
    (r"\basync def\b", "def"),
    (r"\basync with\b", "with"),
    (r"\basync for\b", "for"),
    (r"\bawait ", ""),
    (r"\bAsyncIterator\b", "Iterator"),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\bAsync([A-Z]\w*)", r"\1"),  # AsyncPrismClient -> PrismClient, ...
    (r"\basync_channel\b", "sync_channel"),
    (r"\b_tail_async\b", "_tail_sync"),
    # An async generator cannot `yield from`; a plain one should.
    (r"for (\w+) in (.+):\n( +)yield \1\n", r"yield from \2\n"),
    # grpc.aio's close takes the grace period (and the comment saying so); grpcio's none.
    (r"\.close\(None\)( *#.*)?", ".close()"),
)


def header() -> str:
    return (
        f"# Generated from {SOURCE.name} by tooling/codegen/render_sync_client.py. DO NOT EDIT:\n"
        "# change the asyncio client and run `make codegen`; `make check-codegen` (CI) fails\n"
        "# when this file is stale.\n"
    )


def _sorted_import(match: re.Match[str]) -> str:
    """`from m import b, a` with its names in ruff's (isort's) order: CONSTANTS, then
    Classes, then functions, each alphabetical; a renamed name may have moved."""
    names = [n.strip() for n in match.group(2).split(",")]

    def key(name: str) -> tuple[int, str]:
        kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
        return kind, name

    return f"{match.group(1)}{', '.join(sorted(names, key=key))}"


def render(source: str) -> str:
    """The blocking client's text for the asyncio client's `source`."""
    match = re.match(r'\s*""".*?"""', source, flags=re.DOTALL)
    if match is None:
        raise SystemExit(f"{SOURCE}: expected a module docstring first")
    body = source[match.end() :]
    for pattern, replacement in RULES:
        body = re.sub(pattern, replacement, body)
    body = re.sub(r"^(from \S+ import )([^(\n]+)$", _sorted_import, body, flags=re.MULTILINE)
    if re.search(r"\b(async|await)\b|\bAsync[A-Z]", body):
        raise SystemExit(f"{SOURCE}: an async construct no rule rewrites is left in {TARGET}")
    return header() + DOCSTRING + body


def generate(out_root: Path, root: Path) -> None:
    target = out_root / TARGET
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render((root / SOURCE).read_text(encoding="utf-8")), encoding="utf-8")
