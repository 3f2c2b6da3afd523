"""Scaffold a new Prism backend plugin package with the standard file shape.

    python -m tooling.scaffold NAME --patterns keyvalue,timeseries [--dest patterns/]

writes `patterns/NAME/` shaped like `patterns/sqlite/`: pyproject.toml (registering NAME
in the `prism.backends` entry point group), README.md and `prism_NAME/` with config,
one module per pattern, errors, health, provisioning, metadata and plugin. The pattern
methods and their signatures come from the plugin interfaces of `prism.plugins.api` and
the bridge ops generated from the annotated protos (`prism.plugins.generated`), so a new
RPC or capability in the protos shows up in the next scaffold. Every data method raises
UNIMPLEMENTED and `metadata.CAPABILITIES` claims nothing, so the gateway refuses every
call with UNIMPLEMENTED until the plugin is filled in. An existing directory is never
overwritten.
"""

from __future__ import annotations

import builtins
import collections.abc
import importlib
import inspect
import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import prism.errors
from prism.plugins import api, generated
from prism.plugins.delegating import DELEGATING

TEMPLATES = Path(__file__).resolve().parent / "templates"
NAME = re.compile(r"[a-z][a-z0-9_]*")
MAX_NAME = 32  # keeps every generated line within LINE_LENGTH
RESERVED = frozenset({"memory"})  # native to the Rust core
LINE_LENGTH = 100
INDENT = "    "
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ScaffoldError(Exception):
    """A bad name, pattern or destination; the message says what to fix."""


@dataclass(frozen=True)
class Method:
    """One data method of a pattern interface, as the plugin host calls it."""

    name: str
    params: tuple[tuple[str, str], ...]  # (name, annotation) after self
    returns: str
    doc: str  # first line of the interface's docstring
    op: str
    capability: str
    rpcs: tuple[str, ...]


@dataclass(frozen=True)
class Pattern:
    name: str  # "keyvalue"
    interface: type[api.BackendPlugin]  # api.KeyValueBackend
    methods: tuple[Method, ...]

    @property
    def title(self) -> str:  # "KeyValue"
        return self.interface.__name__.removesuffix("Backend")

    @property
    def store_class(self) -> str:
        return f"{self.title}Store"


# -- what the protos and the plugin interfaces define ------------------------------------


def _pattern_module(pattern: str) -> ModuleType:
    return importlib.import_module(f"{generated.__name__}.{pattern}")


def _interfaces() -> list[type[api.BackendPlugin]]:
    return [
        cls
        for cls in vars(api).values()
        if isinstance(cls, type)
        and issubclass(cls, api.BackendPlugin)
        and cls is not api.BackendPlugin
    ]


def load_pattern(pattern: str) -> Pattern:
    """The interface and data methods of `pattern`, checked against the generated ops."""
    if pattern not in generated.CAPABILITIES:
        raise ScaffoldError(
            f"unknown pattern {pattern!r} (the protos define: {', '.join(generated.CAPABILITIES)})"
        )
    ops = _pattern_module(pattern).OPS
    by_method = {info.method: (op, info) for op, info in ops.items()}
    lifecycle = set(api.BackendPlugin.__abstractmethods__)
    for cls in _interfaces():
        if set(cls.__abstractmethods__) - lifecycle != set(by_method):
            continue
        methods = []
        for attr in vars(cls):  # declaration order
            if attr not in by_method:
                continue
            op, info = by_method[attr]
            sig = inspect.signature(getattr(cls, attr))
            params = tuple(
                (p.name, _annotation(p.annotation, f"{cls.__name__}.{attr}({p.name})"))
                for p in list(sig.parameters.values())[1:]
            )
            doc = (inspect.getdoc(getattr(cls, attr)) or "").strip().splitlines()
            methods.append(
                Method(
                    name=attr,
                    params=params,
                    returns=_annotation(sig.return_annotation, f"{cls.__name__}.{attr}"),
                    doc=doc[0] if doc else f"Serve {op}.",
                    op=op,
                    capability=str(info.capability),
                    rpcs=tuple(info.rpcs),
                )
            )
        return Pattern(pattern, cls, tuple(methods))
    raise ScaffoldError(
        f"no plugin interface in prism.plugins.api declares exactly the methods of the "
        f"{pattern} ops ({', '.join(sorted(by_method))}); run `make codegen`?"
    )


def _annotation(value: object, where: str) -> str:
    if isinstance(value, str):  # api.py uses `from __future__ import annotations`
        return value
    if value is None or value is type(None):
        return "None"
    if isinstance(value, type):
        return value.__name__
    raise ScaffoldError(f"{where}: cannot render the annotation {value!r}")


