"""Rendering: rich tables by default, JSON with `--output json`; the same data either way.

Commands hand over plain JSON-able data plus the columns a table shows. Nested values in
a cell are written as compact JSON, so no field is hidden in table form.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from prism.ctl.state import State

# Piped output (and CliRunner) has no terminal width; wide enough that names never wrap.
PIPE_WIDTH = 200


def console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else PIPE_WIDTH
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def rows(state: State, data: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """A list of objects: one table row each (with the given columns), or a JSON array."""
    if state.json:
        print_json(list(data))
        return
    table = Table(*[c.upper() for c in columns], box=None, pad_edge=False)
    for item in data:
        # Text, not str: values such as `[*]` must not be read as rich markup.
        table.add_row(*[Text(cell(lookup(item, c))) for c in columns])
    console().print(table)


def record(state: State, data: Mapping[str, Any]) -> None:
    """One object: a FIELD/VALUE table of its dotted fields, or a JSON object."""
    if state.json:
        print_json(dict(data))
        return
    table = Table("FIELD", "VALUE", box=None, pad_edge=False)
    for key, value in flatten(data):
        table.add_row(Text(key), Text(cell(value)))
    console().print(table)


def message(state: State, text: str, data: Any = None) -> None:
    """A confirmation line in table mode; the data behind it in JSON mode."""
    if state.json:
        print_json(data if data is not None else {"message": text})
    else:
        console().print(text, markup=False)


def lookup(item: Mapping[str, Any], column: str) -> Any:
    """`spec.backend` reads item["spec"]["backend"]; a missing part reads as None."""
    value: Any = item
    for part in column.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.extend(flatten(value, f"{name}."))
        else:
            out.append((name, value))
    return out
