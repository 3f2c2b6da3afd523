"""Render the Python side of the prism codegen: python/prism/plugins/generated/.

One module per pattern (capability enum, RPC metadata, bridge dispatch table), `common.py`
(the shared record types and the Permission enum of options.proto) and `__init__.py`
(every pattern's tables merged, as the plugin host uses them). The text is formatted by
construction the way `ruff format` would, so the generated code passes ruff unchanged.
"""

from __future__ import annotations

from tooling.codegen.header import header
from tooling.codegen.prism_model import OPTIONS_PROTO, Model, Service

PACKAGE_DIR = "python/prism/plugins/generated"
PACKAGE = "prism.plugins.generated"
_LINE = 100


def enum_class(service: Service) -> str:
    return f"{service.name}Capability"


def _member(capability: str) -> str:
    return capability.upper()


def _tuple(items: tuple[str, ...]) -> str:
    """A tuple literal of strings, with the trailing comma a 1-tuple needs."""
    inner = ", ".join(f'"{item}"' for item in items)
    return f"({inner},)" if len(items) == 1 else f"({inner})"


def _from_import(module: str, names: list[str]) -> str:
    """One `from` import, wrapped like isort/ruff when it does not fit on a line."""
    line = f"from {module} import {', '.join(names)}\n"
    if len(line) - 1 <= _LINE:
        return line
    return f"from {module} import (\n" + "".join(f"    {n},\n" for n in names) + ")\n"


def pattern_module(service: Service) -> str:
    cls = enum_class(service)
    out = [
        header((service.source,)),
        f'"""The {service.pattern} pattern as {service.source} declares it: its capabilities,\n'
        'the prism options of each RPC and the plugin dispatch table."""\n\n'
        "from __future__ import annotations\n\n"
        "from collections.abc import Mapping\n"
        "from enum import StrEnum\n\n"
        + _from_import(f"{PACKAGE}.common", ["MethodInfo", "OpInfo", "Permission"])
        + "\n"
        f'PATTERN = "{service.pattern}"\n'
        f'SERVICE = "{service.full_name}"\n\n\n'
        f"class {cls}(StrEnum):\n"
        f'    """Capabilities of the {service.pattern} pattern, in declaration order."""\n\n',
    ]
    out += [f'    {_member(c)} = "{c}"\n' for c in service.capabilities]
    out.append("\n\n#: RPC name -> the prism options of that RPC.\n")
    out.append("METHODS: Mapping[str, MethodInfo] = {\n")
    for rpc in service.rpcs:
        out.append(
            f'    "{rpc.name}": MethodInfo(\n'
            f'        name="{rpc.name}",\n'
            f'        path="{rpc.path}",\n'
            f"        permission=Permission.{rpc.permission},\n"
            f"        idempotent={rpc.idempotent},\n"
            f"        cacheable={rpc.cacheable},\n"
            f"        capability={cls}.{_member(rpc.capability)},\n"
            f'        op="{rpc.op}",\n'
            "    ),\n"
        )
    out.append("}\n\n")
    out.append(
        "#: Bridge op -> the plugin method serving it, the capability a backend needs for it\n"
        "#: (the least among the RPCs using it) and those RPCs.\n"
        "OPS: Mapping[str, OpInfo] = {\n"
    )
    for op in service.ops:
        out.append(
            f'    "{op.name}": OpInfo(\n'
            f'        method="{op.method}",\n'
            f"        capability={cls}.{_member(op.capability)},\n"
            f"        rpcs={_tuple(op.rpcs)},\n"
            "    ),\n"
        )
    out.append("}\n\n")
    out.append(
        "#: Bridge op -> plugin method name: what the plugin host calls.\n"
        "OP_METHODS: Mapping[str, str] = {op: info.method for op, info in OPS.items()}\n"
    )
    return "".join(out)


_COMMON = """\
\"\"\"Record types shared by the generated pattern modules.\"\"\"

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Permission(StrEnum):
    \"\"\"The permission an RPC requires on its namespace (prism.Permission).\"\"\"

{members}

@dataclass(frozen=True, slots=True)
class MethodInfo:
    \"\"\"The prism options of one RPC.\"\"\"

    name: str
    #: The gRPC path, e.g. /prism.keyvalue.v1.KeyValue/Get.
    path: str
    permission: Permission
    #: Applying it twice has the effect of applying it once: it may be retried.
    idempotent: bool
    #: Its responses may be served from the proxy's read cache.
    cacheable: bool
    #: The pattern capability a backend must claim to serve it.
    capability: str
    #: The bridge op a Python plugin serves it through ("" if none).
    op: str


@dataclass(frozen=True, slots=True)
class OpInfo:
    \"\"\"How the plugin host serves one bridge op.\"\"\"

    #: The plugin method the host calls.
    method: str
    #: The capability a backend needs before the op can reach it.
    capability: str
    #: The RPCs served through this op.
    rpcs: tuple[str, ...]
"""


def common_module(model: Model) -> str:
    members = "".join(f'    {p} = "{p.lower()}"\n' for p in model.permissions)
    return header((OPTIONS_PROTO,)) + _COMMON.replace("{members}", members)


def init_module(model: Model) -> str:
    modules = [s.pattern for s in model.services]
    capabilities = "".join(
        f'    "{s.pattern}": {_tuple(s.capabilities)},\n' for s in model.services
    )

    def merged(name: str) -> str:
        return "".join(f"    **{m}.{name},\n" for m in modules)

    return (
        header(model.sources)
        + '"""Pattern metadata generated from the annotated protos: capabilities, the prism\n'
        'options of every RPC and the plugin host\'s dispatch table (see tooling/codegen)."""\n\n'
        "from __future__ import annotations\n\n"
        "from collections.abc import Mapping\n\n"
        + _from_import(PACKAGE, modules)
        + _from_import(f"{PACKAGE}.common", ["MethodInfo", "OpInfo", "Permission"])
        + "\n"
        '__all__ = ["CAPABILITIES", "METHODS", "OPS", "OP_METHODS", '
        '"MethodInfo", "OpInfo", "Permission"]\n\n'
        "#: Pattern -> its capabilities, in declaration order (core first).\n"
        "CAPABILITIES: Mapping[str, tuple[str, ...]] = {\n" + capabilities + "}\n\n"
        "#: gRPC path -> the prism options of that RPC, every pattern.\n"
        "METHODS: Mapping[str, MethodInfo] = {\n"
        + "".join(f"    **{{m.path: m for m in {m}.METHODS.values()}},\n" for m in modules)
        + "}\n\n"
        "#: Bridge op -> how the plugin host serves it, every pattern.\n"
        "OPS: Mapping[str, OpInfo] = {\n" + merged("OPS") + "}\n\n"
        "#: Bridge op -> plugin method name: the plugin host's dispatch table.\n"
        "OP_METHODS: Mapping[str, str] = {\n" + merged("OP_METHODS") + "}\n"
    )


def render(model: Model) -> dict[str, str]:
    """Output path (relative to the repo root) -> content."""
    files = {f"{PACKAGE_DIR}/{s.pattern}.py": pattern_module(s) for s in model.services}
    files[f"{PACKAGE_DIR}/common.py"] = common_module(model)
    files[f"{PACKAGE_DIR}/__init__.py"] = init_module(model)
    return files
