"""The `prism` command: one module per command group, assembled here."""

from __future__ import annotations

import typer

from prism import __version__
from prism.cli.admin import admin
from prism.cli.audit import audit
from prism.cli.proxy import proxy
from prism.cli.serve import serve

app = typer.Typer(
    name="prism",
    help="Prism data access gateway.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("serve")(serve)
app.command("proxy")(proxy)
app.command("admin")(admin)
app.add_typer(audit, name="audit")


@app.command("version")
def version() -> None:
    """Print the Prism version."""
    typer.echo(f"prism {__version__}")
