"""Annotated user messages (`prism.*` options in proto/prism/options.proto) read from a
FileDescriptorSet: what the admin checks before binding a schema to a namespace and what
`prismctl schema spec` turns into a namespace spec.

Options are read through a fresh DescriptorPool, so every file the set names must be in
it; the two files every annotated proto imports (google/protobuf/descriptor.proto and
prism/options.proto) are added when the set lacks them, and `complete` returns the set
with them, so the Rust core always gets a self-contained set. Errors are SchemaError
with a message that says what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError

from prism import options_pb2  # registers the prism.* extensions before any parsing

_KNOWN_DEPS = {
    "google/protobuf/descriptor.proto": descriptor_pb2.DESCRIPTOR,
    "prism/options.proto": options_pb2.DESCRIPTOR,
}
# Field options that make a field PII: encrypted at rest, masked for readers without pii_read.
PII_OPTIONS = ("pii", "encrypt_at_rest")
_TYPE_NAMES = {
    v: k.removeprefix("TYPE_").lower()
    for k, v in vars(FieldDescriptor).items()
    if k.startswith("TYPE_") and isinstance(v, int)
}


class SchemaError(ValueError):
    """The descriptors or the message name are not usable; the message says why."""


@dataclass
class FieldInfo:
    path: str  # dotted through nested message fields, e.g. "home.street"
    number: int
    type: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def is_pii(self) -> bool:
        return any(self.options.get(o) for o in PII_OPTIONS)


@dataclass
class MessageInfo:
    name: str
    file: str
    options: dict[str, Any]
    fields: list[FieldInfo]

    @property
    def pii_fields(self) -> list[str]:
        return [f.path for f in self.fields if f.is_pii]

    @property
    def indexes(self) -> list[str]:
        return [f.path for f in self.fields if f.options.get("index")]


def parse_set(data: bytes) -> descriptor_pb2.FileDescriptorSet:
    try:
        fds = descriptor_pb2.FileDescriptorSet.FromString(data)
    except DecodeError as err:
        raise SchemaError(f"not a serialized google.protobuf.FileDescriptorSet ({err})") from err
    if not fds.file:
        raise SchemaError("the FileDescriptorSet holds no files")
    return fds


def complete(fds: descriptor_pb2.FileDescriptorSet) -> descriptor_pb2.FileDescriptorSet:
    """`fds` plus the well-known dependencies it imports but lacks, dependencies first."""
    present = {f.name for f in fds.file}
    added: list[descriptor_pb2.FileDescriptorProto] = []
    wanted = [dep for f in fds.file for dep in f.dependency]
    while wanted:  # transitively: prism/options.proto imports descriptor.proto
        name = wanted.pop()
        if name in present or name not in _KNOWN_DEPS:
            continue
        proto = descriptor_pb2.FileDescriptorProto()
        _KNOWN_DEPS[name].CopyToProto(proto)
        present.add(name)
        added.append(proto)
        wanted.extend(proto.dependency)
    out = descriptor_pb2.FileDescriptorSet()
    out.file.extend(reversed(added))  # dependencies first
    out.file.extend(fds.file)
    return out


def build_pool(fds: descriptor_pb2.FileDescriptorSet) -> descriptor_pool.DescriptorPool:
    """A pool of every file of `fds` (complete it first); SchemaError names a missing import."""
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()
    pending = list(fds.file)
    # Files may come in any order: add each once all its imports are in.
    while pending:
        ready = [f for f in pending if all(d in added for d in f.dependency)]
        if not ready:
            missing = sorted(
                {d for f in pending for d in f.dependency if d not in added}
                - {f.name for f in pending}
            )
            what = (
                f"imports {', '.join(missing)}, which the set does not contain"
                if missing
                else "has an import cycle"
            )
            raise SchemaError(
                f"{pending[0].name} {what}; compile with --include_imports "
                "(prismctl schema bind does)"
            )
        for file in ready:
            try:
                pool.Add(file)
            except (TypeError, ValueError) as err:
                raise SchemaError(f"{file.name}: {err}") from err
            added.add(file.name)
            pending.remove(file)
    return pool


def find_message(pool: descriptor_pool.DescriptorPool, fds: Any, name: str) -> Descriptor:
    try:
        return pool.FindMessageTypeByName(name)
    except KeyError:
        known = sorted(message_names(fds))
        hint = f" (messages in the set: {', '.join(known[:20])})" if known else ""
        raise SchemaError(f"message {name!r} not found{hint}") from None


def message_names(fds: descriptor_pb2.FileDescriptorSet, skip_known: bool = True) -> list[str]:
    """Full names of the top-level messages of the user's files."""
    names: list[str] = []
    for file in fds.file:
        if skip_known and file.name in _KNOWN_DEPS:
            continue
        prefix = f"{file.package}." if file.package else ""
        names.extend(prefix + m.name for m in file.message_type)
    return names


