"""Render proxy/engine/src/routes_generated.rs: the route metadata the Rust core consumes.

The text is laid out the way rustfmt lays it out under the repo's rustfmt.toml
(max_width = 110, use_small_heuristics = "Max"), so `cargo fmt` leaves it alone and never
makes check-codegen fail; tests/codegen runs rustfmt on it to keep the two in step.
"""

from __future__ import annotations

from tooling.codegen.header import header
from tooling.codegen.prism_model import Model, Rpc

PATH = "proxy/engine/src/routes_generated.rs"
MAX_WIDTH = 110  # rustfmt.toml

_PRELUDE = """\
//! Route metadata of every data RPC, read from the `prism.*` method options of the
//! annotated protos: the permission it needs, whether it may be retried, whether its
//! responses may be cached and the pattern capability a backend must claim to serve it.

/// The permission an RPC requires on its namespace (`prism.Permission`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
{variants}}

/// What the core knows about an RPC before running it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub permission: Permission,
    /// Applying it twice has the effect of applying it once, so it may be retried.
    pub idempotent: bool,
    /// Its responses may be served from the read cache.
    pub cacheable: bool,
    /// The pattern capability the namespace's backend must claim to serve it.
    pub capability: &'static str,
}

/// Every RPC by gRPC path, sorted by path so that `route` can binary-search.
pub const ROUTES: &[(&str, Route)] = &[
"""

_LOOKUP = """\
];

/// The route of a gRPC path such as `/prism.keyvalue.v1.KeyValue/Get`.
pub fn route(path: &str) -> Option<&'static Route> {
    let index = ROUTES.binary_search_by(|(p, _)| (*p).cmp(path)).ok()?;
    Some(&ROUTES[index].1)
}
"""


def _variant(permission: str) -> str:
    """READ -> Read, READ_WRITE -> ReadWrite."""
    return "".join(part.capitalize() for part in permission.split("_"))


def _entry(rpc: Rpc) -> str:
    """One `(path, Route { .. }),` element: as few lines as rustfmt would use."""
    fields = [
        f"permission: Permission::{_variant(rpc.permission)}",
        f"idempotent: {str(rpc.idempotent).lower()}",
        f"cacheable: {str(rpc.cacheable).lower()}",
        f'capability: "{rpc.capability}"',
    ]
    route = "Route { " + ", ".join(fields) + " }"
    one_line = f'    ("{rpc.path}", {route}),'
    if len(one_line) <= MAX_WIDTH:
        return one_line + "\n"
    if len(f"        {route},") <= MAX_WIDTH:
        return f'    (\n        "{rpc.path}",\n        {route},\n    ),\n'
    body = "".join(f"            {field},\n" for field in fields)
    return f'    (\n        "{rpc.path}",\n        Route {{\n{body}        }},\n    ),\n'


def render(model: Model) -> dict[str, str]:
    """Output path (relative to the repo root) -> content."""
    variants = "".join(f"    {_variant(p)},\n" for p in model.permissions)
    rpcs = sorted((rpc for s in model.services for rpc in s.rpcs), key=lambda r: r.path)
    text = (
        header(model.sources, comment="//")
        + "\n"
        + _PRELUDE.replace("{variants}", variants)
        + "".join(_entry(rpc) for rpc in rpcs)
        + _LOOKUP
    )
    return {PATH: text}
