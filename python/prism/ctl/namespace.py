"""`prismctl namespace list|get|apply|diff|delete` over /v1/namespaces (RFC-001)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from prism.ctl import output
from prism.ctl.diff import render_diff
from prism.ctl.errors import USAGE_ERROR, CtlError
from prism.ctl.http import AdminClient, segment
from prism.ctl.rollout import wait_for_proxies
from prism.ctl.specfile import load_specs
from prism.ctl.state import State, state

app = typer.Typer(help="Namespaces: the unit of configuration.", no_args_is_help=True)

LIST_COLUMNS = ("name", "patterns", "backend", "version", "updated_at")

Wait = Annotated[
    float,
    typer.Option(
        "--wait",
        min=0,
        help="Seconds to wait until every live proxy runs the change (0: do not wait).",
    ),
]
DEFAULT_WAIT_S = 10.0

SpecFile = Annotated[
    Path,
    typer.Option("--file", "-f", help="YAML namespace spec(s); several may be separated by ---."),
]


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """All namespaces."""
    st = state(ctx)
    with AdminClient.for_profile(st.profile()) as admin:
        items = _items(admin.get("/v1/namespaces"))
    if st.json:
        output.print_json(items)
        return
    output.rows(st, [_summary(ns) for ns in items], LIST_COLUMNS)


@app.command("get")
def get(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Namespace name.")]) -> None:
    """One namespace: its spec and version."""
    st = state(ctx)
    with AdminClient.for_profile(st.profile()) as admin:
        ns = admin.get(f"/v1/namespaces/{segment(name)}")
    output.record(st, ns)


@app.command("apply")
def apply(
    ctx: typer.Context,
    file: SpecFile,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
    ] = False,
    if_version: Annotated[
        int | None,
        typer.Option(
            "--if-version",
            help="Update only if the namespace is still at this version (else 409); "
            "one spec per file.",
        ),
    ] = None,
    wait: Wait = DEFAULT_WAIT_S,
) -> None:
    """Create or update namespaces from a YAML spec file and print the diff."""
    _apply(state(ctx), file, dry_run=dry_run, if_version=if_version, wait=wait)


@app.command("diff")
def diff(ctx: typer.Context, file: SpecFile) -> None:
    """What `apply -f FILE` would change (a dry-run apply)."""
    _apply(state(ctx), file, dry_run=True, if_version=None, wait=0)


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Namespace name.")],
    deprovision: Annotated[
        bool,
        typer.Option("--deprovision", help="Also drop the namespace's data in its backend."),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask before dropping data.")
    ] = False,
    wait: Wait = DEFAULT_WAIT_S,
) -> None:
    """Delete a namespace; its backend data stays unless --deprovision (asks first)."""
    st = state(ctx)
    params: dict[str, Any] = {}
    if deprovision:
        if not yes:
            typer.confirm(
                f"Drop all data of namespace {name!r} in its backend?", abort=True, err=True
            )
        params = {"deprovision": "true", "confirm": name}
    with AdminClient.for_profile(st.profile()) as admin:
        result = admin.delete(f"/v1/namespaces/{segment(name)}", **params)
        if wait:
            wait_for_proxies(admin, wait)
    what = "deleted, backend data dropped" if deprovision else "deleted, backend data kept"
    output.message(
        st, f"namespace {name}: {what}", result or {"name": name, "deprovisioned": deprovision}
    )


def _apply(st: State, file: Path, *, dry_run: bool, if_version: int | None, wait: float) -> None:
    specs = load_specs(file)
    if if_version is not None and len(specs) != 1:
        raise CtlError("--if-version takes a file with exactly one spec", exit_code=USAGE_ERROR)
    results: list[dict[str, Any]] = []
    with AdminClient.for_profile(st.profile()) as admin:
        for spec in specs:
            if if_version is not None:
                results.append(_update(admin, spec, if_version, dry_run))
                continue
            params = {"dry_run": "true"} if dry_run else {}
            answer = admin.post("/v1/namespaces:apply", spec, **params)
            results.append(_named(answer, spec))
        # Printed before waiting: the change is made even if a proxy is slow to run it.
        if st.json:
            output.print_json(results if len(results) > 1 else results[0])
        else:
            for result in results:
                _print_result(result, dry_run)
        if wait and not dry_run:
            wait_for_proxies(admin, wait)


def _update(admin: AdminClient, spec: dict[str, Any], version: int, dry_run: bool) -> Any:
    """An optimistic update through PUT {spec, version}: a stale version gets 409."""
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise CtlError("--if-version: the spec needs a `name`", exit_code=USAGE_ERROR)
    if dry_run:
        raise CtlError("--if-version cannot be combined with --dry-run", exit_code=USAGE_ERROR)
    answer = admin.put(f"/v1/namespaces/{segment(name)}", {"spec": spec, "version": version})
    return {"name": name, "action": "update", "namespace": answer}


def _named(answer: Any, spec: dict[str, Any]) -> dict[str, Any]:
    result = dict(answer) if isinstance(answer, dict) else {"result": answer}
    result.setdefault("name", spec.get("name"))
    return result


# The admin's `action` (create | update | unchanged), as the sentence prismctl prints.
_DONE = {"create": "created", "update": "updated", "unchanged": "unchanged"}
_WOULD = {"create": "would be created", "update": "would be updated", "unchanged": "unchanged"}


def _print_result(result: dict[str, Any], dry_run: bool) -> None:
    action = str(result.get("action") or "applied")
    verb = (_WOULD if dry_run else _DONE).get(action, action)
    version = result.get("version")
    if version is None and isinstance(result.get("namespace"), dict):
        version = result["namespace"].get("version")
    tail = f" (version {version})" if version is not None and not dry_run else ""
    con = output.console()
    con.print(f"namespace {result.get('name')}: {verb}{tail}", markup=False, highlight=False)
    for line in render_diff(result.get("diff")):
        con.print(line, markup=False, highlight=False, style=_style(line))


def _style(line: str) -> str | None:
    if line.startswith("+"):
        return "green"
    if line.startswith("-"):
        return "red"
    if line.startswith("~"):
        return "yellow"
    return None


def _items(data: Any) -> list[dict[str, Any]]:
    """The list answer: a bare array per RFC-001; tolerate an `{items: [...]}` wrapper."""
    if isinstance(data, dict):
        data = data.get("items", data.get("namespaces", []))
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []


def _summary(ns: dict[str, Any]) -> dict[str, Any]:
    spec = ns.get("spec") if isinstance(ns.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    patterns = spec.get("patterns") or ([spec["pattern"]] if spec.get("pattern") else [])
    return {
        "name": ns.get("name"),
        "patterns": patterns,
        "backend": spec.get("backend"),
        "version": ns.get("version"),
        "updated_at": ns.get("updated_at"),
    }
