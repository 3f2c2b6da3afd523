"""The global options (`--profile`, `--output`) as the commands see them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import typer

from prism.ctl.config import Profile, load, resolve_profile
from prism.ctl.errors import USAGE_ERROR, CtlError


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


@dataclass
class State:
    profile_name: str | None = None
    output: OutputFormat = OutputFormat.table
    #: The gateway's token and TLS files (prism.ctl.gateway.GatewayAuth), set by kv/ts.
    gateway: Any = None

    @property
    def json(self) -> bool:
        return self.output is OutputFormat.json

    def profile(self) -> Profile:
        """The selected profile; a usage error pointing at `prismctl login` when missing."""
        return resolve_profile(load(), self.profile_name)


def state(ctx: typer.Context) -> State:
    """The State the root callback stored; commands take `ctx` and call this."""
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        # Only reachable when a command module is invoked without the root app.
        raise CtlError("global options were not parsed", exit_code=USAGE_ERROR)
    return root.obj
