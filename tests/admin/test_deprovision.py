"""Deleting drops backend data only with deprovision=true and confirm=<name>."""

from __future__ import annotations

import httpx
from conftest import kv_spec
from prism.admin.server import AdminServer


def test_deprovision_needs_confirm(api: httpx.Client, admin: AdminServer) -> None:
    api.post("/v1/namespaces", json=kv_spec("dp"))
    db_file = admin.settings.data_dir / "dp.db"
    assert db_file.exists()
    for params in ({"deprovision": "true"}, {"deprovision": "true", "confirm": "other"}):
        refused = api.delete("/v1/namespaces/dp", params=params)
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "confirm"
    assert api.get("/v1/namespaces/dp").status_code == 200
    assert db_file.exists()

    done = api.delete("/v1/namespaces/dp", params={"deprovision": "true", "confirm": "dp"})
    assert done.status_code == 204, done.text
    assert api.get("/v1/namespaces/dp").status_code == 404
    assert not db_file.exists()
    assert not (admin.settings.data_dir / "dp.db-wal").exists()


def test_deprovision_unsupported_backend_is_501(api: httpx.Client, admin: AdminServer) -> None:
    # Creating a Kafka namespace through the API would need a broker to provision; the
    # store's own create (what the API calls after provisioning) records it without one.
    spec = {
        "name": "events",
        "patterns": ["timeseries"],
        "backend": "kafka",
        "config": {"bootstrap": "127.0.0.1:1"},
    }
    admin.app.state.store.create_namespace(spec, actor="test")
    refused = api.delete(
        "/v1/namespaces/events", params={"deprovision": "true", "confirm": "events"}
    )
    assert refused.status_code == 501
    assert refused.json()["detail"] == "deprovision not supported by backend kafka"
    assert api.get("/v1/namespaces/events").status_code == 200  # nothing was deleted
    assert api.delete("/v1/namespaces/events").status_code == 204  # plain delete still works
