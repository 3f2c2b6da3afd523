"""Namespace spec files: YAML with `file:line:column: problem` errors (exit 2).

A file holds one spec, or several separated by `---`. Only the syntax and the top-level
shape are checked here; the admin validates the contents and names the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from prism.ctl.errors import USAGE_ERROR, CtlError


def load_specs(path: Path) -> list[dict[str, Any]]:
    shown = str(path)  # as the user typed it, so the error points where they look
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise CtlError(
            f"{shown}: cannot read: {err.strerror or err}", exit_code=USAGE_ERROR
        ) from err
    except UnicodeDecodeError as err:
        raise CtlError(f"{shown}: not UTF-8 text: {err}", exit_code=USAGE_ERROR) from err
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.MarkedYAMLError as err:
        raise CtlError(yaml_error(shown, err), exit_code=USAGE_ERROR) from err
    except yaml.YAMLError as err:
        raise CtlError(f"{shown}: invalid YAML: {err}", exit_code=USAGE_ERROR) from err
    if not docs:
        raise CtlError(f"{shown}: no namespace spec in the file", exit_code=USAGE_ERROR)
    for i, doc in enumerate(docs):
        if not isinstance(doc, dict):
            where = f" (document {i + 1})" if len(docs) > 1 else ""
            raise CtlError(
                f"{shown}{where}: a namespace spec must be a mapping with name, pattern(s), "
                f"backend and config, not a {type(doc).__name__}",
                exit_code=USAGE_ERROR,
            )
    return docs


def yaml_error(shown: str, err: yaml.MarkedYAMLError) -> str:
    """`file:line:col: problem`, 1-based like compilers, pointing at the problem itself."""
    mark = err.problem_mark or err.context_mark
    problem = err.problem or err.context or "invalid YAML"
    if mark is None:
        return f"{shown}: {problem}"
    return f"{shown}:{mark.line + 1}:{mark.column + 1}: {problem}"
