"""A namespace's schema (ADR-010): bind an annotated message, show it, rotate its data key.

    PUT  /v1/namespaces/{name}/schema             {descriptor_set: base64, message}
    GET  /v1/namespaces/{name}/schema
    POST /v1/namespaces/{name}/schema/rotate-key

Binding checks the FileDescriptorSet (it must build and hold the message), completes it
with the well-known files it imports, and stores it in the namespace spec; proxies get it
with the live config. The first binding of a message with PII fields (`prism.pii` or
`prism.encrypt_at_rest`) creates data key version 1; a later binding keeps the keys, so
data written under an earlier schema stays readable. Rotation adds the next version, which
encrypts new writes; old versions stay for reading. Answers show key versions, never keys.
There is no unbind: data encrypted under the keys would become unreadable.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from cryptography.exceptions import InvalidTag
from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from prism import protoschema
from prism.admin import keys
from prism.admin.auth import Operator, StoreDep, Viewer
from prism.admin.problems import Problem, invalid, responses
from prism.admin.settings import AdminSettings, get_settings
from prism.admin.spec import NAME_PATTERN

router = APIRouter(prefix="/v1", tags=["schema"], responses=responses(401, 403, 404, 422))
Settings = Annotated[AdminSettings, Depends(get_settings)]
Name = Annotated[str, Path(pattern=NAME_PATTERN)]
MAX_DESCRIPTOR_BYTES = 4 << 20


class SchemaBind(BaseModel):
    descriptor_set: str = Field(
        max_length=MAX_DESCRIPTOR_BYTES * 4 // 3 + 4,
        description="A serialized google.protobuf.FileDescriptorSet, base64 "
        "(protoc --include_imports --descriptor_set_out).",
    )
    message: str = Field(
        min_length=1, max_length=512, description="Full name of the value message."
    )


class SchemaField(BaseModel):
    path: str
    number: int
    type: str
    options: dict[str, Any]


class SchemaView(BaseModel):
    namespace: str
    #: The namespace's version after the change (or as read).
    version: int
    message: str
    file: str
    options: dict[str, Any]
    fields: list[SchemaField]
    pii_fields: list[str]
    indexes: list[str]
    key_versions: list[int]
    #: The version that encrypts new writes (the highest); None without PII fields.
    active_key_version: int | None


@router.put("/namespaces/{name}/schema", responses=responses(409))
async def bind_schema(
    name: Name, body: SchemaBind, who: Operator, store: StoreDep, settings: Settings
) -> SchemaView:
    """Bind a message to the namespace's values (creates data key 1 when it has PII)."""
    try:
        data = base64.b64decode(body.descriptor_set, validate=True)
    except (binascii.Error, ValueError) as err:
        raise invalid("descriptor_set", f"not base64: {err}") from err
    fds, info = _load(data, body.message)
    current = await _namespace(store, name)
    stored = current["spec"].get("schema") or {}
    data_keys = list(stored.get("data_keys") or [])
    if info.pii_fields and not data_keys:
        master = _master_key(settings)
        data_keys = [{"version": 1, "wrapped": keys.new_wrapped_key(master, name, 1)}]
    schema = {
        "descriptor_set": base64.b64encode(fds.SerializeToString()).decode("ascii"),
        "message": info.name,
        "data_keys": data_keys,
    }
    row = await run_in_threadpool(
        store.update_namespace,
        name,
        {**current["spec"], "schema": schema},
        current["version"],
        who.name,
        "namespace.schema.bind",
    )
    return _view(name, row["version"], info, data_keys)


@router.get("/namespaces/{name}/schema")
async def get_schema(name: Name, _: Viewer, store: StoreDep) -> SchemaView:
    """The bound message, its PII fields and the data key versions (never the keys)."""
    current = await _namespace(store, name)
    schema = _bound(current, name)
    fds, info = _load(base64.b64decode(schema["descriptor_set"]), schema["message"])
    return _view(name, current["version"], info, schema.get("data_keys") or [])


@router.post("/namespaces/{name}/schema/rotate-key", responses=responses(409))
async def rotate_key(name: Name, who: Operator, store: StoreDep, settings: Settings) -> SchemaView:
    """Add the next data key version: new writes use it, older versions still decrypt."""
    current = await _namespace(store, name)
    schema = dict(_bound(current, name))
    data_keys = list(schema.get("data_keys") or [])
    master = _master_key(settings)
    if data_keys:
        latest = max(data_keys, key=lambda k: int(k["version"]))
        try:
            keys.unwrap(master, name, int(latest["version"]), str(latest["wrapped"]))
        except (InvalidTag, ValueError, binascii.Error) as err:
            raise Problem(
                409,
                f"the master key does not unwrap data key version {latest['version']} of "
                f"namespace {name!r}: it is not the key the namespace's keys were wrapped "
                "with; set the original PRISM_MASTER_KEY",
            ) from err
    version = max((int(k["version"]) for k in data_keys), default=0) + 1
    data_keys.append({"version": version, "wrapped": keys.new_wrapped_key(master, name, version)})
    schema["data_keys"] = data_keys
    row = await run_in_threadpool(
        store.update_namespace,
        name,
        {**current["spec"], "schema": schema},
        current["version"],
        who.name,
        "namespace.schema.rotate_key",
    )
    _, info = _load(base64.b64decode(schema["descriptor_set"]), schema["message"])
    return _view(name, row["version"], info, data_keys)


# ---- helpers ----------------------------------------------------------------------------


def _load(data: bytes, message: str) -> tuple[Any, protoschema.MessageInfo]:
    if len(data) > MAX_DESCRIPTOR_BYTES:
        raise invalid("descriptor_set", f"larger than {MAX_DESCRIPTOR_BYTES} bytes")
    try:
        fds = protoschema.complete(protoschema.parse_set(data))
        pool = protoschema.build_pool(fds)
    except protoschema.SchemaError as err:
        raise invalid("descriptor_set", str(err)) from err
    try:
        return fds, protoschema.describe(protoschema.find_message(pool, fds, message))
    except protoschema.SchemaError as err:
        raise invalid("message", str(err)) from err


async def _namespace(store: StoreDep, name: str) -> dict[str, Any]:
    row = await run_in_threadpool(store.get_namespace, name)
    if row is None:
        raise Problem(404, f"namespace {name!r} not found")
    return row


def _bound(current: dict[str, Any], name: str) -> dict[str, Any]:
    schema = current["spec"].get("schema")
    if not isinstance(schema, dict):
        raise Problem(
            404, f"namespace {name!r} has no schema: bind one with PUT /v1/namespaces/{name}/schema"
        )
    return schema


def _master_key(settings: AdminSettings) -> bytes:
    try:
        return keys.master_key(settings.master_key_env, settings.master_key_file)
    except keys.MasterKeyError as err:
        raise Problem(409, f"cannot create a data key: {err}") from err


def _view(
    name: str, version: int, info: protoschema.MessageInfo, data_keys: list[dict[str, Any]]
) -> SchemaView:
    versions = sorted(int(k["version"]) for k in data_keys)
    return SchemaView(
        namespace=name,
        version=version,
        message=info.name,
        file=info.file,
        options=info.options,
        fields=[
            SchemaField(path=f.path, number=f.number, type=f.type, options=f.options)
            for f in info.fields
        ],
        pii_fields=info.pii_fields,
        indexes=info.indexes,
        key_versions=versions,
        active_key_version=versions[-1] if versions else None,
    )
