"""Field-level diff of two namespace specs, for `apply` and its dry run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel


class FieldChange(BaseModel):
    field: str
    before: Any = None
    after: Any = None


def flatten(value: Mapping[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    """{"limits": {"max_key_bytes": 1}} -> {"limits.max_key_bytes": 1}; lists stay whole."""
    out: dict[str, Any] = {}
    for key, item in (value or {}).items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(item, Mapping) and item:
            out.update(flatten(item, path))
        else:
            out[path] = item
    return out


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[FieldChange]:
    old, new = flatten(before), flatten(after)
    return [
        FieldChange(field=key, before=old.get(key), after=new.get(key))
        for key in sorted(old.keys() | new.keys())
        if old.get(key) != new.get(key) or (key in old) != (key in new)
    ]
