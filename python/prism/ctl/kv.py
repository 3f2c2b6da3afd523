"""`prismctl kv get|put|delete|scan`: KeyValue data through the gateway's gRPC API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from prism.client.types import Item
from prism.ctl import output
from prism.ctl.errors import CtlError
from prism.ctl.gateway import connect, options
from prism.ctl.state import state
from prism.ctl.values import read_value, show_value

app = typer.Typer(help="KeyValue data, for debugging (gRPC).", no_args_is_help=True)
app.callback()(options)  # --token, --tls-ca, --tls-cert, --tls-key

Namespace = Annotated[str, typer.Option("--namespace", "-n", help="Namespace.")]
Base64 = Annotated[bool, typer.Option("--base64", help="Values are base64 (binary data).")]


@app.command("get")
def get(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Key (UTF-8).")],
    namespace: Namespace = "default",
    b64: Base64 = False,
    file: Annotated[
        Path | None, typer.Option("--file", help="Write the raw value to this file.")
    ] = None,
) -> None:
    """Read one key; exit 1 when it does not exist."""
    st = state(ctx)
    with connect(st, namespace) as client:
        item = client.kv(namespace).get(key)
    if item is None:
        raise CtlError(f"namespace {namespace}: key {key!r} not found")
    if file is not None:
        file.write_bytes(item.value)
    if st.json:
        output.print_json(_item(item, b64))
    elif file is None:
        # The bare value, so `prismctl kv get k > file` and `$(...)` just work.
        typer.echo(show_value(item.value, b64=b64)[0])


@app.command("put")
def put(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Key (UTF-8).")],
    value: Annotated[str | None, typer.Argument(help="Value (text, or base64).")] = None,
    namespace: Namespace = "default",
    b64: Base64 = False,
    file: Annotated[Path | None, typer.Option("--file", help="Read the value from a file.")] = None,
    ttl: Annotated[float | None, typer.Option("--ttl", help="Expire after SECONDS.")] = None,
) -> None:
    """Write one key; prints its new version."""
    st = state(ctx)
    data = read_value(value, b64=b64, file=file)
    with connect(st, namespace) as client:
        version = client.kv(namespace).put(key, data, ttl=ttl)
    output.message(
        st,
        f"{namespace}/{key}: version {version} ({len(data)} bytes)",
        {"namespace": namespace, "key": key, "version": version, "bytes": len(data)},
    )


@app.command("delete")
def delete(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Key (UTF-8).")],
    namespace: Namespace = "default",
) -> None:
    """Delete one key; exit 1 when it did not exist."""
    st = state(ctx)
    with connect(st, namespace) as client:
        deleted = client.kv(namespace).delete(key)
    if not deleted:
        raise CtlError(f"namespace {namespace}: key {key!r} not found")
    output.message(
        st, f"{namespace}/{key}: deleted", {"namespace": namespace, "key": key, "deleted": True}
    )


@app.command("scan")
def scan(
    ctx: typer.Context,
    namespace: Namespace = "default",
    prefix: Annotated[str | None, typer.Option("--prefix", help="Keys starting with.")] = None,
    start: Annotated[str | None, typer.Option("--start", help="From this key on.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Before this key.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most N items.")] = 100,
    b64: Base64 = False,
) -> None:
    """Items in key order."""
    st = state(ctx)
    items: list[dict[str, Any]] = []
    with connect(st, namespace) as client:
        for item in client.kv(namespace).scan_all(prefix=prefix, start=start, end=end):
            items.append(_item(item, b64))
            if len(items) >= limit:
                break
    output.rows(st, items, ("key", "value", "version", "expires_at"))


def _item(item: Item, b64: bool) -> dict[str, Any]:
    key, key_encoding = show_value(item.key, b64=False)
    value, encoding = show_value(item.value, b64=b64)
    out: dict[str, Any] = {"key": key, "value": value, "encoding": encoding}
    if key_encoding != "utf-8":
        out["key_encoding"] = key_encoding
    out["version"] = item.version
    out["expires_at"] = item.expires_at.isoformat() if item.expires_at else None
    return out
