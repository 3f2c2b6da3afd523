"""AdminServer: starts on a free port, and names the address when the port is taken."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from conftest import settings_for
from prism.admin.server import AdminServer


def test_server_start_names_a_taken_address(tmp_path: Path) -> None:
    with AdminServer(settings_for(tmp_path / "a")) as first:
        port = int(first.address.rsplit(":", 1)[1])
        second = AdminServer(settings_for(tmp_path / "b", port=port))
        with pytest.raises(OSError, match=f"127.0.0.1:{port}"):
            second.start()
        second.stop()
        with httpx.Client(trust_env=False) as plain:
            assert plain.get(f"{first.url}/healthz").status_code == 200
