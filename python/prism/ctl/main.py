"""`prismctl`: the root app, its global options and the error boundary.

Every command group lives in its own module; a CtlError raised anywhere below is printed
here as `prismctl: <message>` on stderr and ends the process with its exit code.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from prism.ctl import backend, health, kv, login, namespace, plugin, proxy, schema, ts
from prism.ctl.errors import CtlError
from prism.ctl.state import OutputFormat, State


class CtlGroup(TyperGroup):
    """The root group: turns CtlError into a message and an exit code, never a traceback."""

    # `Any`: typer vendors click, and its Context class is private to typer.
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CtlError as err:
            for line in err.lines():
                typer.echo(line, err=True)
            raise typer.Exit(err.exit_code) from err


app = typer.Typer(
    name="prismctl",
    cls=CtlGroup,
    help="Manage a Prism deployment through its admin API, and read or write data for "
    "debugging through the gRPC API.",
    no_args_is_help=True,
    # Shell completion: `prismctl --install-completion` / `--show-completion`.
    add_completion=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            "-p",
            envvar="PRISMCTL_PROFILE",
            help="Profile of ~/.prism/config.yaml to use (default: the current one).",
        ),
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="table (default) or json.")
    ] = OutputFormat.table,
) -> None:
    ctx.obj = State(profile_name=profile, output=output)


app.command("login")(login.login)
app.command("health")(health.health)
app.add_typer(namespace.app, name="namespace")
app.add_typer(schema.app, name="schema")
app.add_typer(backend.app, name="backend")
app.add_typer(proxy.app, name="proxy")
app.add_typer(kv.app, name="kv")
app.add_typer(ts.app, name="ts")
app.add_typer(plugin.app, name="plugin")
