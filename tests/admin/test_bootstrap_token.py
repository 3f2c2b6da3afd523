"""Without PRISM_ADMIN_TOKEN the first start generates an admin token, prints it once to
stderr and stores only its hash; later starts print nothing."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from conftest import client_for, settings_for
from prism.admin.server import AdminServer
from sqlalchemy import create_engine, text


def test_generated_once(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    settings = settings_for(tmp_path, bootstrap_token=None)
    with AdminServer(settings) as server:
        err = capfd.readouterr().err
        match = re.search(r"^prism: admin token \(shown once\): (\S+)$", err, re.MULTILINE)
        assert match, err
        token = match.group(1)
        with client_for(server, token) as api:
            assert api.get("/v1/tokens").status_code == 200
    engine = create_engine(f"sqlite:///{tmp_path / 'admin.db'}")
    with engine.connect() as conn:
        hashes = [row[0] for row in conn.execute(text("SELECT hash FROM tokens"))]
    engine.dispose()
    assert hashes == [hashlib.sha256(token.encode()).hexdigest()]  # the hash, not the token

    with AdminServer(settings_for(tmp_path, bootstrap_token=None)) as again:
        assert "admin token" not in capfd.readouterr().err
        with client_for(again, token) as api:
            assert api.get("/v1/namespaces").status_code == 200
