"""Helpers of the prismctl tests (a module of its own: `from conftest import` would pick
whichever conftest.py pytest loaded last)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from prism.ctl.main import app
from typer.testing import CliRunner, Result

Ctl = Callable[..., Result]


def run(*args: str, input: str | None = None) -> Result:
    # catch_exceptions=False: a traceback inside prismctl fails the test loudly.
    return CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)


def ok(result: Result) -> Result:
    """Assert exit 0, showing everything prismctl printed when it is not."""
    assert result.exit_code == 0, (
        f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result


def as_json(result: Result) -> Any:
    return json.loads(ok(result).stdout)
