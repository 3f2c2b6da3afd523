"""Namespaces: create (provisions), get, list, update (optimistic), delete (deprovisions
only when confirmed) and apply (create-or-update with a dry-run diff).

The `schema` block is managed by the schema router (it makes the data keys): bodies here
may not create one, updates keep the stored one, and answers never show wrapped keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from prism.admin.auth import Operator, StoreDep, Viewer
from prism.admin.diff import FieldChange, diff
from prism.admin.problems import Problem, invalid, responses
from prism.admin.provisioning import deprovision, provision, supports_deprovision
from prism.admin.settings import AdminSettings, get_settings
from prism.admin.spec import NAME_PATTERN, NamespaceSpec, NamespaceUpdate, SchemaSpec, redact
from prism.admin.validation import normalize, validate

router = APIRouter(prefix="/v1", tags=["namespaces"], responses=responses(401, 403, 422))
Settings = Annotated[AdminSettings, Depends(get_settings)]
Name = Annotated[str, Path(pattern=NAME_PATTERN)]


class NamespaceRecord(BaseModel):
    name: str
    spec: NamespaceSpec
    version: int
    created_at: datetime
    updated_at: datetime


class ApplyResult(BaseModel):
    action: Literal["create", "update", "unchanged"]
    diff: list[FieldChange]
    dry_run: bool
    namespace: NamespaceRecord | None = None


def _record(row: dict[str, Any]) -> NamespaceRecord:
    return NamespaceRecord.model_validate({**row, "spec": redact(row["spec"])})


def _no_schema(spec: NamespaceSpec) -> None:
    if spec.schema_ is not None:
        raise invalid(
            "schema",
            f"bind a schema with PUT /v1/namespaces/{spec.name}/schema "
            "(or `prismctl schema bind`) once the namespace exists",
        )


def _keep_schema(spec: NamespaceSpec, stored: dict[str, Any]) -> NamespaceSpec:
    """The stored schema and data keys, whatever the body said (it may be a redacted copy)."""
    raw = stored.get("schema")
    schema = SchemaSpec.model_validate(raw) if isinstance(raw, dict) else None
    return spec.model_copy(update={"schema_": schema})


async def _load(store: StoreDep, name: str) -> dict[str, Any]:
    row = await run_in_threadpool(store.get_namespace, name)
    if row is None:
        raise Problem(404, f"namespace {name!r} not found")
    return row


@router.get("/namespaces")
async def list_namespaces(_: Viewer, store: StoreDep) -> list[NamespaceRecord]:
    return [_record(r) for r in await run_in_threadpool(store.list_namespaces)]


@router.post("/namespaces", status_code=201, responses=responses(409, 502, 503))
async def create_namespace(
    spec: NamespaceSpec, who: Operator, store: StoreDep, settings: Settings
) -> NamespaceRecord:
    _no_schema(spec)
    spec = normalize(spec, settings.data_dir)
    cls = validate(spec)
    if await run_in_threadpool(store.get_namespace, spec.name) is not None:
        raise Problem(409, f"namespace {spec.name!r} already exists")
    await provision(cls, spec, settings.provision_timeout_s)
    row = await run_in_threadpool(store.create_namespace, spec.model_dump(mode="json"), who.name)
    return _record(row)


@router.get("/namespaces/{name}", responses=responses(404))
async def get_namespace(name: Name, _: Viewer, store: StoreDep) -> NamespaceRecord:
    return _record(await _load(store, name))


@router.put("/namespaces/{name}", responses=responses(404, 409, 502, 503))
async def update_namespace(
    name: Name, body: NamespaceUpdate, who: Operator, store: StoreDep, settings: Settings
) -> NamespaceRecord:
    if body.spec.name != name:
        raise invalid("spec.name", f"must equal the namespace in the path ({name!r})")
    spec = normalize(body.spec, settings.data_dir)
    cls = validate(spec)
    current = await _load(store, name)
    if current["version"] != body.version:
        raise Problem(
            409, f"namespace {name!r} is at version {current['version']}, not {body.version}"
        )
    spec = _keep_schema(spec, current["spec"])
    await _provision_if_moved(cls, current["spec"], spec, settings)
    row = await run_in_threadpool(
        store.update_namespace, name, spec.model_dump(mode="json"), body.version, who.name
    )
    return _record(row)


@router.delete("/namespaces/{name}", status_code=204, responses=responses(404, 501, 502, 503))
async def delete_namespace(
    name: Name,
    who: Operator,
    store: StoreDep,
    deprovision_data: Annotated[
        bool, Query(alias="deprovision", description="Also drop the backend data.")
    ] = False,
    confirm: Annotated[
        str | None, Query(description="The namespace name again, required to deprovision.")
    ] = None,
) -> Response:
    if deprovision_data and confirm != name:
        raise invalid("confirm", f"deprovision=true needs confirm={name} (the namespace name)")
    current = await _load(store, name)
    spec = NamespaceSpec.model_validate(current["spec"])
    cls = None
    if deprovision_data:
        cls = validate(spec)
        if cls is not None and not supports_deprovision(cls):
            raise Problem(501, f"deprovision not supported by backend {spec.backend}")
    await run_in_threadpool(store.delete_namespace, name, who.name)
    if deprovision_data:
        # After the delete: proxies drop the namespace before its data goes.
        await deprovision(cls, spec)
    return Response(status_code=204)


@router.post("/namespaces:apply", responses=responses(409, 502, 503))
async def apply_namespace(
    spec: NamespaceSpec,
    who: Operator,
    store: StoreDep,
    settings: Settings,
    dry_run: Annotated[bool, Query(description="Only validate and show the diff.")] = False,
) -> ApplyResult:
    spec = normalize(spec, settings.data_dir)
    cls = validate(spec)
    current = await run_in_threadpool(store.get_namespace, spec.name)
    if current is None:
        _no_schema(spec)
    else:
        spec = _keep_schema(spec, current["spec"])
    after = spec.model_dump(mode="json")
    if current is None:
        changes = diff(None, after)
        if dry_run:
            return ApplyResult(action="create", diff=changes, dry_run=True)
        await provision(cls, spec, settings.provision_timeout_s)
        row = await run_in_threadpool(store.create_namespace, after, who.name)
        return ApplyResult(action="create", diff=changes, dry_run=False, namespace=_record(row))
    changes = diff(current["spec"], after)
    if not changes:
        return ApplyResult(action="unchanged", diff=[], dry_run=dry_run, namespace=_record(current))
    if dry_run:
        return ApplyResult(action="update", diff=changes, dry_run=True, namespace=_record(current))
    await _provision_if_moved(cls, current["spec"], spec, settings)
    # The version read above: a concurrent writer in between makes this a 409.
    row = await run_in_threadpool(
        store.update_namespace, spec.name, after, current["version"], who.name
    )
    return ApplyResult(action="update", diff=changes, dry_run=False, namespace=_record(row))


async def _provision_if_moved(
    cls: Any, before: dict[str, Any], spec: NamespaceSpec, settings: AdminSettings
) -> None:
    """Provision again when the data moves (another backend, config or pattern)."""
    moved = (
        before.get("backend") != spec.backend
        or before.get("config") != spec.config
        or before.get("patterns") != list(spec.patterns)
    )
    if moved:
        await provision(cls, spec, settings.provision_timeout_s)
