"""Schema binding (ADR-010): PUT/GET /v1/namespaces/{name}/schema and rotate-key on a real
admin. Data keys are made and wrapped with the master key, shown only by version, delivered
to proxies through /v1/config, and cannot be set through the namespace API."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import client_for, kv_spec
from cryptography.exceptions import InvalidTag
from google.protobuf import descriptor_pb2
from prism import options_pb2
from prism.admin import keys
from prism.admin.server import AdminServer

MASTER = os.urandom(32)
FIELD = descriptor_pb2.FieldDescriptorProto


def user_set(*, pii: bool = True, extra_import: str | None = None) -> str:
    """acme.v1.User {id (index), email (pii), note}, base64; without the files it imports,
    which the admin adds (prism/options.proto, google/protobuf/descriptor.proto)."""
    fdp = descriptor_pb2.FileDescriptorProto(
        name="acme/user.proto", package="acme.v1", syntax="proto3"
    )
    fdp.dependency.append("prism/options.proto")
    if extra_import:
        fdp.dependency.append(extra_import)
    user = fdp.message_type.add(name="User")
    user.options.Extensions[options_pb2.namespace] = "users"
    for number, name in enumerate(("id", "email", "note"), start=1):
        user.field.add(name=name, number=number, type=FIELD.TYPE_STRING, label=FIELD.LABEL_OPTIONAL)
    user.field[0].options.Extensions[options_pb2.index] = True
    if pii:
        user.field[1].options.Extensions[options_pb2.pii] = True
    fdp.message_type.add(name="Other").field.add(
        name="x", number=1, type=FIELD.TYPE_INT64, label=FIELD.LABEL_OPTIONAL
    )
    fds = descriptor_pb2.FileDescriptorSet(file=[fdp])
    return base64.b64encode(fds.SerializeToString()).decode()


@pytest.fixture(autouse=True)
def master_key(monkeypatch: pytest.MonkeyPatch) -> bytes:
    # The admin runs in this process (a uvicorn thread) and reads the key per request.
    monkeypatch.setenv("PRISM_MASTER_KEY", base64.b64encode(MASTER).decode())
    monkeypatch.delenv("PRISM_MASTER_KEY_FILE", raising=False)
    return MASTER


@pytest.fixture
def users(api: httpx.Client) -> httpx.Client:
    assert api.post("/v1/namespaces", json=kv_spec("users")).status_code == 201
    return api


def bind(api: httpx.Client, message: str = "acme.v1.User", **kw: Any) -> httpx.Response:
    return api.put(
        "/v1/namespaces/users/schema",
        json={"descriptor_set": user_set(**kw), "message": message},
    )


def stored_keys(api: httpx.Client, name: str = "users") -> list[dict[str, object]]:
    """The data keys as proxies receive them (the live config)."""
    config = api.get("/v1/config").json()
    (entry,) = [n for n in config["namespaces"] if n["name"] == name]
    return list(entry["spec"]["schema"]["data_keys"])


def test_bind_makes_key_1_and_never_shows_it(users: httpx.Client) -> None:
    before = users.get("/v1/namespaces/users").json()["version"]
    response = bind(users)
    assert response.status_code == 200, response.text
    view = response.json()
    assert view["message"] == "acme.v1.User"
    assert view["pii_fields"] == ["email"]
    assert view["indexes"] == ["id"]
    assert view["key_versions"] == [1]
    assert view["active_key_version"] == 1
    assert view["options"] == {"namespace": "users"}
    assert view["version"] == before + 1

    (key,) = stored_keys(users)
    wrapped = str(key["wrapped"])
    data_key = keys.unwrap(MASTER, "users", 1, wrapped)
    assert len(data_key) == 32
    with pytest.raises(InvalidTag):  # the AAD binds the key to its namespace
        keys.unwrap(MASTER, "other", 1, wrapped)

    # Nowhere else does the wrapped key appear: schema view, namespace, list, audit.
    for path in ("/v1/namespaces/users/schema", "/v1/namespaces/users", "/v1/namespaces"):
        text = users.get(path).text
        assert wrapped not in text, path
    ns = users.get("/v1/namespaces/users").json()
    assert ns["spec"]["schema"]["data_keys"] == [{"version": 1, "wrapped": None}]
    audit = users.get("/v1/audit", params={"target": "users"})
    assert wrapped not in audit.text
    assert audit.json()[0]["action"] == "namespace.schema.bind"

    # The stored set is self-contained: the admin added the files the user's set imports.
    stored = users.get("/v1/config").json()["namespaces"][0]["spec"]["schema"]
    fds = descriptor_pb2.FileDescriptorSet.FromString(base64.b64decode(stored["descriptor_set"]))
    assert [f.name for f in fds.file] == [
        "google/protobuf/descriptor.proto",
        "prism/options.proto",
        "acme/user.proto",
    ]


def test_rotate_adds_a_version_and_keeps_the_old(users: httpx.Client) -> None:
    assert bind(users).status_code == 200
    response = users.post("/v1/namespaces/users/schema/rotate-key")
    assert response.status_code == 200, response.text
    assert response.json()["key_versions"] == [1, 2]
    assert response.json()["active_key_version"] == 2
    stored = {int(str(k["version"])): str(k["wrapped"]) for k in stored_keys(users)}
    assert set(stored) == {1, 2}
    assert keys.unwrap(MASTER, "users", 1, stored[1]) != keys.unwrap(MASTER, "users", 2, stored[2])
    assert users.get("/v1/namespaces/users/schema").json()["key_versions"] == [1, 2]


def test_rebinding_keeps_the_keys(users: httpx.Client) -> None:
    assert bind(users).status_code == 200
    first = stored_keys(users)
    again = bind(users, "acme.v1.Other", pii=False)
    assert again.status_code == 200, again.text
    assert again.json()["message"] == "acme.v1.Other"
    assert again.json()["pii_fields"] == []
    assert stored_keys(users) == first  # data written under the old schema stays readable


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (
            {"descriptor_set": "@@not base64@@", "message": "acme.v1.User"},
            "descriptor_set",
            "base64",
        ),
        (
            {"descriptor_set": base64.b64encode(b"\xff\xffjunk").decode(), "message": "a.B"},
            "descriptor_set",
            "FileDescriptorSet",
        ),
        ({"descriptor_set": user_set(), "message": "acme.v1.Nope"}, "message", "acme.v1.User"),
        (
            {"descriptor_set": user_set(extra_import="acme/missing.proto"), "message": "a.B"},
            "descriptor_set",
            "--include_imports",
        ),
    ],
)
def test_bad_schemas_are_422_naming_the_field(
    users: httpx.Client, body: dict[str, str], field: str, words: str
) -> None:
    response = users.put("/v1/namespaces/users/schema", json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["errors"][0]["field"] == field
    assert words in problem["detail"]
    assert users.get("/v1/namespaces/users").json()["version"] == 1  # nothing stored


def test_without_a_master_key_pii_binding_is_refused(
    users: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PRISM_MASTER_KEY")
    response = bind(users)
    assert response.status_code == 409
    assert "PRISM_MASTER_KEY" in response.json()["detail"]
    assert users.get("/v1/namespaces/users").json()["version"] == 1
    # A message without PII fields needs no data key, hence no master key.
    plain = bind(users, pii=False)
    assert plain.status_code == 200, plain.text
    assert plain.json()["key_versions"] == []


def test_rotation_with_another_master_key_is_refused(
    users: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert bind(users).status_code == 200
    monkeypatch.setenv("PRISM_MASTER_KEY", os.urandom(32).hex())  # hex works too
    response = users.post("/v1/namespaces/users/schema/rotate-key")
    assert response.status_code == 409
    assert "does not unwrap data key version 1" in response.json()["detail"]
    assert len(stored_keys(users)) == 1


def test_namespace_api_cannot_set_the_schema_or_its_keys(users: httpx.Client) -> None:
    assert bind(users).status_code == 200
    original = stored_keys(users)
    ns = users.get("/v1/namespaces/users").json()
    spec = ns["spec"]
    spec["schema"]["data_keys"] = [{"version": 1, "wrapped": "ZXZpbA=="}, {"version": 9}]
    spec["limits"]["max_key_bytes"] = 77
    response = users.put("/v1/namespaces/users", json={"spec": spec, "version": ns["version"]})
    assert response.status_code == 200, response.text
    assert response.json()["spec"]["limits"]["max_key_bytes"] == 77
    assert stored_keys(users) == original
    # apply too (an unchanged schema is no diff), and create refuses a schema outright
    applied = users.post("/v1/namespaces:apply", json={**spec, "schema": None})
    assert applied.status_code == 200 and applied.json()["action"] == "unchanged"
    assert stored_keys(users) == original
    refused = users.post("/v1/namespaces", json={**kv_spec("fresh"), "schema": spec["schema"]})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "schema"


def test_schema_endpoints_check_roles_and_existence(
    admin: AdminServer, users: httpx.Client, token_for: Callable[[str], str]
) -> None:
    assert users.get("/v1/namespaces/users/schema").status_code == 404  # none bound
    assert users.get("/v1/namespaces/ghost/schema").status_code == 404
    assert users.post("/v1/namespaces/users/schema/rotate-key").status_code == 404
    with client_for(admin, token_for("viewer")) as viewer:
        refused = viewer.put(
            "/v1/namespaces/users/schema",
            json={"descriptor_set": user_set(), "message": "acme.v1.User"},
        )
        assert refused.status_code == 403
        assert bind(users).status_code == 200
        assert viewer.get("/v1/namespaces/users/schema").json()["pii_fields"] == ["email"]