def _module_of(name: str) -> str | None:
    """Where a name used in an annotation is imported from (None: a builtin)."""
    if name in api.__all__:
        return "prism.plugins.api"
    if hasattr(collections.abc, name):
        return "collections.abc"
    if isinstance(getattr(prism.errors, name, None), type):
        return "prism.errors"
    if hasattr(builtins, name) or name == "None":
        return None
    raise ScaffoldError(f"cannot tell where the annotation name {name!r} is imported from")


# -- rendering --------------------------------------------------------------------------


def _names_in(annotations: Iterable[str]) -> set[str]:
    return {n for a in annotations for n in _IDENTIFIER.findall(a)}


def _sort_names(names: Iterable[str]) -> list[str]:
    """isort's order-by-type: CONSTANTS, then Classes, then functions."""

    def key(n: str) -> tuple[int, str]:
        kind = 0 if n.isupper() and len(n) > 1 else 1 if n[:1].isupper() else 2
        return (kind, n)

    return sorted(set(names), key=key)


def _from_import(module: str, names: Iterable[str]) -> str:
    ordered = _sort_names(names)
    line = f"from {module} import {', '.join(ordered)}"
    if len(line) <= LINE_LENGTH:
        return line
    body = "".join(f"{INDENT}{n},\n" for n in ordered)
    return f"from {module} import (\n{body})"


def _import_block(package: str, groups: Mapping[str, Iterable[str]], local: Sequence[str]) -> str:
    """Sections separated by blank lines: stdlib, then prism, then the plugin package."""
    stdlib = sorted(m for m in groups if not m.startswith("prism"))
    host = sorted(m for m in groups if m.startswith("prism"))
    sections = [
        "\n".join(_from_import(m, groups[m]) for m in stdlib),
        "\n".join(_from_import(m, groups[m]) for m in host),
        "\n".join(local),
    ]
    return "\n\n".join(s for s in sections if s)


