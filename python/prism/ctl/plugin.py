"""`prismctl plugin new`: scaffold a backend plugin package (wraps tooling/scaffold).

tooling/ ships with the source tree, not with the installed package, so the scaffold is
imported from the repository: the one on sys.path, else one found above the working
directory.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer

from prism.ctl.errors import USAGE_ERROR, CtlError

app = typer.Typer(help="Backend plugins.", no_args_is_help=True)


@app.command("new")
def new(
    name: Annotated[str, typer.Argument(help="Backend name: [a-z][a-z0-9_]*, e.g. cassandra.")],
    patterns: Annotated[
        str, typer.Option("--patterns", help="Comma-separated, e.g. keyvalue,timeseries.")
    ],
    dest: Annotated[
        Path, typer.Option("--dest", help="Parent directory of the new package.")
    ] = Path("patterns"),
) -> None:
    """Create patterns/NAME: a plugin that refuses every call until filled in."""
    scaffold = _import_scaffold()
    wanted = [p.strip() for p in patterns.split(",") if p.strip()]
    try:
        root = scaffold.scaffold(name, wanted, dest, echo=typer.echo)
    except scaffold.ScaffoldError as err:
        raise CtlError(f"plugin new: {err}", exit_code=USAGE_ERROR) from err
    typer.echo(
        f"created {root}; `pip install -e {root}` registers backend {name!r}. Fill in the "
        "methods, then claim capabilities in metadata.py."
    )


def _import_scaffold() -> ModuleType:
    try:
        import tooling.scaffold as scaffold

        return scaffold
    except ImportError:
        pass
    for parent in [Path.cwd(), *Path.cwd().parents]:
        if (parent / "tooling" / "scaffold" / "__init__.py").is_file():
            sys.path.insert(0, str(parent))
            import tooling.scaffold as scaffold

            return scaffold
    raise CtlError(
        "plugin new needs the Prism source tree (tooling/scaffold); run it inside a clone "
        "of the repository",
        exit_code=USAGE_ERROR,
    )
