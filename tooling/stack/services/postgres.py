"""PostgreSQL (Debian `postgresql`) on 127.0.0.1:25432, database `prism` owned by `prism`.

Runs as the `postgres` OS user when we are root (PostgreSQL refuses to run as root), with
trust authentication for TCP from 127.0.0.1 only and no Unix socket (a socket path under a
deep repo path can exceed the 107-byte limit, and nothing here needs one).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from ..process import ServiceError, as_user
from .base import HOST, Say, Service

DB = USER = "prism"


def bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<ver>/bin (Debian keeps server binaries off PATH)."""
    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "postgres").exists()]
    return max(found, key=lambda p: int(p.parent.name), default=None) if found else None


def _bin(name: str) -> str:
    d = bin_dir()
    if d is None:
        raise ServiceError("PostgreSQL server binaries not found under /usr/lib/postgresql")
    return str(d / name)


class Postgres(Service):
    name = "postgres"
    env_var = "PRISM_POSTGRES_URL"
    port = 25432
    # SIGINT is PostgreSQL's "fast" shutdown: it disconnects clients. SIGTERM ("smart")
    # would wait for every pooled connection to close on its own.
    stop_signal = signal.SIGINT

    @property
    def user(self) -> str | None:  # type: ignore[override]
        return "postgres" if os.geteuid() == 0 else None

    def url(self) -> str:
        return f"postgresql://{USER}@{HOST}:{self.port}/{DB}"

    def missing_packages(self) -> list[str]:
        return ["postgresql"] if bin_dir() is None else []

    def prepare(self, data: Path, say: Say) -> None:
        pgdata = data / "pgdata"
        if (pgdata / "PG_VERSION").exists():
            # After a kill, postmaster.pid stays behind; if its pid is reused by then,
            # PostgreSQL refuses to start. api checked our port is free: it is stale.
            (pgdata / "postmaster.pid").unlink(missing_ok=True)
            return
        data.mkdir(parents=True, exist_ok=True)
        self._own(data)
        say(f"initdb {pgdata}")
        out = self._run(
            [_bin("initdb"), "-D", str(pgdata), "-U", "postgres", "--auth=trust",
             "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"],
        )  # fmt: skip
        if out.returncode != 0:
            raise ServiceError(f"initdb failed:\n{out.stdout}{out.stderr}")
        # Trust TCP from 127.0.0.1 only; with no Unix socket, there is no `local` line.
        (pgdata / "pg_hba.conf").write_text(
            "# written by tooling/stack: throw-away test server, loopback only\n"
            "host all all 127.0.0.1/32 trust\n"
        )
        self._own(data)

    def command(self, data: Path) -> list[str]:
        return [
            _bin("postgres"),
            "-D", str(data / "pgdata"),
            "-c", f"listen_addresses={HOST}",
            "-c", f"port={self.port}",
            "-c", "unix_socket_directories=",
            "-c", "max_connections=200",  # conformance + resilience tests pool connections
            "-c", "fsync=on",  # acknowledged commits must survive a kill
        ]  # fmt: skip

    def ready(self, data: Path) -> bool:
        return self._admin("select 1").stdout.strip() == "1"

    def after_ready(self, data: Path, say: Say) -> None:
        if self._admin(f"select 1 from pg_roles where rolname='{USER}'").stdout.strip() != "1":
            self._check(self._admin(f"create role {USER} login"))
        if self._admin(f"select 1 from pg_database where datname='{DB}'").stdout.strip() != "1":
            say(f"creating database {DB} owned by {USER}")
            self._check(self._admin(f"create database {DB} owner {USER}"))
        # The real readiness: the URL we hand out answers `select 1`.
        if self._psql(USER, DB, "select 1").stdout.strip() != "1":
            raise ServiceError(f"postgres: `select 1` as {USER} on {DB} failed")

    def _admin(self, sql: str) -> subprocess.CompletedProcess[str]:
        return self._psql("postgres", "postgres", sql)

    def _psql(self, user: str, db: str, sql: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [_bin("psql"), "-h", HOST, "-p", str(self.port), "-U", user, "-d", db,
             "-X", "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql],
            capture_output=True, text=True, timeout=10,
            env={**os.environ, "PGCONNECT_TIMEOUT": "2"},
        )  # fmt: skip

    @staticmethod
    def _check(out: subprocess.CompletedProcess[str]) -> None:
        if out.returncode != 0:
            raise ServiceError(f"postgres setup failed: {out.stderr.strip()}")

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            argv, capture_output=True, text=True, cwd="/", **as_user(self.user)
        )

    def _own(self, data: Path) -> None:
        if self.user is None:
            return
        shutil.chown(data, self.user, self.user)
        for path in data.rglob("*"):
            shutil.chown(path, self.user, self.user)
        data.chmod(0o700)