def _group(names: Iterable[str], extra: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    groups: dict[str, set[str]] = {m: set(ns) for m, ns in extra.items()}
    for n in names:
        module = _module_of(n)
        if module is not None:
            groups.setdefault(module, set()).add(n)
    return groups


def _def(method: Method, indent: str = INDENT) -> str:
    """`async def name(self, ...) -> R:` wrapped the way ruff format wraps it."""
    params = ["self", *(f"{n}: {a}" for n, a in method.params)]
    head, tail = f"{indent}async def {method.name}(", f") -> {method.returns}:"
    one = head + ", ".join(params) + tail
    if len(one) <= LINE_LENGTH:
        return one
    inner = indent + INDENT
    middle = inner + ", ".join(params)
    if len(middle) <= LINE_LENGTH:
        return f"{head}\n{middle}\n{indent}{tail}"
    body = "".join(f"{inner}{p},\n" for p in params)
    return f"{head}\n{body}{indent}{tail}"


def _call(head: str, args: Sequence[str]) -> str:
    """`head(args)` wrapped the way ruff format wraps a call (head starts indented)."""
    one = f"{head}({', '.join(args)})"
    if len(one) <= LINE_LENGTH:
        return one
    indent = head[: len(head) - len(head.lstrip())] + INDENT
    middle = indent + ", ".join(args)
    if len(middle) <= LINE_LENGTH:
        return f"{head}(\n{middle}\n{indent[: -len(INDENT)]})"
    body = "".join(f"{indent}{a},\n" for a in args)
    return f"{head}(\n{body}{indent[: -len(INDENT)]})"


def _store_method(method: Method, backend: str) -> str:
    rpcs = ", ".join(method.rpcs)
    message = f'"backend {backend!r} does not implement {method.op} yet"'
    return (
        f"\n{_def(method)}\n"
        f'{INDENT * 2}"""{method.doc}\n\n'
        f"{INDENT * 2}Bridge op {method.op}: RPCs {rpcs}; capability {method.capability}.\n"
        f'{INDENT * 2}"""\n'
        f"{_call(INDENT * 2 + 'raise Unimplemented', [message])}\n"
    )


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_") if part)


def _render(template: str, **values: str) -> str:
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    return string.Template(text).substitute(values)


def render(name: str, patterns: Sequence[str]) -> dict[str, str]:
    """Relative path -> content of every file of the new plugin package."""
    check_name(name)
    if not patterns:
        raise ScaffoldError("give at least one pattern, e.g. --patterns keyvalue,timeseries")
    chosen = [load_pattern(p) for p in dict.fromkeys(patterns)]
    package, camel = f"prism_{name}", _camel(name)
    config_class, plugin_class = f"{camel}Config", f"{camel}Plugin"
    titles = " and ".join(p.title for p in chosen)
    common = {"name": name, "package": package, "config_class": config_class}

    files: dict[str, str] = {}
    for p in chosen:
        names = _names_in(
            [a for m in p.methods for _, a in m.params] + [m.returns for m in p.methods]
        )
        imports = _import_block(
            package,
            _group(names, {"prism.errors": ["Unimplemented"]}),
            [f"from {package}.config import {config_class}"],
        )
        methods = "".join(_store_method(m, name) for m in p.methods)
        files[f"{package}/{p.name}.py"] = _render(
            "pattern.py.tmpl",
            **common,
            title=p.title,
            pattern=p.name,
            interface=p.interface.__name__,
            store_class=p.store_class,
            imports=imports,
            methods=methods,
        )

    local = [
        f"from {package} import health as health_check",
        f"from {package} import metadata",
        f"from {package}.config import {config_class}",
        f"from {package}.provisioning import provision",
        *(f"from {package}.{p.name} import {p.store_class}" for p in chosen),
    ]
    bases = [DELEGATING[p.name] for p in chosen]
    plugin_imports = _import_block(
        package,
        _group(
            set(),
            {
                "collections.abc": ["Mapping"],
                "typing": ["Any", "ClassVar"],
                "prism.plugins.delegating": [base.__name__ for base, _ in bases],
            },
        ),
        sorted(local, key=lambda line: line.split(" import ")[0]),
    )
    files[f"{package}/plugin.py"] = _render(
        "plugin.py.tmpl",
        **common,
        pattern_titles=titles,
        plugin_class=plugin_class,
        imports=plugin_imports,
        bases=", ".join(base.__name__ for base, _ in bases),
        store_fields="".join(
            f"{INDENT * 2}self.{attr}: {p.store_class} | None = None\n"
            for p, (_, attr) in zip(chosen, bases, strict=True)
        )
        + f"{INDENT * 2}self._started = False\n",
        store_starts="".join(
            f"{INDENT * 2}self.{attr} = {p.store_class}(self.config, self.namespace)\n"
            for p, (_, attr) in zip(chosen, bases, strict=True)
        ).rstrip("\n"),
        store_closes="".join(f"{INDENT * 2}self.{attr} = None\n" for _, attr in bases).rstrip("\n"),
    )
    available = "\n".join(
        f"{p.name} capabilities (from the protos): {', '.join(generated.CAPABILITIES[p.name])}"
        for p in chosen
    )
    files[f"{package}/metadata.py"] = _render(
        "metadata.py.tmpl",
        **common,
        available=f"\n{available}",
        capabilities="\n".join(
            f'{INDENT}"{p.name}": frozenset(),  # e.g. frozenset({{"core"}})' for p in chosen
        ),
    )
    for template in ("__init__.py", "config.py", "errors.py", "health.py", "provisioning.py"):
        files[f"{package}/{template}"] = _render(
            f"{template}.tmpl", **common, pattern_titles=titles, plugin_class=plugin_class
        )
    pattern_files = ", ".join(f"`{p.name}.py`" for p in chosen)
    files["pyproject.toml"] = _render(
        "pyproject.toml.tmpl", **common, pattern_titles=titles, plugin_class=plugin_class
    )
    files["README.md"] = _render(
        "README.md.tmpl",
        **common,
        pattern_titles=titles,
        plugin_class=plugin_class,
        pattern_files=pattern_files,
        claims_list="\n".join(f"- {p.name}: none yet (refused with UNIMPLEMENTED)" for p in chosen),
        pattern_rows="\n".join(
            f"| `{p.name}.py` | the {p.title} methods (`{p.store_class}`) |" for p in chosen
        ),
    )
    return files


def check_name(name: str) -> None:
    if not NAME.fullmatch(name) or len(name) > MAX_NAME:
        raise ScaffoldError(
            f"invalid backend name {name!r}: use 1-{MAX_NAME} lower case letters, digits and _, "
            "starting with a letter (it names the entry point and the package prism_NAME)"
        )
    if name in RESERVED:
        raise ScaffoldError(f"backend name {name!r} is reserved (a native backend)")


def scaffold(
    name: str,
    patterns: Sequence[str],
    dest: Path,
    echo: Callable[[str], object] = lambda _: None,
) -> Path:
    """Write the package into dest/NAME; refuses to touch an existing path."""
    files = render(name, patterns)  # validates before anything is written
    root = dest / name
    if root.exists():
        raise ScaffoldError(f"{root} already exists; scaffold never overwrites")
    for rel, content in sorted(files.items()):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        echo(f"  wrote {path}")
    return root
