"""Transactions over the admin tables.

Every namespace mutation, in ONE transaction: the row change, the config version bump
(+1) and an audit row with before and after. Updates are optimistic: the caller names the
version it read and a stale version is a 409. Token mutations are audited too; proxy
heartbeats are not mutations of config and are neither versioned nor audited. With an
`audit_log`, each committed mutation is also appended there as a JSON line.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from prism.admin.audit_log import AuditLog
from prism.admin.db.tables import audit, config_state, namespaces, proxies, tokens
from prism.admin.problems import Problem

Record = dict[str, Any]


def now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes: they were stored as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Store:
    def __init__(self, engine: Engine, audit_log: AuditLog | None = None) -> None:
        self.engine = engine
        self.audit_log = audit_log
        #: Called with the new config version after each committed namespace mutation.
        self.listeners: list[Callable[[int], None]] = []

    # ---- config version ---------------------------------------------------------------

    def config_version(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(config_state.c.version)).scalar_one())

    def snapshot(self) -> tuple[int, list[Record]]:
        """The config version and every namespace, read in one transaction."""
        with self.engine.begin() as conn:
            version = int(conn.execute(select(config_state.c.version)).scalar_one())
            rows = conn.execute(select(namespaces).order_by(namespaces.c.name)).mappings()
            return version, [_namespace(r) for r in rows]

    def _bump(self, conn: Connection) -> int:
        conn.execute(update(config_state).values(version=config_state.c.version + 1))
        return int(conn.execute(select(config_state.c.version)).scalar_one())

    def _logged(self, actor: str, action: str, target: str) -> None:
        """After the commit: a rolled-back mutation leaves no line."""
        if self.audit_log is not None:
            self.audit_log.write(actor, action, target)

    def _notify(self, version: int) -> None:
        for listener in list(self.listeners):
            listener(version)

    # ---- namespaces -------------------------------------------------------------------

    def list_namespaces(self) -> list[Record]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(namespaces).order_by(namespaces.c.name)).mappings()
            return [_namespace(r) for r in rows]

    def get_namespace(self, name: str) -> Record | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(namespaces).where(namespaces.c.name == name)).mappings()
            found = row.first()
            return _namespace(found) if found else None

    def create_namespace(self, spec: Record, actor: str) -> Record:
        name = spec["name"]
        at = now()
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(namespaces).values(
                        name=name, spec=spec, version=1, created_at=at, updated_at=at
                    )
                )
                version = self._bump(conn)
                _audit(conn, actor, "namespace.create", name, None, spec)
        except IntegrityError as err:
            raise Problem(409, f"namespace {name!r} already exists") from err
        self._logged(actor, "namespace.create", name)
        self._notify(version)
        return {"name": name, "spec": spec, "version": 1, "created_at": at, "updated_at": at}

    def update_namespace(
        self, name: str, spec: Record, version: int, actor: str, action: str = "namespace.update"
    ) -> Record:
        at = now()
        with self.engine.begin() as conn:
            current = (
                conn.execute(select(namespaces).where(namespaces.c.name == name)).mappings().first()
            )
            if current is None:
                raise Problem(404, f"namespace {name!r} not found")
            result = conn.execute(
                update(namespaces)
                .where(namespaces.c.name == name, namespaces.c.version == version)
                .values(spec=spec, version=version + 1, updated_at=at)
            )
            if result.rowcount != 1:
                raise Problem(
                    409,
                    f"namespace {name!r} is at version {current['version']}, not {version}: "
                    "read it again and retry",
                )
            config_version = self._bump(conn)
            _audit(conn, actor, action, name, current["spec"], spec)
        self._logged(actor, action, name)
        self._notify(config_version)
        return {**_namespace(current), "spec": spec, "version": version + 1, "updated_at": at}

    def delete_namespace(self, name: str, actor: str) -> Record:
        with self.engine.begin() as conn:
            current = (
                conn.execute(select(namespaces).where(namespaces.c.name == name)).mappings().first()
            )
            if current is None:
                raise Problem(404, f"namespace {name!r} not found")
            conn.execute(delete(namespaces).where(namespaces.c.name == name))
            config_version = self._bump(conn)
            _audit(conn, actor, "namespace.delete", name, current["spec"], None)
        self._logged(actor, "namespace.delete", name)
        self._notify(config_version)
        return _namespace(current)

    # ---- tokens -----------------------------------------------------------------------

    def count_tokens(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(tokens)).scalar_one())

    def create_token(self, name: str, role: str, actor: str) -> tuple[Record, str]:
        """A new token; the secret is returned once and only its hash is kept."""
        token_id = secrets.token_hex(8)
        secret = f"prism_{secrets.token_urlsafe(32)}"
        record = {"id": token_id, "name": name, "role": role, "created_at": now()}
        with self.engine.begin() as conn:
            conn.execute(insert(tokens).values(**record, hash=hash_token(secret)))
            _audit(conn, actor, "token.create", token_id, None, _token_json(record))
        self._logged(actor, "token.create", token_id)
        return record, secret

    def find_token(self, secret: str) -> Record | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(tokens.c.id, tokens.c.name, tokens.c.role, tokens.c.created_at).where(
                        tokens.c.hash == hash_token(secret)
                    )
                )
                .mappings()
                .first()
            )
            return dict(row) if row else None

    def list_tokens(self) -> list[Record]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(tokens.c.id, tokens.c.name, tokens.c.role, tokens.c.created_at).order_by(
                    tokens.c.created_at, tokens.c.id
                )
            ).mappings()
            return [{**r, "created_at": aware(r["created_at"])} for r in rows]

    def delete_token(self, token_id: str, actor: str) -> None:
        with self.engine.begin() as conn:
            row = conn.execute(select(tokens).where(tokens.c.id == token_id)).mappings().first()
            if row is None:
                raise Problem(404, f"token {token_id!r} not found")
            conn.execute(delete(tokens).where(tokens.c.id == token_id))
            _audit(conn, actor, "token.delete", token_id, _token_json(dict(row)), None)
        self._logged(actor, "token.delete", token_id)

    # ---- audit ------------------------------------------------------------------------

    def list_audit(self, limit: int, before_id: int | None, target: str | None) -> list[Record]:
        query = select(audit).order_by(audit.c.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(audit.c.id < before_id)
        if target is not None:
            query = query.where(audit.c.target == target)
        with self.engine.connect() as conn:
            return [{**r, "at": aware(r["at"])} for r in conn.execute(query).mappings()]

    # ---- proxies ----------------------------------------------------------------------

    def heartbeat(
        self, proxy_id: str, address: str, metrics_address: str | None, config_version: int
    ) -> Record:
        record = {
            "id": proxy_id,
            "address": address,
            "metrics_address": metrics_address,
            "config_version": config_version,
            "last_seen": now(),
        }
        with self.engine.begin() as conn:
            result = conn.execute(update(proxies).where(proxies.c.id == proxy_id).values(**record))
            if result.rowcount == 0:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(proxies).values(**record))
                except IntegrityError:  # a concurrent first heartbeat of the same proxy
                    conn.execute(update(proxies).where(proxies.c.id == proxy_id).values(**record))
        return record

    def list_proxies(self) -> list[Record]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(proxies).order_by(proxies.c.id)).mappings()
            return [{**r, "last_seen": aware(r["last_seen"])} for r in rows]


def _namespace(row: Any) -> Record:
    return {
        "name": row["name"],
        "spec": row["spec"],
        "version": int(row["version"]),
        "created_at": aware(row["created_at"]),
        "updated_at": aware(row["updated_at"]),
    }


def _token_json(record: Record) -> Record:
    return {"id": record["id"], "name": record["name"], "role": record["role"]}


def _audit(conn: Connection, actor: str, action: str, target: str, before: Any, after: Any) -> None:
    conn.execute(
        insert(audit).values(
            at=now(), actor=actor, action=action, target=target, before=before, after=after
        )
    )