def describe(message: Descriptor) -> MessageInfo:
    return MessageInfo(
        name=message.full_name,
        file=message.file.name,
        options=_message_options(message),
        fields=list(_fields(message, "", {message.full_name})),
    )


def load(data: bytes, message: str) -> tuple[descriptor_pb2.FileDescriptorSet, MessageInfo]:
    """Parse, complete and check a set; the completed set and the message's description."""
    fds = complete(parse_set(data))
    pool = build_pool(fds)
    return fds, describe(find_message(pool, fds, message))


# ---- options ----------------------------------------------------------------------------


def _enum_name(enum: Any, value: int, prefix: str) -> str:
    return str(enum.Name(value)).removeprefix(prefix).lower()


def _message_options(message: Descriptor) -> dict[str, Any]:
    opts = message.GetOptions()
    out: dict[str, Any] = {}
    ext = options_pb2
    if opts.HasExtension(ext.namespace):
        out["namespace"] = opts.Extensions[ext.namespace]
    if opts.HasExtension(ext.backend):
        out["backend"] = opts.Extensions[ext.backend]
    if opts.HasExtension(ext.consistency):
        value = opts.Extensions[ext.consistency]
        if value:
            out["consistency"] = _enum_name(options_pb2.Consistency, value, "CONSISTENCY_")
    if opts.HasExtension(ext.cache):
        cache = opts.Extensions[ext.cache]
        out["cache"] = {
            "enabled": cache.enabled,
            "max_entries": cache.max_entries,
            "max_bytes": cache.max_bytes,
            "ttl_seconds": cache.ttl_seconds,
        }
    if opts.HasExtension(ext.retention):
        out["retention"] = {"days": opts.Extensions[ext.retention].days}
    if opts.HasExtension(ext.access_pattern):
        value = opts.Extensions[ext.access_pattern]
        if value:
            out["access_pattern"] = _enum_name(options_pb2.AccessPattern, value, "ACCESS_PATTERN_")
    if opts.HasExtension(ext.estimated_rps):
        out["estimated_rps"] = opts.Extensions[ext.estimated_rps]
    return out


def _field_options(fd: FieldDescriptor) -> dict[str, Any]:
    opts = fd.GetOptions()
    out: dict[str, Any] = {}
    for name in ("index", "pii", "encrypt_at_rest", "mask_in_logs"):
        ext = getattr(options_pb2, name)
        if opts.HasExtension(ext) and opts.Extensions[ext]:
            out[name] = True
    if opts.HasExtension(options_pb2.validation):
        rule = opts.Extensions[options_pb2.validation]
        out["validation"] = {k: v for k, v in (("regex", rule.regex), ("format", rule.format)) if v}
    if opts.HasExtension(options_pb2.max_length):
        out["max_length"] = opts.Extensions[options_pb2.max_length]
    return out


def _fields(message: Descriptor, prefix: str, seen: set[str]) -> Any:
    """Fields in number order; nested messages (and map values) contribute their fields
    as `outer.inner` (once per path: a recursive type stops at its second appearance)."""
    for fd in sorted(message.fields, key=lambda f: f.number):
        path = f"{prefix}{fd.name}"
        nested = fd.message_type
        is_map = nested is not None and nested.GetOptions().map_entry
        kind = "message" if nested is not None else _TYPE_NAMES.get(fd.type, str(fd.type))
        if nested is not None and not is_map:
            kind = nested.full_name
        if is_map:
            kind = "map"
        yield FieldInfo(path=path, number=fd.number, type=kind, options=_field_options(fd))
        if is_map:
            # A map's PII lives in its value message (the core seals it there too).
            nested, path = nested.fields_by_name["value"].message_type, f"{path}.value"
        if nested is not None and nested.full_name not in seen:
            yield from _fields(nested, f"{path}.", seen | {nested.full_name})
