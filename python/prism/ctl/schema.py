"""`prismctl schema spec|bind|show|rotate-key`: annotated protos as namespace specs and
schemas bound to namespaces (ADR-010), over /v1/namespaces/{name}/schema.

`spec` works offline: it compiles the .proto and prints the namespace spec its `prism.*`
options describe (backend, consistency, cache, retention) plus what the spec cannot say
(indexes, the PII policy, field rules). In table mode the spec is YAML that
`prismctl namespace apply -f` takes, the rest as comments; `--output json` prints
`{"spec": ..., "schema": ...}`.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from prism import protoschema
from prism.ctl import output
from prism.ctl.errors import USAGE_ERROR, CtlError
from prism.ctl.http import AdminClient, segment
from prism.ctl.protoc import compile_proto
from prism.ctl.state import state

app = typer.Typer(
    help="Schemas: annotated proto messages bound to namespaces.", no_args_is_help=True
)

ProtoFile = Annotated[Path, typer.Argument(help="The annotated .proto file.")]
Message = Annotated[
    str | None,
    typer.Option(
        "--message", "-m", help="Full message name, e.g. acme.v1.User (default: the only one)."
    ),
]
Include = Annotated[
    list[Path] | None,
    typer.Option("--include", "-I", help="Import directory for protoc (repeatable)."),
]
NamespaceArg = Annotated[str, typer.Argument(help="Namespace name.")]
PATTERNS = ("keyvalue", "timeseries")


@app.command("spec")
def spec(
    ctx: typer.Context,
    file: ProtoFile,
    message: Message = None,
    include: Include = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="Namespace name (default: prism.namespace, else derived)."),
    ] = None,
    pattern: Annotated[
        list[str] | None,
        typer.Option("--pattern", help="keyvalue (default) or timeseries; repeatable."),
    ] = None,
) -> None:
    """Print the namespace spec an annotated message describes (nothing is changed)."""
    st = state(ctx)
    fds, info = _compile(file, message, include)
    patterns = pattern or ["keyvalue"]
    for p in patterns:
        if p not in PATTERNS:
            raise CtlError(f"--pattern: {p!r} is not one of {', '.join(PATTERNS)}", exit_code=2)
    doc = {"spec": namespace_spec(info, name, patterns), "schema": schema_summary(info)}
    if st.json:
        output.print_json(doc)
        return
    typer.echo(render_yaml(doc, file), nl=False)


@app.command("bind")
def bind(
    ctx: typer.Context,
    namespace: NamespaceArg,
    file: ProtoFile,
    message: Message = None,
    include: Include = None,
) -> None:
    """Compile FILE and bind its message to NAMESPACE (data key 1 is made for PII)."""
    st = state(ctx)
    data, info = _compile(file, message, include, raw=True)
    body = {"descriptor_set": base64.b64encode(data).decode("ascii"), "message": info.name}
    with AdminClient.for_profile(st.profile()) as admin:
        view = admin.put(f"/v1/namespaces/{segment(namespace)}/schema", body)
    output.message(st, _summary_line(view, "bound"), view)


@app.command("show")
def show(ctx: typer.Context, namespace: NamespaceArg) -> None:
    """The bound message, its fields, PII fields and data key versions."""
    st = state(ctx)
    with AdminClient.for_profile(st.profile()) as admin:
        view = admin.get(f"/v1/namespaces/{segment(namespace)}/schema")
    if st.json:
        output.print_json(view)
        return
    summary = {k: v for k, v in view.items() if k not in ("fields", "options")}
    output.record(st, summary)
    typer.echo("")
    output.rows(st, view.get("fields") or [], ("path", "number", "type", "options"))


@app.command("rotate-key")
def rotate_key(ctx: typer.Context, namespace: NamespaceArg) -> None:
    """Add the next data key version; new writes use it, old data stays readable."""
    st = state(ctx)
    with AdminClient.for_profile(st.profile()) as admin:
        view = admin.post(f"/v1/namespaces/{segment(namespace)}/schema/rotate-key", None)
    output.message(st, _summary_line(view, "key rotated"), view)


# ---- the spec document ------------------------------------------------------------------


def namespace_spec(
    info: protoschema.MessageInfo, name: str | None, patterns: list[str]
) -> dict[str, Any]:
    """The admin spec (RFC-001) the message options describe; defaults left out."""
    opts = info.options
    spec: dict[str, Any] = {
        "name": name or opts.get("namespace") or _derived_name(info.name),
        "patterns": patterns,
    }
    for key in ("backend", "consistency", "cache", "retention"):
        if key in opts:
            spec[key] = opts[key]
    return spec


def schema_summary(info: protoschema.MessageInfo) -> dict[str, Any]:
    """What the spec cannot carry: indexes, the PII policy and the field rules."""
    hints: dict[str, Any] = {
        k: info.options[k] for k in ("access_pattern", "estimated_rps") if k in info.options
    }
    return {
        "message": info.name,
        "file": info.file,
        "indexes": info.indexes,
        "pii": {
            "fields": info.pii_fields,
            # As the proxy enforces it once the schema is bound.
            "policy": "encrypted at rest (AES-256-GCM, per-namespace data key); plaintext "
            "for principals in access.pii_read, masked for everyone else",
        },
        "fields": [
            {"path": f.path, "number": f.number, "type": f.type, **f.options}
            for f in info.fields
            if f.options
        ],
        **hints,
    }


def render_yaml(doc: dict[str, Any], file: Path) -> str:
    schema = doc["schema"]
    spec_text = yaml.safe_dump(doc["spec"], sort_keys=False)
    lines = [
        f"# Namespace spec from {schema['message']} ({file.name}).",
        "# Apply: prismctl namespace apply -f FILE; then bind the schema:",
        f"#   prismctl schema bind {doc['spec']['name']} {file} --message {schema['message']}",
        spec_text.rstrip("\n"),
        "# Schema (enforced once bound):",
    ]
    commented = yaml.safe_dump({"schema": schema}, sort_keys=False).rstrip("\n")
    lines.extend(f"#   {line}" for line in commented.splitlines())
    return "\n".join(lines) + "\n"


def _derived_name(full_name: str) -> str:
    """acme.v1.UserProfile -> user_profile."""
    short = full_name.rsplit(".", 1)[-1]
    return re.sub(r"(?<!^)(?=[A-Z])", "_", short).lower()


def _summary_line(view: Any, what: str) -> str:
    if not isinstance(view, dict):
        return what
    pii = ", ".join(view.get("pii_fields") or []) or "none"
    versions = ", ".join(str(v) for v in view.get("key_versions") or []) or "none"
    return (
        f"namespace {view.get('namespace')}: {view.get('message')} {what} "
        f"(namespace version {view.get('version')}); PII fields: {pii}; data key versions: "
        f"{versions} (active {view.get('active_key_version') or 'none'})"
    )


# ---- compiling --------------------------------------------------------------------------


def _compile(
    file: Path, message: str | None, include: list[Path] | None, raw: bool = False
) -> tuple[Any, protoschema.MessageInfo]:
    """(the set, or its bytes with `raw`) and the chosen message's description."""
    data = compile_proto(file, include or [])
    try:
        fds = protoschema.complete(protoschema.parse_set(data))
        pool = protoschema.build_pool(fds)
        chosen = message or _only_message(fds, file)
        info = protoschema.describe(protoschema.find_message(pool, fds, chosen))
    except protoschema.SchemaError as err:
        raise CtlError(f"{file}: {err}", exit_code=USAGE_ERROR) from err
    return (data if raw else fds), info


def _only_message(fds: Any, file: Path) -> str:
    # protoc lists the file it was asked for last, after its imports.
    own = fds.file[-1]
    prefix = f"{own.package}." if own.package else ""
    names = [prefix + m.name for m in own.message_type]
    if len(names) != 1:
        listed = ", ".join(names) or "none"
        raise CtlError(
            f"{file}: name the message with --message (messages: {listed})",
            exit_code=USAGE_ERROR,
        )
    return names[0]
