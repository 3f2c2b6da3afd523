"""Read the `prism.*` options of the services in a CodeGeneratorRequest into plain data.

The options are read through a descriptor pool built from the request itself (which
carries prism/options.proto and descriptor.proto as dependencies), not through the
committed `prism.options_pb2`: so the generator always sees the options.proto that protoc
was given, even while `--check` regenerates everything in a temporary directory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.compiler import plugin_pb2
from google.protobuf.descriptor import FieldDescriptor

OPTIONS_PROTO = "prism/options.proto"
PERMISSION_PREFIX = "PERMISSION_"
_CAPABILITY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")  # short: it names enum members
_VERSION = re.compile(r"^v\d+\w*$")


class SpecError(Exception):
    """An annotated proto the generator refuses (reported through protoc, which fails)."""


@dataclass(frozen=True)
class Rpc:
    name: str
    path: str
    permission: str  # "READ", "WRITE", ... (the prism.Permission name without its prefix)
    idempotent: bool
    cacheable: bool
    capability: str
    op: str  # bridge op, "" when no Python plugin serves the RPC
    plugin_method: str


@dataclass(frozen=True)
class Op:
    name: str
    method: str
    capability: str
    rpcs: tuple[str, ...]


@dataclass(frozen=True)
class Service:
    source: str  # the .proto file, relative to the include root
    full_name: str  # prism.keyvalue.v1.KeyValue
    name: str  # KeyValue
    pattern: str  # keyvalue
    capabilities: tuple[str, ...]  # declaration order: methods' first, then the service's
    rpcs: tuple[Rpc, ...]  # sorted by name
    ops: tuple[Op, ...]  # sorted by name


@dataclass(frozen=True)
class Model:
    permissions: tuple[str, ...]  # every prism.Permission but UNSPECIFIED, in number order
    services: tuple[Service, ...]  # sorted by pattern

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(sorted(s.source for s in self.services))


class _Options:
    """Decodes MethodOptions/ServiceOptions with the prism extensions of one request."""

    def __init__(self, request: plugin_pb2.CodeGeneratorRequest) -> None:
        names = {f.name for f in request.proto_file}
        if OPTIONS_PROTO not in names:
            raise SpecError(f"{OPTIONS_PROTO} is not among the protos given to protoc")
        self.pool = descriptor_pool.DescriptorPool()
        for file in request.proto_file:  # dependencies come before their dependents
            self.pool.Add(file)
        # Building the classes registers the extensions on this pool's option messages.
        classes = message_factory.GetMessageClassesForFiles(sorted(names), self.pool)
        self._method_cls = classes["google.protobuf.MethodOptions"]
        self._service_cls = classes["google.protobuf.ServiceOptions"]

    def _ext(self, name: str) -> FieldDescriptor:
        return self.pool.FindExtensionByName(f"prism.{name}")

    def method(self, options: Any) -> Any:
        return self._method_cls.FromString(options.SerializeToString())

    def service(self, options: Any) -> Any:
        return self._service_cls.FromString(options.SerializeToString())

    def get(self, message: Any, name: str) -> Any:
        return message.Extensions[self._ext(name)]

    def permission_name(self, number: int) -> str:
        name: str = self._ext("permission").enum_type.values_by_number[number].name
        return name.removeprefix(PERMISSION_PREFIX)

    def permissions(self) -> tuple[str, ...]:
        enum = self.pool.FindEnumTypeByName("prism.Permission")
        values = sorted(enum.values, key=lambda v: v.number)
        return tuple(v.name.removeprefix(PERMISSION_PREFIX) for v in values if v.number != 0)


def pattern_of(package: str) -> str:
    """`prism.keyvalue.v1` -> `keyvalue`: the last package part that is not a version."""
    parts = [p for p in package.split(".") if not _VERSION.match(p)]
    if not parts:
        raise SpecError(f"cannot name a pattern after package {package!r}")
    return parts[-1]


def _check_capability(where: str, capability: str) -> str:
    if not _CAPABILITY.match(capability):
        raise SpecError(f"{where}: capability {capability!r} must match {_CAPABILITY.pattern}")
    return capability


def _rpc(opts: _Options, service_path: str, method: Any) -> Rpc:
    where = f"{service_path}/{method.name}"
    options = opts.method(method.options)
    permission_number = opts.get(options, "permission")
    # An RPC without a permission would be authorized by nothing: refuse it here.
    if permission_number == 0:
        raise SpecError(f"{where}: (prism.permission) is missing")
    capability = opts.get(options, "capability")
    if not capability:
        raise SpecError(f"{where}: (prism.capability) is missing")
    plugin_op = opts.get(options, "plugin_op")
    if bool(plugin_op.op) != bool(plugin_op.method):
        raise SpecError(f"{where}: (prism.plugin_op) needs both op and method")
    return Rpc(
        name=method.name,
        path=where,
        permission=opts.permission_name(permission_number),
        idempotent=bool(opts.get(options, "idempotent")),
        cacheable=bool(opts.get(options, "cacheable")),
        capability=_check_capability(where, capability),
        op=plugin_op.op,
        plugin_method=plugin_op.method,
    )


def _ops(service_path: str, rpcs: list[Rpc], capabilities: tuple[str, ...]) -> tuple[Op, ...]:
    """Group RPCs by bridge op. An op needs the least capability among its RPCs (by
    declaration order, so "core" when any core RPC uses it): a backend serving only the
    core must still implement it."""
    by_op: dict[str, list[Rpc]] = {}
    for rpc in rpcs:
        if rpc.op:
            by_op.setdefault(rpc.op, []).append(rpc)
    ops = []
    for name, members in sorted(by_op.items()):
        methods = sorted({r.plugin_method for r in members})
        if len(methods) != 1:
            raise SpecError(f"{service_path}: op {name!r} maps to several methods {methods}")
        needed = min((r.capability for r in members), key=capabilities.index)
        ops.append(Op(name, methods[0], needed, tuple(sorted(r.name for r in members))))
    return tuple(ops)


def _service(opts: _Options, file: Any, service: Any) -> Service:
    full_name = f"{file.package}.{service.name}" if file.package else service.name
    rpcs = [_rpc(opts, f"/{full_name}", m) for m in service.method]
    extra = [
        _check_capability(full_name, c)
        for c in opts.get(opts.service(service.options), "capabilities")
    ]
    # dict.fromkeys keeps the first occurrence: a stable, meaningful order (core first).
    capabilities = tuple(dict.fromkeys([r.capability for r in rpcs] + extra))
    return Service(
        source=file.name,
        full_name=full_name,
        name=service.name,
        pattern=pattern_of(file.package),
        capabilities=capabilities,
        rpcs=tuple(sorted(rpcs, key=lambda r: r.name)),
        ops=_ops(full_name, rpcs, capabilities),
    )


def read(request: plugin_pb2.CodeGeneratorRequest) -> Model:
    """The services of the files to generate, with their prism options."""
    opts = _Options(request)
    wanted = set(request.file_to_generate)
    services = [
        _service(opts, file, service)
        for file in request.proto_file
        if file.name in wanted
        for service in file.service
    ]
    if not services:
        raise SpecError("no service among the files to generate")
    services.sort(key=lambda s: s.pattern)
    patterns = [s.pattern for s in services]
    if len(set(patterns)) != len(patterns):
        raise SpecError(f"one service per pattern expected, got patterns {patterns}")
    owners: dict[str, str] = {}
    for service in services:
        for op in service.ops:
            if owners.setdefault(op.name, service.full_name) != service.full_name:
                raise SpecError(f"op {op.name!r} is used by {owners[op.name]} and {service.name}")
    return Model(permissions=opts.permissions(), services=tuple(services))
