"""`prismctl backend list|health` over /v1/backends (RFC-001)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from prism.ctl import output
from prism.ctl.errors import CtlError
from prism.ctl.http import AdminClient, segment
from prism.ctl.state import state

app = typer.Typer(help="Installed backends: claims, config schema, health.", no_args_is_help=True)


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """Installed backends and the patterns and capabilities they claim."""
    st = state(ctx)
    with AdminClient.for_profile(st.profile()) as admin:
        items = listing(admin.get("/v1/backends"), "backends")
    if st.json:
        output.print_json(items)
        return
    output.rows(st, [_summary(b) for b in items], ("name", "patterns", "capabilities"))


@app.command("health")
def health(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Backend name.")]) -> None:
    """One backend's health as the admin sees it; exit 1 when it is not healthy."""
    st = state(ctx)
    with AdminClient.for_profile(st.profile()) as admin:
        result = admin.get(f"/v1/backends/{segment(name)}/health")
    if not isinstance(result, dict):
        result = {"name": name, "health": result}
    output.record(st, result)
    if not is_healthy(result):
        raise CtlError(f"backend {name} is not healthy")


def listing(data: Any, key: str) -> list[dict[str, Any]]:
    """A list answer: a bare array, or wrapped as {key: [...]} / {items: [...]}."""
    if isinstance(data, dict):
        data = data.get(key, data.get("items", []))
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []


def is_healthy(result: dict[str, Any]) -> bool:
    """Reads `healthy: bool`, or a `status`/`health` of ok/healthy/serving/up."""
    if isinstance(result.get("healthy"), bool):
        return bool(result["healthy"])
    for key in ("status", "health"):
        value = result.get(key)
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return value.lower() in ("ok", "healthy", "serving", "up", "pass")
    return False


def _summary(backend: dict[str, Any]) -> dict[str, Any]:
    caps = backend.get("capabilities") or backend.get("claims")
    if isinstance(caps, dict):  # {pattern: [capability, ...]}
        caps = {p: c for p, c in caps.items() if c}
    return {
        "name": backend.get("name"),
        "patterns": backend.get("patterns"),
        "capabilities": caps,
    }
