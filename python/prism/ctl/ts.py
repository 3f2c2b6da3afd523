"""`prismctl ts append|query|tail`: TimeSeries data through the gateway's gRPC API."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from prism.client.types import Event
from prism.ctl import output
from prism.ctl.errors import USAGE_ERROR, CtlError
from prism.ctl.gateway import connect, options
from prism.ctl.state import State, state
from prism.ctl.values import show_value

app = typer.Typer(help="TimeSeries data, for debugging (gRPC).", no_args_is_help=True)
app.callback()(options)  # --token, --tls-ca, --tls-cert, --tls-key

Namespace = Annotated[str, typer.Option("--namespace", "-n", help="Namespace.")]
Tags = Annotated[list[str] | None, typer.Option("--tag", "-t", help="Tag k=v; repeat for several.")]
COLUMNS = ("event_time", "series_id", "value", "tags", "payload", "event_id")
_RELATIVE = re.compile(r"^-(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


@app.command("append")
def append(
    ctx: typer.Context,
    series: Annotated[str, typer.Argument(help="Series id.")],
    value: Annotated[float | None, typer.Argument(help="Numeric value.")] = None,
    namespace: Namespace = "default",
    tag: Tags = None,
    time: Annotated[
        str | None, typer.Option("--time", help="Event time: ISO 8601, `now` or -5m.")
    ] = None,
    payload: Annotated[str | None, typer.Option("--payload", help="Payload text.")] = None,
) -> None:
    """Append one event."""
    st = state(ctx)
    if value is None and payload is None:
        raise CtlError("give a VALUE, a --payload or both", exit_code=USAGE_ERROR)
    event = Event(
        series_id=series,
        event_time=parse_time(time, "--time") if time else datetime.now(UTC),
        tags=parse_tags(tag),
        value=value,
        payload=(payload or "").encode("utf-8"),
    )
    with connect(st, namespace) as client:
        result = client.ts(namespace).append([event])
    output.message(
        st,
        f"{namespace}/{series}: appended {result.appended} event at "
        f"{event.event_time.isoformat()} (id {event.event_id})",
        {"namespace": namespace, "appended": result.appended, "duplicates": result.duplicates,
         "event": event_dict(event)},
    )  # fmt: skip


@app.command("query")
def query(
    ctx: typer.Context,
    series: Annotated[str, typer.Argument(help="Series id.")],
    namespace: Namespace = "default",
    tag: Tags = None,
    start: Annotated[str | None, typer.Option("--start", help="From (ISO 8601 or -1h).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Before (ISO 8601 or -1h).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most N events.")] = 100,
    desc: Annotated[bool, typer.Option("--desc", help="Newest first.")] = False,
) -> None:
    """Events of a series in [start, end)."""
    st = state(ctx)
    events: list[dict[str, Any]] = []
    with connect(st, namespace) as client:
        for event in client.ts(namespace).query_all(
            series,
            start=parse_time(start, "--start") if start else None,
            end=parse_time(end, "--end") if end else None,
            tags=parse_tags(tag) or None,
            descending=desc,
        ):
            events.append(event_dict(event))
            if len(events) >= limit:
                break
    output.rows(st, events, COLUMNS)


@app.command("tail")
def tail(
    ctx: typer.Context,
    series: Annotated[str, typer.Argument(help="Series id.")],
    namespace: Namespace = "default",
    tag: Tags = None,
    count: Annotated[
        int | None, typer.Option("--count", min=1, help="Stop after N events.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--from", help="Replay from this time (ISO 8601 or -5m).")
    ] = None,
) -> None:
    """Stream new events until Ctrl-C (or --count N); one line (or JSON object) each."""
    st = state(ctx)
    seen = 0
    with connect(st, namespace) as client:
        stream = client.ts(namespace).tail(
            series,
            from_time=parse_time(since, "--from") if since else None,
            tags=parse_tags(tag) or None,
        )
        try:
            for event in stream:
                _print_event(st, event)
                seen += 1
                if count is not None and seen >= count:
                    break
        except KeyboardInterrupt:
            pass  # Ctrl-C is the normal way to end a tail: exit 0
        finally:
            stream.cancel()


def _print_event(st: State, event: Event) -> None:
    data = event_dict(event)
    if st.json:
        # One compact object per line (JSON Lines): a stream has no closing bracket.
        import json

        typer.echo(json.dumps(data, separators=(",", ":")))
    else:
        cols = [str(data[c]) if data[c] not in (None, {}, "") else "-" for c in COLUMNS[:4]]
        typer.echo("  ".join(cols))


def event_dict(event: Event) -> dict[str, Any]:
    return {
        "event_time": event.event_time.isoformat(),
        "series_id": event.series_id,
        "value": event.value,
        "tags": dict(event.tags),
        "payload": show_value(event.payload, b64=False)[0] if event.payload else "",
        "event_id": event.event_id,
    }


def parse_tags(raw: list[str] | None) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in raw or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CtlError(f"--tag {item!r}: expected KEY=VALUE", exit_code=USAGE_ERROR)
        tags[key] = value
    return tags


def parse_time(text: str, option: str) -> datetime:
    """ISO 8601 (naive = UTC), `now`, or relative to now as -30s, -5m, -2h, -1d."""
    if text == "now":
        return datetime.now(UTC)
    match = _RELATIVE.match(text)
    if match:
        delta = timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
        return datetime.now(UTC) - delta
    try:
        when = datetime.fromisoformat(text)
    except ValueError as err:
        raise CtlError(
            f"{option} {text!r}: expected ISO 8601 (2026-01-02T03:04:05Z), `now` or -5m",
            exit_code=USAGE_ERROR,
        ) from err
    return when if when.tzinfo else when.replace(tzinfo=UTC)
