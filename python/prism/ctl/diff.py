"""Render the `diff` of an apply answer as `+ added`, `- removed`, `~ changed` lines.

RFC-001 fixes `{action, diff}` but not the diff's inner shape, so the common ones are
read: a text diff, a list of `{path|field, before|old, after|new}` entries, or a mapping
of field to `{before, after}` or `[before, after]`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

_BEFORE = ("before", "old", "from")
_AFTER = ("after", "new", "to")
_MISSING = object()


def render_diff(diff: Any) -> list[str]:
    if diff is None or diff == "" or diff == [] or diff == {}:
        return ["  (no changes)"]
    if isinstance(diff, str):
        return [f"  {line}" if line[:1] not in "+-~ @" else line for line in diff.splitlines()]
    if isinstance(diff, list):
        return [_entry_line(entry) for entry in diff]
    if isinstance(diff, Mapping):
        return [_field_line(str(field), change) for field, change in diff.items()]
    return [f"  {_show(diff)}"]


def _entry_line(entry: Any) -> str:
    if not isinstance(entry, Mapping):
        return f"  {_show(entry)}"
    field = entry.get("path", entry.get("field", entry.get("key", "?")))
    if isinstance(field, list):
        field = ".".join(str(p) for p in field)
    return _change(str(field), _pick(entry, _BEFORE), _pick(entry, _AFTER))


def _field_line(field: str, change: Any) -> str:
    if isinstance(change, Mapping) and any(k in change for k in _BEFORE + _AFTER):
        return _change(field, _pick(change, _BEFORE), _pick(change, _AFTER))
    if isinstance(change, list | tuple) and len(change) == 2:
        return _change(field, change[0], change[1])
    return f"~ {field}: {_show(change)}"


def _pick(entry: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        if name in entry:
            return entry[name]
    return _MISSING


def _change(field: str, before: Any, after: Any) -> str:
    if before is _MISSING or before is None:
        return f"+ {field}: {_show(after)}"
    if after is _MISSING or after is None:
        return f"- {field}: {_show(before)}"
    return f"~ {field}: {_show(before)} -> {_show(after)}"


def _show(value: Any) -> str:
    if value is _MISSING:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
