"""Refusals name the field: unknown backend, pattern not served, feature not claimed,
bad plugin config, and pydantic errors on the spec itself."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import kv_spec


def problem_fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 422 and body["title"]
    return [e["field"] for e in body["errors"]]


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        (kv_spec("n1", backend="cassandra"), "backend", "unknown backend"),
        (
            {"name": "n2", "patterns": ["timeseries"], "backend": "kafka", "features": ["ttl"]},
            "features[0]",
            "does not claim 'ttl'",
        ),
        ({"name": "n3", "pattern": "keyvalue", "backend": "kafka"}, "patterns[0]", "serve"),
        (kv_spec("n4", config={"synchronous": "sometimes"}), "config.synchronous", "synchronous"),
        (kv_spec("n5", config={"colour": "blue"}), "config.colour", "unknown field"),
        (kv_spec("n6", features=["cas", "telepathy"]), "features[1]", "unknown feature"),
        (
            {"name": "n7", "patterns": ["keyvalue"], "backend": "memory", "config": {"x": 1}},
            "config",
            "memory",
        ),
    ],
)
def test_refused_naming_the_field(
    api: httpx.Client, spec: dict[str, Any], field: str, words: str
) -> None:
    response = api.post("/v1/namespaces", json=spec)
    assert problem_fields(response) == [field]
    assert words in response.json()["detail"]
    assert api.get(f"/v1/namespaces/{spec['name']}").status_code == 404


def test_spec_shape_errors_name_the_field(api: httpx.Client) -> None:
    bad_limit = kv_spec("x1", limits={"max_key_bytes": 0})
    assert problem_fields(api.post("/v1/namespaces", json=bad_limit)) == ["limits.max_key_bytes"]
    bad_name = kv_spec("has space")
    assert problem_fields(api.post("/v1/namespaces", json=bad_name)) == ["name"]
    typo = kv_spec("x2", limtis={})
    assert problem_fields(api.post("/v1/namespaces", json=typo)) == ["limtis"]
    bad_pattern = {"name": "x3", "patterns": ["graph"], "backend": "memory"}
    assert problem_fields(api.post("/v1/namespaces", json=bad_pattern)) == ["patterns[0]"]


def test_apply_validates_too(api: httpx.Client) -> None:
    spec = {"name": "k", "patterns": ["timeseries"], "backend": "kafka", "features": ["ttl"]}
    response = api.post("/v1/namespaces:apply", params={"dry_run": "true"}, json=spec)
    assert problem_fields(response) == ["features[0]"]
