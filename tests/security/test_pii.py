"""PII from proto annotations (ADR-011), end to end on PostgreSQL and Redis: a schema
bound through the admin makes the gateway check every write against the message, seal
the `prism.pii` / `prism.encrypt_at_rest` fields with the namespace's data key, show them
in plaintext to pii-read holders and masked to every other reader. The raw backend
(the PostgreSQL row, the Redis hash) holds no PII plaintext; key rotation keeps old
values readable."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest
import redis
from compileproto import Compiled, compile_proto
from helpers.oidc import HS256_SECRET, claims, mint
from helpers.pki import Pki
from helpers.rpc import kvpb, timestamp, tspb
from helpers.server import ServerProcess
from prism_postgres.provisioning import sanitize
from sectools import (
    Admin,
    Caller,
    audit_block,
    audit_lines,
    jwt_auth,
    proto_fields,
    running,
    secret_env,
    stack_url,
    tls_credentials,
)

MESSAGE = "prismtest.pii.v1.Customer"
RUN = uuid.uuid4().hex[:8]  # the stack outlives runs: fresh tables and key prefixes
PG_NS, RDS_NS = f"pii_pg_{RUN}", f"pii_rds_{RUN}"
ENVELOPE_FIELD = 536870911  # ADR-011: the sealed PII travels in this field
# A live change reaches the proxy well within a second; the budget absorbs a stalled machine.
APPLY_BUDGET_S = 10.0
ACCESS = {"read": ["alice", "bob"], "write": ["alice"], "pii_read": ["alice"]}
MASK = "***"


@pytest.fixture(scope="module")
def urls(backend_stack: dict[str, str]) -> dict[str, str]:
    return {
        "postgres": stack_url(backend_stack, "PRISM_POSTGRES_URL"),
        "redis": stack_url(backend_stack, "PRISM_REDIS_URL"),
    }


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Compiled:
    return compile_proto("customer.proto", tmp_path_factory.mktemp("proto"))


@pytest.fixture(scope="module")
def audit_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pii-audit") / "audit.jsonl"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, pki: Pki, urls: dict[str, str], audit_path: Path
) -> Iterator[ServerProcess]:
    namespaces = [
        {
            "name": PG_NS,
            "patterns": ["keyvalue", "timeseries"],
            "backend": "postgres",
            "config": {"url": urls["postgres"]},
            "access": ACCESS,
        },
        {
            "name": RDS_NS,
            "patterns": ["keyvalue", "timeseries"],
            "backend": "redis",
            "config": {"url": urls["redis"]},
            "access": ACCESS,
        },
    ]
    proc = ServerProcess(
        tmp_path_factory.mktemp("pii-server"),
        namespaces,
        server={"auth": jwt_auth(pki, None), "audit": audit_block(audit_path)},
        env=secret_env(),
        credentials=tls_credentials(pki),
    )
    with running(proc):
        yield proc


def user(server: ServerProcess, pki: Pki, sub: str) -> Caller:
    token = mint(claims(sub), secret=HS256_SECRET)
    return Caller(server.address, tls_credentials(pki), token=token)


@pytest.fixture(scope="module")
def alice(server: ServerProcess, pki: Pki) -> Iterator[Caller]:
    with user(server, pki, "alice") as c:
        yield c


@pytest.fixture(scope="module")
def bob(server: ServerProcess, pki: Pki) -> Iterator[Caller]:
    with user(server, pki, "bob") as c:
        yield c


def wait_until(check: Callable[[], bool], what: str, budget: float = APPLY_BUDGET_S) -> None:
    deadline = time.monotonic() + budget
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {budget:.0f}s"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def bound(server: ServerProcess, compiled: Compiled, alice: Caller) -> dict[str, Any]:
    """Bind the Customer schema to both namespaces; wait until the proxy enforces it."""
    admin = Admin.of(server)
    views = {}
    body = {
        "descriptor_set": base64.b64encode(compiled.descriptor_set).decode(),
        "message": MESSAGE,
    }
    for ns in (PG_NS, RDS_NS):
        admin.namespace(ns)  # applied from the config file by now
        views[ns] = admin.ok("PUT", f"/v1/namespaces/{ns}/schema", body)

        def enforced(ns: str = ns) -> bool:
            try:
                alice.put(ns, b"probe", b"\xff\xff\xff")  # not a Customer
                return False
            except grpc.RpcError as err:
                return err.code() == grpc.StatusCode.INVALID_ARGUMENT

        wait_until(enforced, f"schema of {ns} enforced by the proxy")
    return views


SECRETS: dict[str, str] = {
    "email": "ada.secret@example.org",
    "full_name": "Ada Zyxwvut Lovelace",
    "national_id": "NID-77aa31-secret",
    "street": "12 Hiddenway Lane",
}
PHONES = ["+44-7700-900123", "+44-7700-900456"]
PUBLIC = {"id": "cust-1", "plan": "plan-gold-visible", "city": "Publicville"}


def customer(compiled: Compiled, suffix: str = "") -> Any:
    cls = compiled.message(MESSAGE)
    msg = cls(
        id=PUBLIC["id"] + suffix,
        email=SECRETS["email"] + suffix,
        full_name=SECRETS["full_name"] + suffix,
        national_id=SECRETS["national_id"] + suffix,
        birth_year=1815,
        plan=PUBLIC["plan"],
        phones=[p + suffix for p in PHONES],
    )
    msg.address.street = SECRETS["street"] + suffix
    msg.address.city = PUBLIC["city"]
    return msg


def secret_strings(msg: Any) -> list[bytes]:
    return [
        s.encode()
        for s in [msg.email, msg.full_name, msg.national_id, *msg.phones, msg.address.street]
    ]


def raw_value(urls: dict[str, str], ns: str, key: bytes) -> bytes:
    """The stored value bytes, read straight from the backend."""
    if ns == PG_NS:
        table = psycopg.sql.Identifier(f"kv_{sanitize(ns)}")
        with psycopg.connect(urls["postgres"], autocommit=True) as conn:
            row = conn.execute(
                psycopg.sql.SQL("SELECT value FROM {} WHERE key = %s").format(table), (key,)
            ).fetchone()
        assert row is not None, f"no PostgreSQL row for {key!r}"
        return bytes(row[0])
    client: Any = redis.Redis.from_url(urls["redis"])
    try:
        value = client.hget(f"prism:{ns}:kv:".encode() + key, "val")
    finally:
        client.close()
    assert value is not None, f"no Redis item for {key!r}"
    return bytes(value)


def raw_namespace_dump(urls: dict[str, str], ns: str) -> bytes:
    """Everything the backend holds for the namespace, concatenated."""
    if ns == PG_NS:
        table = psycopg.sql.Identifier(f"kv_{sanitize(ns)}")
        with psycopg.connect(urls["postgres"], autocommit=True) as conn:
            rows = conn.execute(psycopg.sql.SQL("SELECT key, value FROM {}").format(table))
            return b"".join(bytes(k) + bytes(v) for k, v in rows.fetchall())
    client: Any = redis.Redis.from_url(urls["redis"])
    try:
        out = b""
        for name in client.scan_iter(match=f"prism:{ns}:*".encode()):
            kind = client.type(name)
            if kind == b"hash":
                out += b"".join(k + v for k, v in client.hgetall(name).items())
            elif kind == b"string":
                out += client.get(name) or b""
            elif kind == b"zset":
                out += b"".join(m for m, _ in client.zrange(name, 0, -1, withscores=True))
            out += name
        return out
    finally:
        client.close()


def envelope_version(raw: bytes) -> int:
    """The data key version in the envelope header of a stored value (ADR-011)."""
    envelopes = [v for n, v in proto_fields(raw) if n == ENVELOPE_FIELD]
    assert len(envelopes) == 1, f"{len(envelopes)} envelope fields in the stored value"
    envelope = envelopes[0]
    assert isinstance(envelope, bytes) and envelope[:1] == b"\x01", "unknown envelope format"
    return int.from_bytes(envelope[1:5], "big")


NAMESPACES = [PG_NS, RDS_NS]
IDS = ["postgres", "redis"]


def test_schema_binding_reports_the_pii_fields(bound: dict[str, Any]) -> None:
    for view in bound.values():
        pii = set(view["pii_fields"])
        assert {"email", "full_name", "national_id", "birth_year", "phones"} <= pii, pii
        assert any(p.endswith("street") for p in pii) and not any(
            p.endswith("city") or p in ("id", "plan") for p in pii
        ), pii
        assert view["key_versions"] == [1] and view["active_key_version"] == 1


@pytest.mark.parametrize("ns", NAMESPACES, ids=IDS)
def test_pii_is_ciphertext_in_the_backend(
    bound: dict[str, Any], compiled: Compiled, alice: Caller, urls: dict[str, str], ns: str
) -> None:
    msg = customer(compiled, "-raw")
    key = b"customer/raw-" + RUN.encode()
    alice.put(ns, key, msg.SerializeToString())
    raw = raw_value(urls, ns, key)
    for secret in secret_strings(msg):
        assert secret not in raw, f"{secret!r} in plaintext in the {ns} row"
    # It is the right row: the public fields are there, readable without any key.
    stored = compiled.message(MESSAGE).FromString(raw)
    assert stored.plan == PUBLIC["plan"] and stored.address.city == PUBLIC["city"]
    assert stored.email == "" and stored.birth_year == 0 and not stored.phones
    dump = raw_namespace_dump(urls, ns)
    for secret in secret_strings(msg):
        assert secret not in dump, f"{secret!r} somewhere in the {ns} backend data"


@pytest.mark.parametrize("ns", NAMESPACES, ids=IDS)
def test_pii_reader_sees_plaintext_others_see_masks(
    bound: dict[str, Any], compiled: Compiled, alice: Caller, bob: Caller, ns: str
) -> None:
    cls = compiled.message(MESSAGE)
    msg = customer(compiled, "-read")
    key = b"customer/read-" + RUN.encode()
    alice.put(ns, key, msg.SerializeToString())
    assert cls.FromString(alice.get(ns, key).item.value) == msg

    masked = cls.FromString(bob.get(ns, key).item.value)
    assert masked.email == MASK and masked.full_name == MASK and masked.national_id == MASK
    assert list(masked.phones) == [MASK, MASK] and masked.address.street == MASK
    assert masked.birth_year == 0, "a non-string PII field must read as its default"
    assert (masked.id, masked.plan, masked.address.city) == (msg.id, msg.plan, msg.address.city)

    # Batch and scan reads go through the same policy.
    batch = bob.call("BatchGet", kvpb.BatchGetRequest(namespace=ns, keys=[key]))
    assert cls.FromString(batch.items[0].value).email == MASK
    scan = bob.call("Scan", kvpb.ScanRequest(namespace=ns, prefix=b"customer/read-", limit=10))
    assert [cls.FromString(i.value).email for i in scan.items] == [MASK]
    scan = alice.call("Scan", kvpb.ScanRequest(namespace=ns, prefix=b"customer/read-", limit=10))
    assert [cls.FromString(i.value) for i in scan.items] == [msg]


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


@pytest.mark.parametrize("ns", NAMESPACES, ids=IDS)
@pytest.mark.parametrize(
    ("value", "names"),
    [
        (_varint(2 << 3 | 0) + _varint(5), "email"),  # email sent as a varint
        (b"\x0a\x02id" + _varint(99 << 3 | 2) + b"\x01x", "99"),  # undeclared field 99
        (_varint(3 << 3 | 2) + b"\x05\xffab\xfe\xff", "full_name"),  # not UTF-8
        (_varint(8 << 3 | 2) + b"\x03\x0a\x05x", "address"),  # truncated nested message
    ],
    ids=["wrong-wire-type", "unknown-field", "bad-utf8", "truncated-nested"],
)
def test_write_not_matching_the_schema_is_invalid_argument(
    bound: dict[str, Any], alice: Caller, ns: str, value: bytes, names: str
) -> None:
    key = b"customer/bad-" + names.encode()
    err = alice.refused(
        "Put", kvpb.PutRequest(namespace=ns, key=key, value=value), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert names in (err.details() or ""), f"the field is not named: {err.details()!r}"
    assert not alice.get(ns, key).found, "the refused value was stored"


@pytest.mark.parametrize("ns", NAMESPACES, ids=IDS)
def test_key_rotation_keeps_old_values_readable(
    server: ServerProcess,
    bound: dict[str, Any],
    compiled: Compiled,
    alice: Caller,
    bob: Caller,
    urls: dict[str, str],
    ns: str,
) -> None:
    cls = compiled.message(MESSAGE)
    old, new = customer(compiled, "-old"), customer(compiled, "-new")
    old_key, new_key = b"rot/old-" + RUN.encode(), b"rot/new-" + RUN.encode()
    alice.put(ns, old_key, old.SerializeToString())
    before = envelope_version(raw_value(urls, ns, old_key))

    view = Admin.of(server).ok("POST", f"/v1/namespaces/{ns}/schema/rotate-key")
    assert view["active_key_version"] == before + 1, view
    assert before in view["key_versions"], view

    def new_key_in_use() -> bool:
        alice.put(ns, new_key, new.SerializeToString())
        return envelope_version(raw_value(urls, ns, new_key)) == before + 1

    wait_until(new_key_in_use, f"data key version {before + 1} used for writes on {ns}")
    assert envelope_version(raw_value(urls, ns, old_key)) == before
    assert cls.FromString(alice.get(ns, old_key).item.value) == old
    assert cls.FromString(alice.get(ns, new_key).item.value) == new
    assert cls.FromString(bob.get(ns, old_key).item.value).email == MASK
    for key, msg in ((old_key, old), (new_key, new)):
        raw = raw_value(urls, ns, key)
        assert not any(s in raw for s in secret_strings(msg)), f"plaintext PII in {key!r}"


def test_envelope_moved_to_another_row_does_not_open(
    bound: dict[str, Any], compiled: Compiled, alice: Caller, urls: dict[str, str]
) -> None:
    # Someone with write access to the database copies a sealed value to another key.
    msg = customer(compiled, "-moved")
    src, dst = b"moved/src-" + RUN.encode(), b"moved/dst-" + RUN.encode()
    alice.put(PG_NS, src, msg.SerializeToString())
    alice.put(PG_NS, dst, customer(compiled, "-other").SerializeToString())
    table = psycopg.sql.Identifier(f"kv_{sanitize(PG_NS)}")
    with psycopg.connect(urls["postgres"], autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL("UPDATE {} SET value = %s WHERE key = %s").format(table),
            (raw_value(urls, PG_NS, src), dst),
        )
    # ADR-011: the AAD binds the row, so the envelope does not open under another key.
    err = alice.refused("Get", kvpb.GetRequest(namespace=PG_NS, key=dst), grpc.StatusCode.INTERNAL)
    message = err.details() or ""
    assert "decrypt" in message and PG_NS in message, message
    assert msg.email not in message


@pytest.mark.parametrize("ns", NAMESPACES, ids=IDS)
def test_time_series_payloads_are_sealed_and_masked_too(
    bound: dict[str, Any],
    compiled: Compiled,
    alice: Caller,
    bob: Caller,
    urls: dict[str, str],
    ns: str,
) -> None:
    cls = compiled.message(MESSAGE)
    msg = customer(compiled, "-event")
    series = f"customers-{RUN}"
    now = datetime.now(UTC)
    event = tspb.Event(
        series_id=series, event_time=timestamp(now), event_id="e1", payload=msg.SerializeToString()
    )
    alice.call("TimeSeries/Append", tspb.AppendRequest(namespace=ns, events=[event]))
    query = tspb.QueryRequest(
        namespace=ns,
        series_id=series,
        start=timestamp(now - timedelta(minutes=1)),
        end=timestamp(now + timedelta(minutes=1)),
    )
    plain = alice.call("TimeSeries/Query", query).events
    assert [cls.FromString(e.payload) for e in plain] == [msg]
    masked = bob.call("TimeSeries/Query", query).events
    assert [cls.FromString(e.payload).email for e in masked] == [MASK]
    dump = raw_namespace_dump(urls, ns) if ns == RDS_NS else raw_ts_payloads(urls, ns)
    for secret in secret_strings(msg):
        assert secret not in dump, f"{secret!r} in plaintext in the {ns} series"
    assert PUBLIC["plan"].encode() in dump, "the series rows were not found in the backend"


def raw_ts_payloads(urls: dict[str, str], ns: str) -> bytes:
    table = psycopg.sql.Identifier(f"ts_{sanitize(ns)}")
    with psycopg.connect(urls["postgres"], autocommit=True) as conn:
        rows = conn.execute(psycopg.sql.SQL("SELECT payload FROM {}").format(table)).fetchall()
    return b"".join(bytes(r[0]) for r in rows)


def test_no_pii_in_audit_log_or_server_log(
    server: ServerProcess, bound: dict[str, Any], audit_path: Path, compiled: Compiled
) -> None:
    lines = audit_lines(audit_path)
    assert lines, "no audit lines at all"
    text = audit_path.read_text() + server.log_text() + server.metrics()
    for suffix in ("-raw", "-read", "-old", "-new", "-moved", "-event"):
        for secret in secret_strings(customer(compiled, suffix)):
            assert secret.decode() not in text, f"PII {secret!r} in the audit log or server log"
